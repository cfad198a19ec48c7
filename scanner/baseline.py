"""A baseline: today's failures recorded as approved, time-boxed waivers in the register.

Adopting the gate on a repository that already fails must not make every pull request red
for reasons nobody can act on in it, nor hide the debt. So the failures are written as
ordinary register entries (one per resource, naming its rules), bounded like any waiver:
a named resource and file, an owner and approvers who differ from the owner, two
approvers for a critical finding, at most ``waivers.maxDays``. They show as ``waived`` in
every report; a new finding still fails, and at expiry the whole baseline fails again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner.errors import ConfigError
from scanner.model import Finding, Severity, Status
from scanner.waivers import CRITICAL_APPROVERS, GLOB_CHARS


@dataclass(frozen=True)
class Approval:
    """Who accepts the baseline, who approved it, when, until when, under which ticket."""

    owner: str
    approvers: tuple[str, ...]
    ticket: str
    approved: dt.date
    expires: dt.date


JUSTIFICATION = "Baseline: failing when Ledgergate was adopted; fix before it expires."
Key = tuple[str, str, str, str]


def _groups(findings: Iterable[Finding]) -> tuple[dict[Key, list[Finding]], list[Finding]]:
    """Failures by (kind, namespace, name, path); the ones no waiver can name apart."""
    groups: defaultdict[Key, list[Finding]] = defaultdict(list)
    skipped: list[Finding] = []
    for f in findings:
        if f.status is not Status.FAIL:
            continue
        ref, path = f.resource, f.origin.path or ""
        key = (ref.kind, ref.namespace, ref.name, path) if ref else ("", "", "", path)
        if not (key[2] or key[3]) or any(GLOB_CHARS & set(part) for part in key):
            skipped.append(f)
            continue
        groups[key].append(f)
    return dict(sorted(groups.items())), skipped


def baseline_entries(findings: Sequence[Finding], approval: Approval) -> list[dict[str, object]]:
    """Register entries for the failures; a critical one needs two distinct approvers."""
    groups, skipped = _groups(findings)
    if skipped:
        raise ConfigError(
            f"{len(skipped)} failure(s) name no resource or file a waiver can select "
            f"(first: {skipped[0].rule_id}); fix them before recording a baseline"
        )
    entries: list[dict[str, object]] = []
    for number, ((kind, namespace, name, path), group) in enumerate(groups.items(), 1):
        rules = sorted({f.rule_id for f in group})
        critical = any(f.severity is Severity.CRITICAL for f in group)
        if critical and len(set(approval.approvers)) < CRITICAL_APPROVERS:
            raise ConfigError(
                f"{path or name}: a critical failure ({', '.join(rules)}) needs "
                f"{CRITICAL_APPROVERS} distinct --approver besides the owner"
            )
        resource = {"kind": kind, "namespace": namespace, "name": name, "path": path}
        entry: dict[str, object] = {
            "id": f"BASELINE-{number:03d}",
            "rule": rules if len(rules) > 1 else rules[0],
            "resource": {k: v for k, v in resource.items() if v or (k == "namespace" and kind)},
            "justification": JUSTIFICATION,
            "ticket": approval.ticket,
            "owner": approval.owner,
            "approved": approval.approved.isoformat(),
            "expires": approval.expires.isoformat(),
        }
        if len(approval.approvers) == 1:
            entry["approver"] = approval.approvers[0]
        else:
            entry["approvers"] = list(approval.approvers)
        entries.append(entry)
    return entries


def render_register(entries: Sequence[dict[str, object]], approval: Approval) -> str:
    """The register file: a header saying what it is, then one JSON-style entry a line."""
    lines = [
        "# Baseline written by `ledgergate baseline create`: the failures present on "
        f"{approval.approved.isoformat()},",
        f"# waived until {approval.expires.isoformat()} (ticket {approval.ticket}). "
        "New findings still fail the gate.",
        "waivers:" + ("" if entries else " []"),
    ]
    lines += [f"  - {json.dumps(e, ensure_ascii=False)}" for e in entries]
    return "\n".join(lines) + "\n"
