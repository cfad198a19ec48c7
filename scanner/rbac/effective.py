"""Effective RBAC permissions: who may do what, where, and through which binding and role.

Built once per inventory (roles and bindings indexed by key and subject), then asked per
subject (``grants``) or per request (``who_can``). Semantics are those of the Kubernetes RBAC
authorizer: a RoleBinding grants only in its own namespace even when it binds a ClusterRole;
a ClusterRoleBinding grants everywhere, and is the only way to reach cluster-scoped resources
and non-resource URLs; an aggregated ClusterRole's rules are the union of the rules of the
ClusterRoles its ``aggregationRule.clusterRoleSelectors`` select.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from scanner import kinds
from scanner.inventory import Inventory
from scanner.rbac.builtin import BUILTIN_CLUSTER_ROLES, KUBERNETES_SYSTEM_ROLES
from scanner.rbac.model import ALL, BindingInfo, Grant, PolicyRule, RoleKey, Subject

RBAC_GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")
AUTHENTICATED = Subject("Group", "system:authenticated")
UNAUTHENTICATED = Subject("Group", "system:unauthenticated")
ALL_SERVICE_ACCOUNTS = Subject("Group", "system:serviceaccounts")
SA_USER_PREFIX = "system:serviceaccount:"

#: (API group, resource) pairs that are not namespaced, beyond the kinds table.
_EXTRA_CLUSTER_SCOPED = {
    ("", "nodes"),
    ("", "persistentvolumes"),
    ("", "componentstatuses"),
    ("", "users"),
    ("", "groups"),
    ("", "userextras"),
    ("", "uids"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("apiregistration.k8s.io", "apiservices"),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "volumeattachments"),
    ("networking.k8s.io", "ingressclasses"),
    ("node.k8s.io", "runtimeclasses"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("velero.io", "serverstatusrequests"),
}


_CLUSTER_SCOPED = frozenset(
    _EXTRA_CLUSTER_SCOPED | {(k.group, k.plural) for k in kinds.KINDS if not k.namespaced}
)


def is_cluster_scoped(group: str, resource: str) -> bool:
    """Cluster-scoped resources can be reached only through a ClusterRoleBinding."""
    return (group, resource) in _CLUSTER_SCOPED


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        return False
    if any(labels.get(str(k)) != str(v) for k, v in match_labels.items()):
        return False
    for expr in selector.get("matchExpressions") or ():
        if not isinstance(expr, Mapping):
            return False
        key, op = str(expr.get("key", "")), expr.get("operator")
        values = [str(v) for v in expr.get("values") or ()]
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(str(op), False)
        if not ok:
            return False
    return True


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class RoleInfo:
    """A Role or ClusterRole with its declared rules and aggregation selectors."""

    key: RoleKey
    rules: tuple[PolicyRule, ...]
    labels: Mapping[str, str]
    #: ``None`` unless the ClusterRole has an ``aggregationRule``.
    selectors: tuple[Mapping[str, Any], ...] | None = None
    index: int = -1

    @classmethod
    def from_body(cls, kind: str, namespace: str, body: Mapping[str, Any], index: int) -> RoleInfo:
        """Read a Role/ClusterRole manifest; malformed parts allow nothing."""
        meta = _mapping(body.get("metadata"))
        labels = _mapping(meta.get("labels"))
        raw_rules = body.get("rules")
        raw_rules = raw_rules if isinstance(raw_rules, list) else []
        rules = tuple(PolicyRule.from_body(r) for r in raw_rules if isinstance(r, Mapping))
        selectors: tuple[Mapping[str, Any], ...] | None = None
        agg = body.get("aggregationRule")
        if kind == "ClusterRole" and isinstance(agg, Mapping):
            raw = agg.get("clusterRoleSelectors") or []
            selectors = tuple(s for s in raw if isinstance(s, Mapping))
        key = RoleKey(kind, str(meta.get("name", "")), namespace if kind == "Role" else "")
        return cls(key, rules, {str(k): str(v) for k, v in labels.items()}, selectors, index)


@dataclass(frozen=True)
class Request:
    """A question ``who can VERB RESOURCE [in NAMESPACE]`` (or a non-resource URL)."""

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    #: ``None`` asks about any namespace; a name restricts to grants that cover it.
    namespace: str | None = None
    url: str = ""

    def display(self) -> str:
        """kubectl-like text of the request."""
        if self.url:
            return f"{self.verb} {self.url}"
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        if self.subresource:
            what += f"/{self.subresource}"
        where = f" in namespace {self.namespace}" if self.namespace is not None else ""
        return f"{self.verb} {what}{where}"


@dataclass
class RbacIndex:
    """Roles by key, bindings by subject, aggregated rules memoised per role."""

    roles: dict[RoleKey, RoleInfo] = field(default_factory=dict)
    bindings: list[BindingInfo] = field(default_factory=list)
    #: Bindings that could not be fully resolved, as human sentences.
    problems: list[str] = field(default_factory=list)
    #: The same sentences by inventory index of the binding (for ``facts.rbacBinding``).
    problems_by_binding: dict[int, list[str]] = field(default_factory=dict)
    #: Bindings to Kubernetes' own ``system:`` ClusterRoles that the scanner does not model.
    unmodelled: list[str] = field(default_factory=list)
    service_accounts: set[Subject] = field(default_factory=set)
    #: Roles managed outside the inventory (``params.externalRoles``): ClusterRole names or
    #: ``namespace/name`` of Roles, globs allowed. A binding to one is not a problem.
    external_roles: tuple[str, ...] = ()
    _by_subject: dict[Subject, list[BindingInfo]] = field(default_factory=dict)
    _rules: dict[RoleKey, tuple[tuple[RoleKey, int, PolicyRule], ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, inventory: Inventory, *, builtins: bool = True, external_roles: Sequence[str] = ()
    ) -> RbacIndex:
        """Index every Role, ClusterRole, RoleBinding and ClusterRoleBinding of an inventory."""
        index = cls(external_roles=tuple(str(r) for r in external_roles))
        for i in inventory.of_kind("Role", "ClusterRole", groups=[RBAC_GROUP]):
            res = inventory.resources[i]
            info = RoleInfo.from_body(res.ref.kind, res.ref.namespace, res.body, i)
            index.roles[info.key] = info  # defined twice: kubectl applies the last one
        if builtins:
            for body in BUILTIN_CLUSTER_ROLES:
                info = RoleInfo.from_body("ClusterRole", "", body, -1)
                index.roles.setdefault(info.key, info)
        last: dict[tuple[str, str, str], int] = {}  # a binding defined twice: the last applies
        for i in inventory.of_kind("RoleBinding", "ClusterRoleBinding", groups=[RBAC_GROUP]):
            ref = inventory.resources[i].ref
            last[(ref.kind, ref.namespace, ref.name)] = i
        for i in sorted(last.values()):
            res = inventory.resources[i]
            index._add_binding(res.ref.kind, res.ref.namespace, res.ref.name, res.body, i)
        for i in inventory.of_kind("ServiceAccount", groups=[""]):
            ref = inventory.resources[i].ref
            if ref.namespace:
                index.service_accounts.add(Subject("ServiceAccount", ref.name, ref.namespace))
        return index

    def _add_binding(
        self, kind: str, namespace: str, name: str, body: Mapping[str, Any], index: int
    ) -> None:
        what = f"{kind} {namespace}/{name}" if kind == "RoleBinding" else f"{kind} {name}"
        ref = _mapping(body.get("roleRef"))
        role_kind, role_name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if role_kind not in ("Role", "ClusterRole") or (
            kind == "ClusterRoleBinding" and role_kind != "ClusterRole"
        ):
            self._problem(index, what, f"roleRef kind {role_kind!r} is invalid; grants nothing")
            return
        key = RoleKey(role_kind, role_name, namespace if role_kind == "Role" else "")
        if key not in self.roles:
            if role_kind == "ClusterRole" and role_name in KUBERNETES_SYSTEM_ROLES:
                self.unmodelled.append(
                    f"{what}: {key.display()} is a Kubernetes built-in role "
                    "this scanner does not model; counted as granting nothing"
                )
            elif self._is_external(key):
                self.unmodelled.append(
                    f"{what}: {key.display()} is managed outside the repository "
                    "(params.externalRoles); counted as granting nothing"
                )
            else:
                self._problem(index, what, f"{key.display()} not found; grants nothing")
        subjects = self._subjects(what, body.get("subjects"), namespace, index)
        binding = BindingInfo(
            kind, name, namespace if kind == "RoleBinding" else "", key, subjects, index
        )
        self.bindings.append(binding)
        for subject in dict.fromkeys(subjects):
            self._by_subject.setdefault(subject, []).append(binding)

    def _is_external(self, key: RoleKey) -> bool:
        name = f"{key.namespace}/{key.name}" if key.kind == "Role" else key.name
        return any(fnmatchcase(name, pattern) for pattern in self.external_roles)

    def is_cluster_admin(self, key: RoleKey) -> bool:
        """Cluster-admin is a set of permissions, not a name: some effective rule allows
        every verb on every resource of every API group."""
        return any(
            ALL in rule.verbs and ALL in rule.api_groups and ALL in rule.resources
            for _, _, rule in self.rules_of(key)
        )

    def _problem(self, index: int, what: str, message: str) -> None:
        self.problems.append(f"{what}: {message}")
        self.problems_by_binding.setdefault(index, []).append(message)

    def _subjects(self, what: str, raw: Any, namespace: str, index: int) -> tuple[Subject, ...]:
        found: list[Subject] = []
        for s in raw if isinstance(raw, list) else ():
            if not isinstance(s, Mapping):
                continue
            kind, name = str(s.get("kind", "")), str(s.get("name", ""))
            if kind not in SUBJECT_KINDS or not name:
                self._problem(index, what, f"subject kind {kind!r} name {name!r} is invalid")
                continue
            if kind == "ServiceAccount":
                ns = str(s.get("namespace") or namespace)
                if not ns:
                    self._problem(index, what, f"ServiceAccount {name} has no namespace")
                    continue
                found.append(Subject(kind, name, ns))
            elif kind == "User" and name.startswith(SA_USER_PREFIX) and name.count(":") == 3:
                _, _, ns, sa = name.split(":")
                found.append(Subject("ServiceAccount", sa, ns))
            else:
                found.append(Subject(kind, name))
        return tuple(found)

    def subjects(self) -> list[Subject]:
        """Every subject a binding names, plus every ServiceAccount object, sorted."""
        return sorted(set(self._by_subject) | self.service_accounts)

    def bindings_of(self, subject: Subject) -> list[BindingInfo]:
        """Bindings that name this subject directly."""
        return list(self._by_subject.get(subject, ()))

    def rules_of(self, key: RoleKey) -> tuple[tuple[RoleKey, int, PolicyRule], ...]:
        """(source role, rule index, rule) of a role, following aggregation transitively."""
        cached = self._rules.get(key)
        if cached is None:
            cached = self._resolve(key, frozenset())
            self._rules[key] = cached
        return cached

    def _resolve(
        self, key: RoleKey, visiting: frozenset[RoleKey]
    ) -> tuple[tuple[RoleKey, int, PolicyRule], ...]:
        info = self.roles.get(key)
        if info is None:
            return ()
        if info.selectors is None:
            return tuple((key, i, rule) for i, rule in enumerate(info.rules))
        # The aggregation controller replaces the rules with the union of the selected roles'.
        found: dict[PolicyRule, tuple[RoleKey, int, PolicyRule]] = {}
        for other in sorted(self._aggregated_by(info)):
            if other in visiting or other == key:
                continue
            cached = self._rules.get(other)
            for entry in cached if cached is not None else self._resolve(other, visiting | {key}):
                found.setdefault(entry[2], entry)
        return tuple(found.values())

    def _aggregated_by(self, info: RoleInfo) -> Iterable[RoleKey]:
        for other in self.roles.values():
            if other.key.kind == "ClusterRole" and any(
                selector_matches(s, other.labels) for s in info.selectors or ()
            ):
                yield other.key

    def memberships(self, subject: Subject) -> list[Subject]:
        """The subject itself and the groups the API server puts it in."""
        if subject.kind == "ServiceAccount":
            return [
                subject,
                ALL_SERVICE_ACCOUNTS,
                Subject("Group", f"system:serviceaccounts:{subject.namespace}"),
                AUTHENTICATED,
            ]
        if subject.kind == "User":
            implicit = UNAUTHENTICATED if subject.name == "system:anonymous" else AUTHENTICATED
            return [subject, implicit]
        if subject in (AUTHENTICATED, UNAUTHENTICATED):
            return [subject]
        extra = [ALL_SERVICE_ACCOUNTS] if subject.name.startswith("system:serviceaccounts:") else []
        return [subject, *extra, AUTHENTICATED]

    def grants(self, subject: Subject) -> list[Grant]:
        """Every rule that reaches a subject, directly or through its groups."""
        found: list[Grant] = []
        for member in self.memberships(subject):
            for binding in self._by_subject.get(member, ()):
                for source, i, rule in self.rules_of(binding.role):
                    found.append(Grant(binding, rule, source, i, member))
        return found

    def who_can(self, request: Request, *, members: bool = True) -> list[tuple[Subject, Grant]]:
        """Subjects allowed the request, each with a grant that allows it.

        Subjects a binding names come first-hand; with ``members``, every other subject the
        inventory knows (named in some binding, or a ServiceAccount object) that belongs to
        an allowed group is listed too, its grant's ``via`` naming the group.
        """
        cluster_only = bool(request.url) or is_cluster_scoped(request.group, request.resource)
        found: list[tuple[Subject, Grant]] = []
        for binding in self.bindings:
            if not binding.cluster_wide and (
                cluster_only
                or (request.namespace is not None and binding.namespace != request.namespace)
            ):
                continue
            for source, i, rule in self.rules_of(binding.role):
                if not _allows(rule, request):
                    continue
                for subject in dict.fromkeys(binding.subjects):
                    found.append((subject, Grant(binding, rule, source, i, subject)))
        if members:
            found.extend(self._members_of(found))
        return sorted(found, key=lambda sg: (sg[0], sg[1].chain(sg[0])))

    def _members_of(self, found: list[tuple[Subject, Grant]]) -> list[tuple[Subject, Grant]]:
        groups: dict[Subject, list[Grant]] = {}
        for subject, grant in found:
            if subject.kind == "Group":
                groups.setdefault(subject, []).append(grant)
        extra: list[tuple[Subject, Grant]] = []
        if not groups:
            return extra
        for subject in self.subjects():
            for group in self.memberships(subject)[1:]:
                extra.extend((subject, grant) for grant in groups.get(group, ()))
        return extra


def _allows(rule: PolicyRule, request: Request) -> bool:
    if request.url:
        return rule.allows_url(request.verb, request.url)
    return rule.allows_some_name(request.verb, request.group, request.resource, request.subresource)
