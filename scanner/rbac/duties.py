"""Duties (sets of permissions an organisation names) and the conflicts between them.

Read from the ``duties`` and ``dutyConflicts`` parameters (shipped defaults in
``rules/params.yaml``). A duty is held when any permission of its ``anyOf`` and every
permission of its ``allOf`` is granted; a permission is held when some verb on some resource
of some API group it lists is granted in a namespace its scope covers. A duty with
``impliesAll: true`` (``change-rbac``) counts as holding every duty: whoever can rewrite
RBAC can grant themselves anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

from scanner.environment import is_production
from scanner.errors import ConfigError
from scanner.rbac.effective import is_cluster_scoped
from scanner.rbac.model import Grant, PolicyRule, Subject

PRODUCTION = "production"
ANY_NAMESPACE = "*"


class DutyConfigError(ConfigError):
    """The ``duties`` or ``dutyConflicts`` parameter is malformed (exit 2)."""


@dataclass(frozen=True)
class Permission:
    """Verbs x apiGroups x resources, within a namespace scope."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    #: ``("*",)`` any namespace, ``("production",)`` the production namespaces, else globs.
    namespaces: tuple[str, ...] = (ANY_NAMESPACE,)

    @cached_property
    def cluster_only(self) -> bool:
        """Every resource it names is cluster-scoped (reachable only cluster-wide)."""
        return all(
            is_cluster_scoped(g, r.partition("/")[0])
            for g in self.api_groups
            for r in self.resources
        )

    def held_by(self, rule: PolicyRule) -> bool:
        """The rule allows at least one (verb, group, resource) of this permission."""
        for resource in self.resources:
            res, _, sub = resource.partition("/")
            for group in self.api_groups:
                for verb in self.verbs:
                    if rule.allows_some_name(verb, group, res, sub):
                        return True
        return False

    def covers(
        self,
        grant: Grant,
        params: Mapping[str, Any],
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> bool:
        """The grant applies where this permission asks (cluster-scoped needs cluster-wide)."""
        if grant.binding.cluster_wide:
            return True
        if self.cluster_only:
            return False
        ns = grant.binding.namespace
        for scope in self.namespaces:
            if scope == ANY_NAMESPACE or (
                scope == PRODUCTION and is_production(ns, params, (labels or {}).get(ns))
            ):
                return True
            if scope != PRODUCTION and fnmatchcase(ns, scope):
                return True
        return False

    def display(self) -> str:
        """Short text for messages."""
        groups = ",".join(g or "core" for g in self.api_groups)
        return f"{'/'.join(self.verbs)} {groups}:{','.join(self.resources)} in " + (
            ",".join(self.namespaces)
        )


@dataclass(frozen=True)
class Duty:
    """A named set of permissions, e.g. ``deploy-to-production``."""

    name: str
    description: str
    any_of: tuple[Permission, ...] = ()
    all_of: tuple[Permission, ...] = ()
    implies_all: bool = False


@dataclass(frozen=True)
class Conflict:
    """Duties no single subject may hold together, and why."""

    duties: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class DutyConfig:
    """Validated duty definitions and conflicts."""

    duties: Mapping[str, Duty]
    conflicts: tuple[Conflict, ...]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DutyConfig:
        """Validate the parameters; errors name the offending key."""
        raw = params.get("duties")
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise DutyConfigError("params.duties must be a mapping of duty name to definition")
        duties = {str(name): _duty(str(name), body) for name, body in raw.items()}
        conflicts = tuple(
            _conflict(i, c, duties) for i, c in enumerate(_list(params, "dutyConflicts"))
        )
        return cls(duties, conflicts)


def _list(params: Mapping[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DutyConfigError(f"params.{key} must be a list")
    return value


def _strings(where: str, value: Any, default: Sequence[str] | None = None) -> tuple[str, ...]:
    if value is None and default is not None:
        return tuple(default)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise DutyConfigError(f"{where} must be a non-empty list of strings")
    return tuple(value)


def _permission(where: str, body: Any) -> Permission:
    if not isinstance(body, Mapping):
        raise DutyConfigError(f"{where} must be a mapping with verbs, apiGroups, resources")
    unknown = set(body) - {"verbs", "apiGroups", "resources", "namespaces"}
    if unknown:
        raise DutyConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return Permission(
        verbs=_strings(f"{where}.verbs", body.get("verbs")),
        api_groups=_strings(f"{where}.apiGroups", body.get("apiGroups"), [""]),
        resources=_strings(f"{where}.resources", body.get("resources")),
        namespaces=_strings(f"{where}.namespaces", body.get("namespaces"), [ANY_NAMESPACE]),
    )


def _duty(name: str, body: Any) -> Duty:
    where = f"params.duties.{name}"
    if not isinstance(body, Mapping):
        raise DutyConfigError(f"{where} must be a mapping")
    unknown = set(body) - {"description", "anyOf", "allOf", "impliesAll"}
    if unknown:
        raise DutyConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    sections = {}
    for key in ("anyOf", "allOf"):
        items = body.get(key)
        items = [] if items is None else items
        if not isinstance(items, list):
            raise DutyConfigError(f"{where}.{key} must be a list of permissions")
        sections[key] = tuple(_permission(f"{where}.{key}[{i}]", p) for i, p in enumerate(items))
    if not sections["anyOf"] and not sections["allOf"]:
        raise DutyConfigError(f"{where} needs anyOf or allOf permissions")
    return Duty(
        name,
        str(body.get("description", "")),
        sections["anyOf"],
        sections["allOf"],
        bool(body.get("impliesAll", False)),
    )


def _conflict(i: int, body: Any, duties: Mapping[str, Duty]) -> Conflict:
    where = f"params.dutyConflicts[{i}]"
    if isinstance(body, list):
        body = {"duties": body}
    if not isinstance(body, Mapping):
        raise DutyConfigError(f"{where} must be a list of duty names or {{duties, reason}}")
    names = _strings(f"{where}.duties", body.get("duties"))
    if len(set(names)) < 2:
        raise DutyConfigError(f"{where}.duties must name at least two different duties")
    missing = [n for n in names if n not in duties]
    if missing:
        raise DutyConfigError(f"{where}: unknown duty {', '.join(missing)}")
    return Conflict(names, str(body.get("reason", "")))


@dataclass(frozen=True)
class HeldDuty:
    """A duty a subject holds, with the grant chains that give it."""

    name: str
    chains: tuple[str, ...]
    #: The duty that implies this one (``change-rbac``), if it is held only by implication.
    implied_by: str = ""


class DutyEvaluator:
    """Duties of subjects under one configuration; memoises which permissions each rule holds.

    The same rule object reaches many subjects through shared roles, so each rule is matched
    against every permission once per analysis (keyed by identity: the index keeps the rules
    alive for the evaluator's lifetime).
    """

    def __init__(
        self,
        config: DutyConfig,
        params: Mapping[str, Any],
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.config = config
        self.params = params
        self.namespace_labels = dict(namespace_labels or {})
        perms = [p for d in config.duties.values() for p in (*d.any_of, *d.all_of)]
        self._perms = tuple(dict.fromkeys(perms))
        self._ids = {p: i for i, p in enumerate(self._perms)}
        self._held: dict[int, tuple[PolicyRule, frozenset[int]]] = {}

    def _rule_perms(self, rule: PolicyRule) -> frozenset[int]:
        entry = self._held.get(id(rule))
        if entry is None or entry[0] is not rule:
            entry = (rule, frozenset(i for i, p in enumerate(self._perms) if p.held_by(rule)))
            self._held[id(rule)] = entry
        return entry[1]

    def held_duties(self, grants: Sequence[Grant], subject: Subject) -> list[HeldDuty]:
        """Duties the grants add up to, in name order (implied ones carry the implying chains)."""
        matched = [(g, self._rule_perms(g.rule)) for g in grants]
        matched = [(g, ids) for g, ids in matched if ids]
        direct: dict[str, tuple[str, ...]] = {}
        for name, duty in self.config.duties.items():
            chains = self._direct(duty, matched, subject)
            if chains:
                direct[name] = chains
        implying = sorted(n for n in direct if self.config.duties[n].implies_all)
        held: list[HeldDuty] = []
        for name in sorted(self.config.duties):
            if name in direct:
                held.append(HeldDuty(name, direct[name]))
            elif implying:
                held.append(HeldDuty(name, direct[implying[0]], implied_by=implying[0]))
        return held

    def _chains(
        self, perm: Permission, matched: Sequence[tuple[Grant, frozenset[int]]], subject: Subject
    ) -> list[str]:
        pid = self._ids[perm]
        return [
            g.chain(subject)
            for g, ids in matched
            if pid in ids and perm.covers(g, self.params, self.namespace_labels)
        ]

    def _direct(
        self, duty: Duty, matched: Sequence[tuple[Grant, frozenset[int]]], subject: Subject
    ) -> tuple[str, ...]:
        chains: list[str] = []
        if duty.any_of:
            found = [c for p in duty.any_of for c in self._chains(p, matched, subject)]
            if not found:
                return ()
            chains.extend(found)
        for perm in duty.all_of:
            found = self._chains(perm, matched, subject)
            if not found:
                return ()
            chains.extend(found)
        return tuple(dict.fromkeys(chains))


def held_duties(
    config: DutyConfig, grants: Sequence[Grant], subject: Subject, params: Mapping[str, Any]
) -> list[HeldDuty]:
    """Duties one subject's grants add up to (see :class:`DutyEvaluator`)."""
    return DutyEvaluator(config, params).held_duties(grants, subject)


def conflicts_of(
    config: DutyConfig, held: Sequence[HeldDuty]
) -> list[tuple[Conflict, list[HeldDuty]]]:
    """Configured conflicts whose every duty is held."""
    by_name = {h.name: h for h in held}
    return [
        (c, [by_name[d] for d in c.duties])
        for c in config.conflicts
        if all(d in by_name for d in c.duties)
    ]
