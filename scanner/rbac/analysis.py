"""Per-subject duty analysis and the subjects x duties matrix, as plain data.

Every consumer (the analyzer that feeds LG-RBAC-100, the ``ledgergate rbac`` commands, the
evidence bundle) starts from an :class:`~scanner.inventory.Inventory`, so the same answers come
out of a repository, a live cluster or a snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from scanner.inventory import Inventory
from scanner.model import Origin
from scanner.rbac.duties import Conflict, DutyConfig, DutyEvaluator, HeldDuty, conflicts_of
from scanner.rbac.effective import RbacIndex
from scanner.rbac.model import Grant, Subject


@dataclass(frozen=True)
class SubjectReport:
    """What one subject may do, the duties that adds up to, and the conflicts among them."""

    subject: Subject
    grants: tuple[Grant, ...]
    duties: tuple[HeldDuty, ...]
    conflicts: tuple[tuple[Conflict, tuple[HeldDuty, ...]], ...]
    #: Inventory index of the first binding (by file and line) that grants the subject anything.
    origin_index: int
    problems: tuple[str, ...] = ()
    #: Files of the bindings and roles that give the subject anything: a change to any of
    #: them can change its duties (what a pre-merge gate should treat as touching it).
    files: tuple[str, ...] = ()

    def chains_of(self, duty: HeldDuty) -> list[str]:
        """Grant chains of a duty (prefixed when the duty is only implied)."""
        if duty.implied_by:
            return [f"{duty.implied_by} (implies every duty): {c}" for c in duty.chains]
        return list(duty.chains)

    def to_fact(self) -> dict[str, Any]:
        """``facts.rbacSubject`` as rules read it."""
        conflicts: list[dict[str, Any]] = []
        evidence: list[dict[str, str]] = []
        for conflict, held in self.conflicts:
            label = " + ".join(conflict.duties)
            chains = {h.name: self.chains_of(h) for h in held}
            conflicts.append(
                {"duties": list(conflict.duties), "reason": conflict.reason, "chains": chains}
            )
            for name, items in chains.items():
                evidence.extend({"path": f"conflicts[{label}].{name}", "value": c} for c in items)
        return {
            "subject": self.subject.id,
            "kind": self.subject.kind,
            "name": self.subject.name,
            "namespace": self.subject.namespace,
            "duties": [d.name for d in self.duties],
            "dutyChains": {d.name: self.chains_of(d) for d in self.duties},
            "conflicts": conflicts,
            "conflictEvidence": evidence,
            "problems": list(self.problems),
            "files": list(self.files),
        }


@dataclass(frozen=True)
class RbacAnalysis:
    """The index and every subject's report."""

    index: RbacIndex
    config: DutyConfig
    subjects: tuple[SubjectReport, ...]

    def report_for(self, subject: Subject) -> SubjectReport | None:
        """The report of one subject, if the inventory names it."""
        return next((r for r in self.subjects if r.subject == subject), None)


def _origin_key(inventory: Inventory, index: int) -> tuple[str, int, str, int]:
    origin: Origin = inventory.resources[index].origin
    return (origin.path, origin.start_line, origin.uid, index)


def _origin_index(
    inventory: Inventory, index: RbacIndex, subject: Subject, grants: list[Grant]
) -> int:
    candidates = {g.binding.index for g in grants if g.binding.index >= 0}
    candidates |= {b.index for b in index.bindings_of(subject) if b.index >= 0}
    if not candidates and subject.kind == "ServiceAccount":
        candidates = {
            i
            for i in inventory.of_kind("ServiceAccount", groups=[""])
            if inventory.resources[i].ref.name == subject.name
            and inventory.resources[i].ref.namespace == subject.namespace
        }
    if not candidates:
        return -1
    return min(candidates, key=lambda i: _origin_key(inventory, i))


def subject_report(
    inventory: Inventory, index: RbacIndex, evaluator: DutyEvaluator, subject: Subject
) -> SubjectReport:
    """Grants, duties and conflicts of one subject."""
    grants = index.grants(subject)
    duties = evaluator.held_duties(grants, subject)
    conflicts = tuple((c, tuple(h)) for c, h in conflicts_of(evaluator.config, duties))
    names = {b.display() for m in index.memberships(subject) for b in index.bindings_of(m)}
    problems = tuple(p for p in index.problems if any(p.startswith(f"{n}: ") for n in names))
    return SubjectReport(
        subject,
        tuple(grants),
        tuple(duties),
        conflicts,
        _origin_index(inventory, index, subject, grants),
        problems,
        _files(inventory, index, grants),
    )


def _files(inventory: Inventory, index: RbacIndex, grants: list[Grant]) -> tuple[str, ...]:
    found: set[int] = set()
    for grant in grants:
        found.add(grant.binding.index)
        for key in (grant.binding.role, grant.source):
            role = index.roles.get(key)
            if role is not None:
                found.add(role.index)
    paths = {inventory.resources[i].origin.path for i in found if i >= 0}
    return tuple(sorted(p for p in paths if p))


def analyze(inventory: Inventory, params: Mapping[str, Any]) -> RbacAnalysis:
    """Every subject of the inventory; raises :class:`DutyConfigError` on bad duty params."""
    config = DutyConfig.from_params(params)
    external = params.get("externalRoles") or ()
    index = RbacIndex.build(inventory, external_roles=[str(r) for r in external])
    evaluator = DutyEvaluator(config, params, inventory.namespace_labels())
    reports = [subject_report(inventory, index, evaluator, s) for s in index.subjects()]
    return RbacAnalysis(index, config, tuple(_with_argocd(inventory, params, config, reports)))


def _with_argocd(
    inventory: Inventory,
    params: Mapping[str, Any],
    config: DutyConfig,
    reports: list[SubjectReport],
) -> list[SubjectReport]:
    """Add the duties Argo CD's own RBAC gives (syncing production apps deploys)."""
    from scanner.rbac import argocd

    extra = argocd.argo_duties(inventory, params)
    if not extra:
        return reports
    by_subject = {r.subject: r for r in reports}
    merged: list[SubjectReport] = []
    for subject in sorted(set(by_subject) | set(extra)):
        report = by_subject.get(subject) or SubjectReport(
            subject, (), (), (), argocd.origin_of(inventory, subject)
        )
        more = {d: c for d, c in extra.get(subject, {}).items() if d in config.duties}
        if more:
            held = {h.name: h for h in report.duties}
            for name, chains in more.items():
                before = held.get(name)
                kept = before.chains if before and not before.implied_by else ()
                held[name] = HeldDuty(name, tuple(dict.fromkeys((*kept, *chains))))
            duties = tuple(held[n] for n in sorted(held))
            conflicts = tuple((c, tuple(h)) for c, h in conflicts_of(config, duties))
            report = replace(report, duties=duties, conflicts=conflicts)
        merged.append(report)
    return merged


def duty_matrix(inventory: Inventory, params: Mapping[str, Any]) -> dict[str, Any]:
    """Subjects x duties as plain data for the evidence bundle (sorted, deterministic).

    ``{"duties": [{name, description}], "conflicts": [{duties, reason}],
    "subjects": [{subject, kind, name, namespace, duties: {duty: {held, impliedBy, chains}},
    "conflicts": [[duty, ...]]}]}``
    """
    analysis = analyze(inventory, params)
    duty_names = sorted(analysis.config.duties)
    rows = []
    for report in analysis.subjects:
        held = {d.name: d for d in report.duties}
        cells = {
            name: {
                "held": name in held,
                "impliedBy": held[name].implied_by if name in held else "",
                "chains": report.chains_of(held[name]) if name in held else [],
            }
            for name in duty_names
        }
        rows.append(
            {
                "subject": report.subject.id,
                "kind": report.subject.kind,
                "name": report.subject.name,
                "namespace": report.subject.namespace,
                "duties": cells,
                "conflicts": [list(c.duties) for c, _ in report.conflicts],
            }
        )
    return {
        "duties": [
            {"name": n, "description": analysis.config.duties[n].description} for n in duty_names
        ],
        "conflicts": [
            {"duties": list(c.duties), "reason": c.reason} for c in analysis.config.conflicts
        ],
        "subjects": rows,
    }
