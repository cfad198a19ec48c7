"""Argo CD's own RBAC as a source of duties for separation of duties.

Whoever may sync a production Application changes what runs in production, whatever
Kubernetes RBAC says: Argo CD's controller does the writing. Policies come from the
``argocd-rbac-cm`` ConfigMap (``policy.csv``, ``policy.<name>.csv``, ``policy.default``)
and from AppProject roles (``spec.roles[].policies`` and ``groups``), with Argo CD's
semantics: ``p, subject, resource, action, object, effect`` lines, ``g, member, role``
lines (transitively), the built-in ``role:admin`` and ``role:readonly``, globs in the
object (``project/app``), and ``deny`` winning over ``allow``. Which Argo CD actions add
up to which duty is ``params.argocdDuties``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from scanner.environment import is_production
from scanner.inventory import Inventory
from scanner.rbac.model import Subject
from scanner.yamlutil import mapping

RBAC_CM = "argocd-rbac-cm"
#: How findings name ``policy.default``: the role every Argo CD user gets.
EVERYONE = "argocd:every-user"
ARGO = "argoproj.io"
#: Argo CD's built-in roles (argo-cd assets/builtin-policy.csv), reduced to applications.
BUILTIN = {
    "role:admin": [("applications", "*", "*/*", "allow")],
    "role:readonly": [("applications", "get", "*/*", "allow")],
}


@dataclass(frozen=True)
class Policy:
    """One ``p`` line, with where it was read."""

    subject: str
    resource: str
    action: str
    obj: str
    effect: str
    where: str


@dataclass
class ArgoRbac:
    """Policies and role memberships read from the inventory."""

    policies: list[Policy]
    members: dict[str, set[str]]
    origins: dict[str, int]

    def roles_of(self, subject: str) -> list[str]:
        """The subject and every role it is in, transitively (``policy.default`` for all)."""
        found, todo = [subject], [subject, "*"]
        while todo:
            for role in sorted(self.members.get(todo.pop(), ())):
                if role not in found:
                    found.append(role)
                    todo.append(role)
        return found

    def allowed(self, subject: str, action: str, obj: str) -> list[str]:
        """Chains that allow ``action`` on ``obj`` (empty when denied or not allowed)."""
        allow: list[str] = []
        for role in self.roles_of(subject):
            for p in [*self._policies_of(role)]:
                if p.resource not in ("applications", "*"):
                    continue
                if not _action_matches(p.action, action) or not fnmatchcase(obj, p.obj):
                    continue
                if p.effect == "deny":
                    return []
                via = "" if role == subject else f"{subject} in {role} -> "
                allow.append(f"{p.where}: {via}p, {p.subject}, {p.resource}, {p.action}, {p.obj}")
        return allow

    def _policies_of(self, role: str) -> Iterable[Policy]:
        yield from (p for p in self.policies if p.subject == role)
        for resource, action, obj, effect in BUILTIN.get(role, ()):
            yield Policy(role, resource, action, obj, effect, f"Argo CD built-in {role}")


def _action_matches(pattern: str, action: str) -> bool:
    return pattern == "*" or fnmatchcase(action, pattern)


def read(inventory: Inventory) -> ArgoRbac:
    """Every Argo CD policy the inventory holds."""
    rbac = ArgoRbac([], {}, {})
    for i in inventory.of_kind("ConfigMap", groups=[""]):
        res = inventory.resources[i]
        if res.ref.name != RBAC_CM:
            continue
        data = mapping(res.body.get("data"))
        where = f"ConfigMap {res.ref.namespace}/{RBAC_CM}"
        for key in sorted(
            k for k in data if k == "policy.csv" or (k.startswith("policy.") and k.endswith(".csv"))
        ):
            _parse_csv(rbac, str(data[key]), f"{where} {key}", i)
        default = str(data.get("policy.default") or "")
        if default:
            rbac.members.setdefault("*", set()).add(default)
            rbac.origins.setdefault("*", i)
    for i in inventory.of_kind("AppProject", groups=[ARGO]):
        res = inventory.resources[i]
        spec = mapping(res.body.get("spec"))
        for role in spec.get("roles") or ():
            if not isinstance(role, Mapping):
                continue
            name = f"proj:{res.ref.name}:{role.get('name', '')}"
            where = f"AppProject {res.ref.namespace}/{res.ref.name} role {role.get('name', '')}"
            _parse_csv(rbac, "\n".join(str(p) for p in role.get("policies") or ()), where, i)
            for group in role.get("groups") or ():
                rbac.members.setdefault(str(group), set()).add(name)
                rbac.origins.setdefault(str(group), i)
    return rbac


def _parse_csv(rbac: ArgoRbac, text: str, where: str, index: int) -> None:
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        cells = [c.strip() for c in row]
        if len(cells) >= 5 and cells[0] == "p":
            effect = cells[5].lower() if len(cells) > 5 else "allow"
            rbac.policies.append(Policy(cells[1], cells[2], cells[3], cells[4], effect, where))
        elif len(cells) >= 3 and cells[0] == "g":
            rbac.members.setdefault(cells[1], set()).add(cells[2])
            rbac.origins.setdefault(cells[1], index)


def production_apps(inventory: Inventory, params: Mapping[str, Any]) -> list[str]:
    """``project/name`` of every Application that deploys to a production namespace."""
    found = []
    for i in inventory.of_kind("Application", groups=[ARGO]):
        res = inventory.resources[i]
        spec = mapping(res.body.get("spec"))
        dest = mapping(spec.get("destination"))
        if is_production(str(dest.get("namespace") or ""), params):
            found.append(f"{spec.get('project') or 'default'}/{res.ref.name}")
    return sorted(found)


def argo_duties(
    inventory: Inventory, params: Mapping[str, Any]
) -> dict[Subject, dict[str, list[str]]]:
    """Subject -> duty -> chains, for every Argo CD subject that may act on production apps."""
    rbac = read(inventory)
    apps = production_apps(inventory, params)
    mapping = params.get("argocdDuties") or {}
    found: dict[Subject, dict[str, list[str]]] = {}
    for subject in sorted(rbac.members):
        if subject.startswith(("role:", "proj:")):
            continue
        who = Subject(
            "User" if "@" in subject else "Group", subject if subject != "*" else EVERYONE
        )
        for duty, actions in sorted(mapping.items()):
            chains = [
                f"{chain} (Application {app})"
                for action in actions or ()
                for app in apps
                for chain in rbac.allowed(subject, str(action), app)
            ]
            if chains:
                found.setdefault(who, {})[str(duty)] = sorted(set(chains))
    return found


def origin_of(inventory: Inventory, subject: Subject) -> int:
    """Inventory index of the object that first names the subject (-1 if none)."""
    name = "*" if subject.name == EVERYONE else subject.name
    return read(inventory).origins.get(name, -1)
