"""Which kinds a cluster scan reads: those the selected rules match, plus Namespaces.

The same function drives the source and the nightly-audit ClusterRole test, so the
ServiceAccount is granted exactly what the scanner requests and nothing else. The rules
arrive as data (:data:`RuleKinds`, built at wiring time by :func:`matched_kinds`): a
source reads what it is told to, it does not depend on how rules are compiled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from scanner import kinds
from scanner.kinds import KindInfo, group_of
from scanner.model import SYNTHETIC_GROUP

#: Each selected rule's id and the (API group, kind) pairs its ``match.kinds`` names
#: (``*`` for any group; a kind ``*`` matches every kind of every group).
RuleKinds = Mapping[str, tuple[tuple[str, str], ...]]


class _Match(Protocol):
    @property
    def kinds(self) -> tuple[tuple[str, str], ...]: ...


class _Rule(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def match(self) -> _Match: ...


def matched_kinds(rules: Iterable[_Rule]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The :data:`RuleKinds` of compiled rules (called where the scan is wired)."""
    return {rule.id: tuple(rule.match.kinds) for rule in rules}


@dataclass
class KindIndex:
    """Which rule ids can judge a kind, memoised per kind (asked once per listed object)."""

    rule_kinds: RuleKinds
    _cache: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict, repr=False)

    def rule_ids(self, api_version: str, kind: str) -> frozenset[str]:
        """Ids of the rules whose ``match.kinds`` cover this kind."""
        key = (group_of(api_version), kind)
        found = self._cache.get(key)
        if found is None:
            found = frozenset(
                rule_id
                for rule_id, pairs in self.rule_kinds.items()
                if any(k == "*" or (k == kind and g in ("*", key[0])) for g, k in pairs)
            )
            self._cache[key] = found
        return found


#: Always read: rules see namespace labels and the production flag through them.
CONTEXT_KINDS = (("", "Namespace"),)
SECRET = ("", "Secret")
#: GitOps owners are read cluster-wide even when --namespace narrows the scan: they live in
#: their controller's namespace (argocd, flux-system) and are the provenance of the objects
#: in the selected ones.
UNFILTERED = frozenset(
    {
        ("argoproj.io", "Application"),
        ("argoproj.io", "AppProject"),
        ("kustomize.toolkit.fluxcd.io", "Kustomization"),
        ("helm.toolkit.fluxcd.io", "HelmRelease"),
        ("source.toolkit.fluxcd.io", "GitRepository"),
    }
)


@dataclass(frozen=True)
class Plan:
    """Kinds to read, and the rule kinds a cluster cannot serve (with why)."""

    wanted: tuple[KindInfo, ...]
    file_only: tuple[tuple[str, str], ...]
    unknown: tuple[tuple[str, str], ...]

    def resources(self, *, include_secrets: bool) -> set[tuple[str, str]]:
        """(API group, plural) pairs the scanner may list."""
        return {
            (k.group, k.plural)
            for k in self.wanted
            if include_secrets or (k.group, k.kind) != SECRET
        }


def plan(
    rules: RuleKinds,
    context: Iterable[tuple[str, str]] = (),
    synthesised: Iterable[tuple[str, str]] = (),
) -> Plan:
    """Resolve the rules' ``match.kinds`` (a cross product of groups and kinds) against KINDS.

    ``context`` adds the (group, kind) pairs analyzers read (``Analyzer.reads``);
    ``synthesised`` names the synthetic kinds analyzers make (``Analyzer.synthesises``),
    which are judged in a cluster scan too and so are not file-only.
    """
    made = set(synthesised)
    wanted: dict[tuple[str, str], KindInfo] = {}
    file_only: set[tuple[str, str]] = set()
    asked_by_kind: dict[str, set[str]] = {}
    for pairs in rules.values():
        for group, kind in pairs:
            if group == SYNTHETIC_GROUP:
                if (group, kind) not in made:
                    file_only.add((group, kind))
                continue
            asked_by_kind.setdefault(kind, set()).add(group)
    for kind, groups in asked_by_kind.items():
        for info in kinds.KINDS:
            if kind in ("*", info.kind) and ("*" in groups or info.group in groups) and info.plural:
                wanted[(info.group, info.kind)] = info
    unknown = {
        (group, kind)
        for kind, groups in asked_by_kind.items()
        for group in groups
        if kind != "*" and not any(k.kind == kind for k in kinds.KINDS)
    }
    for group, kind in (*CONTEXT_KINDS, *context):
        found = kinds.lookup(f"{group}/v1" if group else "v1", kind)
        if found is not None and found.plural:
            wanted[(group, kind)] = found
    ordered = tuple(sorted(wanted.values(), key=lambda k: (k.group, k.kind)))
    return Plan(ordered, tuple(sorted(file_only)), tuple(sorted(unknown)))
