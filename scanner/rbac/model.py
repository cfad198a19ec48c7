"""RBAC values: subjects, policy rules and the grant chains that explain a permission.

Matching follows the Kubernetes authorizer (``pkg/apis/rbac/v1/evaluation_helpers.go``)
exactly, so that what the scanner says a subject may do is what the API server allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Verbs whose requests carry no object name, so a ``resourceNames`` rule never allows them.
NAMELESS_VERBS = frozenset({"create", "deletecollection"})
ALL = "*"


@dataclass(frozen=True, order=True)
class Subject:
    """A User, Group or ServiceAccount as a binding names it (namespace only for SAs)."""

    kind: str
    name: str
    namespace: str = ""

    @property
    def id(self) -> str:
        """``User/jane``, ``Group/oidc:dba``, ``ServiceAccount/finance-prod/odoo``."""
        if self.kind == "ServiceAccount":
            return f"ServiceAccount/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def username(self) -> str:
        """The name the API server authenticates (``system:serviceaccount:ns:name`` for SAs)."""
        if self.kind == "ServiceAccount":
            return f"system:serviceaccount:{self.namespace}:{self.name}"
        return self.name

    @classmethod
    def parse(cls, text: str) -> Subject:
        """``KIND/NAME`` (``ServiceAccount/NS/NAME`` or ``ServiceAccount/NS:NAME``)."""
        kind, sep, rest = text.partition("/")
        canonical = {k.lower(): k for k in ("User", "Group", "ServiceAccount")}
        kind = canonical.get(kind.lower(), "")
        if not sep or not rest or not kind:
            raise ValueError(f"{text!r}: expected User/NAME, Group/NAME or ServiceAccount/NS/NAME")
        if kind != "ServiceAccount":
            return cls(kind, rest)
        ns, sep2, name = rest.partition("/") if "/" in rest else rest.partition(":")
        if not sep2 or not ns or not name:
            raise ValueError(f"{text!r}: a ServiceAccount is ServiceAccount/NAMESPACE/NAME")
        return cls(kind, name, ns)


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value if isinstance(v, str | int))


@dataclass(frozen=True)
class PolicyRule:
    """One entry of a Role's or ClusterRole's ``rules``."""

    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, data: Mapping[str, Any]) -> PolicyRule:
        """Read one rule mapping; wrong types read as empty (which allows nothing)."""
        return cls(
            verbs=_strs(data.get("verbs")),
            api_groups=_strs(data.get("apiGroups")),
            resources=_strs(data.get("resources")),
            resource_names=_strs(data.get("resourceNames")),
            non_resource_urls=_strs(data.get("nonResourceURLs")),
        )

    def verb_matches(self, verb: str) -> bool:
        """``*`` or the exact verb."""
        return ALL in self.verbs or verb in self.verbs

    def group_matches(self, group: str) -> bool:
        """``*`` or the exact API group (``""`` is the core group)."""
        return ALL in self.api_groups or group in self.api_groups

    def resource_matches(self, resource: str, subresource: str = "") -> bool:
        """``*``, exact ``resource[/subresource]``, or ``*/subresource``."""
        combined = f"{resource}/{subresource}" if subresource else resource
        for rr in self.resources:
            if rr in (ALL, combined):
                return True
            if subresource and rr == f"*/{subresource}":
                return True
        return False

    def name_matches(self, name: str) -> bool:
        """No ``resourceNames`` allows any name; otherwise only the listed names."""
        return not self.resource_names or name in self.resource_names

    def allows(
        self, verb: str, group: str, resource: str, subresource: str = "", name: str = ""
    ) -> bool:
        """The authorizer's ``RuleAllows`` for a resource request."""
        return (
            self.verb_matches(verb)
            and self.group_matches(group)
            and self.resource_matches(resource, subresource)
            and self.name_matches(name)
        )

    def allows_some_name(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """Allows the request for at least one object name (what ``who-can`` and duties ask)."""
        if self.resource_names and verb in NAMELESS_VERBS:
            return False
        return (
            self.verb_matches(verb)
            and self.group_matches(group)
            and self.resource_matches(resource, subresource)
        )

    def allows_url(self, verb: str, path: str) -> bool:
        """Non-resource URL match: ``*``, exact, or a trailing ``*`` prefix."""
        if not self.verb_matches(verb):
            return False
        for url in self.non_resource_urls:
            if url in (ALL, path):
                return True
            if url.endswith(ALL) and path.startswith(url[:-1]):
                return True
        return False

    def display(self) -> str:
        """Compact, kubectl-like text of the rule."""
        parts = [f"verbs={','.join(self.verbs)}"]
        if self.non_resource_urls:
            parts.append(f"nonResourceURLs={','.join(self.non_resource_urls)}")
        if self.resources or self.api_groups:
            groups = ",".join(g or '""' for g in self.api_groups)
            parts.append(f"apiGroups={groups}")
            parts.append(f"resources={','.join(self.resources)}")
        if self.resource_names:
            parts.append(f"resourceNames={','.join(self.resource_names)}")
        return " ".join(parts)


def _display(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


@dataclass(frozen=True, order=True)
class RoleKey:
    """A Role (with namespace) or ClusterRole (namespace ``""``)."""

    kind: str
    name: str
    namespace: str = ""

    def display(self) -> str:
        """``Role ns/name`` or ``ClusterRole name``."""
        return _display(self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class BindingInfo:
    """A RoleBinding or ClusterRoleBinding, reduced to what authorization needs."""

    kind: str
    name: str
    namespace: str
    role: RoleKey
    subjects: tuple[Subject, ...]
    #: Index of the binding in the inventory, or -1 for built-in bindings.
    index: int = -1

    @property
    def cluster_wide(self) -> bool:
        """ClusterRoleBindings grant in every namespace and on cluster-scoped resources."""
        return self.kind == "ClusterRoleBinding"

    def display(self) -> str:
        """``RoleBinding ns/name`` or ``ClusterRoleBinding name``."""
        return _display(self.kind, self.namespace, self.name)


@dataclass(frozen=True)
class Grant:
    """One rule reaching a subject: binding -> role (-> aggregated source role) -> rule[i]."""

    binding: BindingInfo
    rule: PolicyRule
    #: The role whose ``rules`` list holds the rule (differs from the bound role when aggregated).
    source: RoleKey
    rule_index: int
    #: The subject the binding names (a group the subject belongs to, or the subject itself).
    via: Subject

    @property
    def namespace(self) -> str:
        """Where the grant applies: the binding's namespace, or ``""`` for cluster-wide."""
        return "" if self.binding.cluster_wide else self.binding.namespace

    def covers_namespace(self, namespace: str) -> bool:
        """A cluster-wide grant covers every namespace; a RoleBinding only its own."""
        return self.binding.cluster_wide or self.binding.namespace == namespace

    def chain(self, holder: Subject | None = None) -> str:
        """``RoleBinding ns/b -> ClusterRole r -> rule[0]`` (naming aggregation and group)."""
        role = self.binding.role.display()
        if self.source != self.binding.role:
            role += f" (aggregates {self.source.display()})"
        via = f" [via Group {self.via.name}]" if holder is not None and holder != self.via else ""
        return f"{self.binding.display()} -> {role} -> rule[{self.rule_index}]{via}"

    def scope(self) -> str:
        """``cluster-wide`` or ``namespace NS``."""
        return (
            "cluster-wide" if self.binding.cluster_wide else f"namespace {self.binding.namespace}"
        )
