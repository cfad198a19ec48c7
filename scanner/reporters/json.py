"""The JSON report: every finding (passes included), coverage and summary."""

from __future__ import annotations

import json
from typing import Any

from scanner.findings import ScanResult
from scanner.reporters.base import (
    OUTPUT_SCHEMA_VERSION,
    Reporter,
    comparison_to_dict,
    coverage_to_list,
    finding_to_dict,
    skipped_to_list,
)


def result_to_dict(result: ScanResult) -> dict[str, Any]:
    """The JSON document of a scan (also stored in evidence bundles)."""
    counts = result.counts()
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
        },
        "findings": [finding_to_dict(f) for f in result.findings],
        "coverage": coverage_to_list(result),
        "skipped": skipped_to_list(result),
    }
    comparison = comparison_to_dict(result)
    if comparison is not None:
        doc["comparison"] = comparison
    if result.scope:
        doc["scope"] = dict(result.scope)
    return doc


class JsonReporter(Reporter):
    """Deterministic JSON: sorted keys, stable finding order."""

    name = "json"

    def render(self, result: ScanResult) -> str:
        """Pretty JSON with a trailing newline."""
        return json.dumps(result_to_dict(result), indent=2, sort_keys=True) + "\n"
