"""``rules.json`` and ``controls.json``: the rules as evaluated and what their controls mean.

An auditor re-performs a test from the bundle alone: each rule's full text as loaded
(match, assert, messages), the severity and controls in force after ``ledgergate.yaml``,
and the parameters the assertions read. ``controls.json`` gives each cited control's
framework edition, title and objective from the shipped catalogue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.catalogue import RCM, catalogue_doc
from scanner.evidence.manifest import sha256
from scanner.rules import Rule


def _file_sha(rule: Rule) -> str:
    try:
        return sha256(rule.path.read_bytes())
    except OSError:
        return ""


def rules_doc(rules: Iterable[Rule], params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every rule as evaluated, with the parameters in force."""
    entries = [
        {
            "id": r.id,
            "sha256": _file_sha(r),
            "severity": r.severity.value,
            "controls": [{"framework": c.framework, "id": c.id} for c in r.controls],
            "procedure": r.procedure,
            "source": dict(r.source),
        }
        for r in sorted(rules, key=lambda r: r.id)
    ]
    return {"schemaVersion": "1.0", "params": dict(params or {}), "rules": entries}


def controls_doc(rules: Iterable[Rule], rcm_name: str = "") -> dict[str, Any]:
    """The catalogue entries of every control the rules cite, plus the RCM ids used."""
    used = {(c.framework, c.id) for r in rules for c in r.controls}
    doc = catalogue_doc(used)
    rcm = sorted(cid for fw, cid in used if fw == RCM)
    if rcm:
        doc["frameworks"][RCM] = {
            "name": rcm_name or "Organisation risk and control matrix",
            "version": "",
            "controls": {cid: {"title": "", "objective": ""} for cid in rcm},
        }
    return doc
