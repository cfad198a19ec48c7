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
