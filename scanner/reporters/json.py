"""The JSON report: every finding (passes included), coverage and summary."""

from __future__ import annotations

import json
from typing import Any

from scanner.findings import ScanResult
from scanner.reporters.base import OUTPUT_SCHEMA_VERSION, Reporter, finding_to_dict


def result_to_dict(result: ScanResult) -> dict[str, Any]:
    """The JSON document of a scan (also stored in evidence bundles)."""
    counts = result.counts()
    return {
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
        "coverage": [
            {"source": c.source, "target": c.target, "reason": c.reason, "kinds": list(c.kinds)}
            for c in result.coverage
        ],
        "skipped": [
            {"path": s.origin.path, "line": s.origin.start_line, "reason": s.reason}
            for s in result.skipped
        ],
    }


class JsonReporter(Reporter):
    """Deterministic JSON: sorted keys, stable finding order."""

    name = "json"

    def render(self, result: ScanResult) -> str:
        """Pretty JSON with a trailing newline."""
        return json.dumps(result_to_dict(result), indent=2, sort_keys=True) + "\n"
