"""Auditor extras of a report, read back from a bundle's own files.

Control titles and objectives (``controls.json``), test procedures (``rules.json``),
the separation-of-duties matrix and the population file name: the report at write
time and ``ledgergate report`` later read the same files, so both render the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from scanner.evidence.auditor import CONTROLS, RULES
from scanner.evidence.population import population_name
from scanner.evidence.sodmatrix import CSV_NAME as SOD_CSV
from scanner.evidence.sodmatrix import read_matrix_csv
from scanner.model import Severity
from scanner.reporters.view import ReportView


def _json(files: Mapping[str, bytes], name: str) -> Mapping[str, Any]:
    try:
        data = json.loads(files[name]) if name in files else {}
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, Mapping) else {}


def with_audit(view: ReportView, files: Mapping[str, bytes]) -> ReportView:
    """The view with the bundle's catalogue, procedures, SoD matrix and population."""
    frameworks = _json(files, CONTROLS).get("frameworks") or {}
    rules = {
        str(r.get("id")): r
        for r in _json(files, RULES).get("rules") or ()
        if isinstance(r, Mapping)
    }
    header: list[str] = []
    rows: list[list[str]] = []
    if SOD_CSV in files:
        header, rows = read_matrix_csv(files[SOD_CSV].decode("utf-8", "replace"))
    audit = {
        "frameworks": frameworks,
        "rules": rules,
        "sod": {"header": header, "rows": rows, "file": SOD_CSV} if header else None,
        "population": population_name(files),
    }
    return replace(view, audit=audit)


def control_info(view: ReportView, framework: str, control: str) -> Mapping[str, str]:
    """Title and objective of a control from the bundle's catalogue (empty when unknown)."""
    fw = (view.audit.get("frameworks") or {}).get(framework) or {}
    found = (fw.get("controls") or {}).get(control)
    return found if isinstance(found, Mapping) else {}


#: Status words for readers who are not engineers.
STATUS_WORDS = {
    "fail": "failed",
    "error": "could not be checked",
    "waived": "waived",
    "pass": "passed",
    "not-evaluated": "not evaluated (no resource in scope)",
}
SEVERITIES = tuple(s.value for s in Severity)  # most severe first
#: Items listed under each rule of a control; the rest are in the findings section and
#: the population file (a nightly estate has thousands per rule).
ITEMS_PER_RULE = 25

_EXCLUDED = "rule excluded: "


def not_evaluated_word(reason: str) -> str:
    """The plain words for a control nothing judged, with the scope's reason:
    ``not evaluated (excluded: LG-X-001)``, ``not evaluated (no resource in scope for ...)``."""
    if reason.startswith(_EXCLUDED):
        return f"not evaluated (excluded: {reason[len(_EXCLUDED) :]})"
    return f"not evaluated ({reason})" if reason else STATUS_WORDS["not-evaluated"]


def not_evaluated_reasons(view: ReportView) -> dict[tuple[str, str], str]:
    """(framework, control) -> why nothing judged it, from the recorded scope."""
    scope = view.doc.get("scope") or {}
    return {
        (str(c.get("framework")), str(c.get("control"))): str(c.get("reason") or "")
        for c in scope.get("notEvaluated") or ()
        if isinstance(c, Mapping)
    }


def severity_counts(view: ReportView) -> list[tuple[str, int, int]]:
    """(severity, failed, could not be checked) for the executive summary."""
    rows = []
    for sev in SEVERITIES:
        found = [f for f in view.problems if f.get("severity") == sev]
        rows.append(
            (
                sev,
                sum(1 for f in found if f.get("status") == "fail"),
                sum(1 for f in found if f.get("status") == "error"),
            )
        )
    return rows


def framework_tree(view: ReportView) -> list[dict[str, Any]]:
    """Framework -> control (objective) -> rule (procedure) -> items that did not pass."""
    frameworks = view.audit.get("frameworks") or {}
    rules = view.audit.get("rules") or {}
    passed: dict[str, int] = {}
    for f in view.doc.get("findings", ()):
        if f.get("status") == "pass":
            passed[str(f.get("ruleId"))] = passed.get(str(f.get("ruleId")), 0) + 1
    for p in view.doc.get("passes", ()):  # a document that counts its plain passes
        passed[str(p["ruleId"])] = passed.get(str(p["ruleId"]), 0) + int(p["count"])
    open_by_rule: dict[str, list[Mapping[str, Any]]] = {}
    for f in view.problems:
        open_by_rule.setdefault(str(f.get("ruleId")), []).append(f)
    reasons = not_evaluated_reasons(view)
    rows = [(r.framework, r.control, r.status, r.rules) for r in view.controls]
    listed = {(r[0], r[1]) for r in rows}
    for (framework, control), _reason in sorted(reasons.items()):
        if (framework, control) not in listed:  # every rule for it excluded: no row at all
            rows.append((framework, control, "not-evaluated", ()))
    rows.sort(key=lambda r: r[0])  # stable: each framework's controls keep their order
    tree: list[dict[str, Any]] = []
    for framework, control, status, rule_ids in rows:
        if not tree or tree[-1]["id"] != framework:
            fw = frameworks.get(framework) or {}
            label = " ".join(p for p in (fw.get("name"), fw.get("version")) if p)
            tree.append({"id": framework, "label": label or framework, "controls": []})
        info = control_info(view, framework, control)
        entries = []
        for rule_id in rule_ids:
            rule = rules.get(rule_id) or {}
            source = rule.get("source") or {}
            wanted = {"framework": framework, "id": control}
            items = [f for f in open_by_rule.get(rule_id, ()) if wanted in f.get("controls", ())]
            entries.append(
                {
                    "id": rule_id,
                    "title": source.get("title", ""),
                    "procedure": rule.get("procedure", ""),
                    "remediation": " ".join(str(source.get("remediation", "")).split()),
                    "items": items[:ITEMS_PER_RULE],
                    "more": max(0, len(items) - ITEMS_PER_RULE),
                    "passed": passed.get(rule_id, 0),
                }
            )
        word = STATUS_WORDS.get(status, status)
        if status == "not-evaluated":
            word = not_evaluated_word(reasons.get((framework, control), ""))
        tree[-1]["controls"].append(
            {
                "id": control,
                "title": info.get("title", ""),
                "objective": info.get("objective", ""),
                "status": status,
                "word": word,
                "rules": entries,
            }
        )
    return tree
