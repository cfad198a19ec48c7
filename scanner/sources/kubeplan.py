"""Which kinds a cluster scan reads: those the selected rules match, plus Namespaces.

The same function drives the source and the nightly-audit ClusterRole test, so the
ServiceAccount is granted exactly what the scanner requests and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scanner import kinds
from scanner.kinds import KindInfo
from scanner.model import SYNTHETIC_GROUP
from scanner.rules import Rule

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
    rules: Iterable[Rule],
    context: Iterable[tuple[str, str]] = (),
    synthesised: Iterable[tuple[str, str]] = (),
) -> Plan:
    """Resolve rules' ``match.kinds`` (a cross product of groups and kinds) against KINDS.

    ``context`` adds the (group, kind) pairs analyzers read (``Analyzer.reads``);
    ``synthesised`` names the synthetic kinds analyzers make (``Analyzer.synthesises``),
    which are judged in a cluster scan too and so are not file-only.
    """
    made = set(synthesised)
    wanted: dict[tuple[str, str], KindInfo] = {}
    file_only: set[tuple[str, str]] = set()
    asked_by_kind: dict[str, set[str]] = {}
    for rule in rules:
        for group, kind in rule.match.kinds:
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
