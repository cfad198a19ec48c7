"""The JSON report: failures, errors and waived findings in full, passes counted per rule.

Every pass in full is what made a nightly report of 50k objects weigh half a gigabyte; an
auditor samples passes from the evidence bundle's population file instead, where what a
pass recorded (the GitOps owner and revision an object runs) is the ``observed`` column.
The bundle's own ``findings.json`` is this same document (:func:`report_doc`): the
population points at the findings it lists and at the judged object in
``inventory.json`` for the rest.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from scanner import jsontext
from scanner.findings import ScanResult
from scanner.model import Finding, Status
from scanner.reporters.base import (
    OUTPUT_SCHEMA_VERSION,
    Reporter,
    comparison_to_dict,
    coverage_to_list,
    finding_to_dict,
    skipped_to_list,
)


def listed(f: Finding) -> bool:
    """Whether the slim document lists a finding in full: every one but a pass (a pass's
    recorded evidence is in the bundle's population file, and counted per rule here)."""
    return f.status is not Status.PASS


def _every(f: Finding) -> bool:
    return True


def lister(result: ScanResult) -> Callable[[Finding], bool]:
    """Which findings the report lists in full: :func:`listed`, or every one for an image
    scan (its verdicts are per image, a handful: each pass is the answer)."""
    return _every if result.target.get("type") == "image" else listed


#: The last :func:`report_doc`, while its result lives: ``--json`` and ``--evidence`` of
#: one scan share it (a nightly estate's took seconds to build, twice).
_last: list[tuple[weakref.ref[ScanResult], dict[str, Any]]] = []


def report_doc(result: ScanResult) -> dict[str, Any]:
    """The document the JSON reporter writes and the bundle's ``findings.json`` holds
    (built once per result; callers only read it)."""
    if _last and _last[0][0]() is result:
        return _last[0][1]
    doc = result_to_dict(result, full=result.target.get("type") == "image")
    ref = weakref.ref(result)
    _last[:] = [(ref, doc)]
    weakref.finalize(result, _forget, ref)
    return doc


def _forget(ref: weakref.ref[ScanResult]) -> None:
    """Drop the cached document of a result that is gone (not a later result's)."""
    _last[:] = [entry for entry in _last if entry[0] is not ref]


def pass_counts(result: ScanResult) -> list[dict[str, Any]]:
    """Passes not listed, per rule, with the rule's controls so a report can credit them,
    and ``recorded``: how many of them recorded evidence (in the population's ``observed``)."""
    counts: Counter[str] = Counter()
    recorded: Counter[str] = Counter()
    for f in result.findings:
        if not listed(f):
            counts[f.rule_id] += 1
            if f.evidence:
                recorded[f.rule_id] += 1
    controls = {r.id: r.controls for r in result.rules}
    return [
        {
            "ruleId": rule_id,
            "count": counts[rule_id],
            "controls": [{"framework": c.framework, "id": c.id} for c in controls.get(rule_id, ())],
            **({"recorded": recorded[rule_id]} if recorded[rule_id] else {}),
        }
        for rule_id in sorted(counts)
    ]


def result_to_dict(result: ScanResult, *, full: bool = False) -> dict[str, Any]:
    """The JSON document of a scan; ``full`` lists passes one by one too (an image scan's,
    and the bundles earlier versions wrote)."""
    counts = result.counts()
    shown = result.findings if full else [f for f in result.findings if listed(f)]
    shared: dict[Any, Any] = {}  # parts findings on one object and rule share, read-only
    doc: dict[str, Any] = {
        "schemaVersion": OUTPUT_SCHEMA_VERSION,
        "tool": {"name": "ledgergate", "version": result.tool_version},
        "target": dict(result.target),
        "started": result.started,
        "finished": result.finished,
        "summary": {
            "resources": result.resources_scanned,
            "rules": len(result.rules),
            **{s: counts.get(s, 0) for s in ("fail", "error", "waived", "pass")},
            **(
                {"notEvaluated": counts[Status.NOT_EVALUATED]}
                if counts[Status.NOT_EVALUATED]
                else {}
            ),
        },
        "findings": [finding_to_dict(f, shared) for f in shown],
        "coverage": coverage_to_list(result),
        "skipped": skipped_to_list(result),
    }
    if not full:
        doc["passes"] = pass_counts(result)
    comparison = comparison_to_dict(result)
    if comparison is not None:
        doc["comparison"] = comparison
    if result.scope:
        doc["scope"] = dict(result.scope)
    return doc


def render_json(doc: Mapping[str, Any]) -> str:
    """A findings document as the JSON reporter writes it (pretty, sorted keys)."""
    return jsontext.dumps(doc) + "\n"


def encode_json(doc: Mapping[str, Any]) -> bytes:
    """:func:`render_json` as UTF-8 bytes without a text copy in between (the bundle's
    ``findings.json`` is the largest file a nightly scan writes)."""
    return jsontext.dumpb(doc) + b"\n"


class JsonReporter(Reporter):
    """Deterministic JSON: sorted keys, stable finding order."""

    name = "json"

    def __init__(self, full: bool = False) -> None:
        super().__init__()
        self.full = full

    def render(self, result: ScanResult) -> str:
        """Pretty JSON with a trailing newline."""
        if self.full:
            return render_json(result_to_dict(result, full=True))
        return render_json(report_doc(result))
