"""``sod-matrix.csv``: every subject x every duty, the separation-of-duties working paper.

A cell is ``held``, ``held (via <duty>)`` when implied by another duty, or empty; the
last column names the conflicting pairs. The grant chains behind each cell are in
``sod-matrix.json``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from scanner.errors import ScannerError
from scanner.inventory import Inventory

CSV_NAME = "sod-matrix.csv"
JSON_NAME = "sod-matrix.json"


def matrix(inventory: Inventory | None, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subjects x duties matrix, or None without an inventory or with a bad duty config."""
    if inventory is None:
        return None
    from scanner.rbac import duty_matrix

    try:
        return duty_matrix(inventory, params)
    except ScannerError:
        return None  # the analyzer already reported the bad duty config as an error finding


def _cell(cell: Mapping[str, Any]) -> str:
    if not cell.get("held"):
        return ""
    return f"held (via {cell['impliedBy']})" if cell.get("impliedBy") else "held"


def matrix_csv(data: Mapping[str, Any]) -> str:
    """CSV text: subject, kind, namespace, name, one column per duty, conflicts."""
    duties = [str(d["name"]) for d in data.get("duties", ())]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subject", "kind", "namespace", "name", *duties, "conflicts"])
    for row in data.get("subjects", ()):
        cells = row.get("duties", {})
        writer.writerow(
            [
                row["subject"],
                row["kind"],
                row.get("namespace", ""),
                row["name"],
                *(_cell(cells.get(d, {})) for d in duties),
                "; ".join(" + ".join(c) for c in row.get("conflicts", ())),
            ]
        )
    return buffer.getvalue()


def read_matrix_csv(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a ``sod-matrix.csv`` (for the report)."""
    parsed = list(csv.reader(io.StringIO(text)))
    return (parsed[0], parsed[1:]) if parsed else ([], [])
