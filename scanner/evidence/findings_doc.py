"""Read the findings document of a bundle or a findings.json, checking its shape first.

Reporters that re-render a bundle rely on every finding having the fields the JSON
reporter writes; a document that does not is rejected with the finding's index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.errors import ReportError
from scanner.evidence import archive


def load_findings(path: Path) -> dict[str, Any]:
    """The findings document of a bundle (folder or zip) or of a findings.json file."""
    if path.is_file() and not archive.is_zip_path(path):
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ReportError(f"{path}: not a readable findings JSON file: {exc}") from exc
    else:
        files = archive.read(path)
        if "findings.json" not in files:
            raise ReportError(f"{path}: no findings.json in this bundle")
        try:
            data = json.loads(files["findings.json"])
        except (UnicodeDecodeError, ValueError) as exc:
            raise ReportError(f"{path}: findings.json is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ReportError(f"{path}: not a ledgergate findings document")
    for index, finding in enumerate(data["findings"]):
        problem = _shape_problem(finding)
        if problem:
            raise ReportError(f"{path}: findings[{index}]: {problem}")
    return data


#: Fields every finding of a findings document has, and their JSON types.
FINDING_SHAPE: dict[str, type | tuple[type, ...]] = {
    "ruleId": str,
    "status": str,
    "severity": str,
    "title": str,
    "message": str,
    "fingerprint": str,
    "location": dict,
    "evidence": list,
    "controls": list,
    "resource": (dict, type(None)),
}
STATUSES = ("fail", "error", "waived", "pass", "not-evaluated")


def _shape_problem(finding: Any) -> str:
    """Why a finding does not have the shape reporters rely on ('' when it does)."""
    if not isinstance(finding, dict):
        return "not an object"
    for key, kind in FINDING_SHAPE.items():
        if not isinstance(finding.get(key), kind):
            return f"field {key!r} is missing or of the wrong type"
    if finding["status"] not in STATUSES:
        return f"unknown status {finding['status']!r}"
    return ""
