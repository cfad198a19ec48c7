"""What the human-facing reports show, built from the findings JSON document alone.

HTML, Markdown and ``controls.csv`` all read this view, so a bundle re-rendered from
its ``findings.json`` says exactly what the scan said: nothing is re-evaluated.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A control's status is the worst outcome of the findings that evidence it: a control
#: one of whose rules was not evaluated (an input not enabled) has not passed.
NOT_EVALUATED = "not-evaluated"
STATUS_ORDER = ("error", "fail", "waived", NOT_EVALUATED, "pass")
OPEN_STATUSES = ("fail", "error")


@dataclass(frozen=True)
class ControlRow:
    """One framework control and the outcomes of the rules mapped to it."""

    framework: str
    control: str
    status: str
    counts: Mapping[str, int]
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ReportView:
    """Everything a human-facing report renders."""

    doc: Mapping[str, Any]
    controls: tuple[ControlRow, ...]
    problems: tuple[Mapping[str, Any], ...]
    waivers: tuple[Mapping[str, str], ...]
    bundle: Mapping[str, Any] | None = None
    frameworks: tuple[tuple[str, Mapping[str, int]], ...] = field(default=())
    #: Passed findings listed with the evidence they recorded (an image scan's verdicts).
    recorded: tuple[Mapping[str, Any], ...] = ()
    #: Per rule, how many counted passes recorded evidence (e.g. the GitOps owner and
    #: revision an object runs): the values are in the bundle's population file.
    recorded_counts: tuple[Mapping[str, Any], ...] = ()
    #: Auditor extras read back from a bundle (catalogue, procedures, SoD matrix, time).
    audit: Mapping[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> Mapping[str, int]:
        """Counts by status from the findings document."""
        given = self.doc.get("summary")
        keys = ("fail", "error", "waived", "pass", "resources", "rules")
        return {k: 0 for k in keys} | (dict(given) if isinstance(given, Mapping) else {})


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def control_rows(
    findings: Iterable[Mapping[str, Any]],
    catalogue: Iterable[Mapping[str, Any]] = (),
    passes: Iterable[Mapping[str, Any]] = (),
) -> tuple[ControlRow, ...]:
    """One row per (framework, control): status, counts and the rules mapped to it.

    ``passes`` are the per-rule pass counts of a document that does not list passes."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    rules: dict[tuple[str, str], set[str]] = {}
    for rule in catalogue:
        for c in rule.get("controls", ()):
            key = (str(c["framework"]), str(c["id"]))
            counts.setdefault(key, {s: 0 for s in STATUS_ORDER})
            rules.setdefault(key, set()).add(str(rule["id"]))
    for f in findings:
        for c in f.get("controls", ()):
            key = (str(c["framework"]), str(c["id"]))
            row = counts.setdefault(key, {s: 0 for s in STATUS_ORDER})
            rules.setdefault(key, set()).add(str(f["ruleId"]))
            if f["status"] in row:
                row[f["status"]] += 1
    for p in passes:
        for c in p.get("controls", ()):
            key = (str(c["framework"]), str(c["id"]))
            counts.setdefault(key, {s: 0 for s in STATUS_ORDER})["pass"] += int(p["count"])
            rules.setdefault(key, set()).add(str(p["ruleId"]))
    out = []
    for key in sorted(counts, key=lambda k: (k[0], _natural(k[1]))):
        row = counts[key]
        status = next((s for s in STATUS_ORDER if row[s]), NOT_EVALUATED)
        out.append(ControlRow(key[0], key[1], status, row, tuple(sorted(rules[key]))))
    return tuple(out)


def _framework_summary(rows: Sequence[ControlRow]) -> tuple[tuple[str, Mapping[str, int]], ...]:
    by: dict[str, dict[str, int]] = {}
    for row in rows:
        entry = by.setdefault(row.framework, {s: 0 for s in STATUS_ORDER})
        entry[row.status] += 1
    return tuple(sorted(by.items()))


def waivers_in_force(findings: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, str], ...]:
    """Distinct waiver records carried by waived findings, with how many findings each covers."""
    seen: dict[tuple[str, ...], dict[str, str]] = {}
    covered: dict[tuple[str, ...], int] = {}
    for f in findings:
        w = f.get("waiver")
        if f.get("status") != "waived" or not w:
            continue
        key = (w.get("source", ""), w.get("ticket", ""), w.get("rule", ""))
        seen.setdefault(key, {str(k): str(v) for k, v in w.items()})
        covered[key] = covered.get(key, 0) + 1
    return tuple({**seen[k], "covers": str(covered[k])} for k in sorted(seen))


def build_view(
    doc: Mapping[str, Any],
    catalogue: Iterable[Mapping[str, Any]] = (),
    bundle: Mapping[str, Any] | None = None,
) -> ReportView:
    """The view of one findings document, optionally with the rule catalogue and bundle."""
    findings = list(doc.get("findings", ()))
    rows = control_rows(findings, catalogue, doc.get("passes", ()))
    return ReportView(
        doc=doc,
        controls=rows,
        problems=tuple(f for f in findings if f.get("status") != "pass"),
        waivers=waivers_in_force(findings),
        bundle=bundle,
        frameworks=_framework_summary(rows),
        recorded=tuple(f for f in findings if f.get("status") == "pass" and f.get("evidence")),
        recorded_counts=tuple(
            {"ruleId": str(p["ruleId"]), "count": int(p["recorded"])}
            for p in doc.get("passes", ())
            if p.get("recorded")
        ),
    )


def controls_csv(view: ReportView) -> str:
    """``controls.csv``: one row per framework control, deterministic order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["framework", "control", "status", "pass", "fail", "error", "waived", "rules"])
    for row in view.controls:
        writer.writerow(
            [
                row.framework,
                row.control,
                row.status,
                *(row.counts[s] for s in ("pass", "fail", "error", "waived")),
                " ".join(row.rules),
            ]
        )
    return buffer.getvalue()
