"""Locate the data shipped with the tool (rule packs, schemas, report templates).

In a source checkout they sit beside ``scanner/``; in an installed wheel they are
the packages ``ledgergate_rules`` and ``ledgergate_reports``.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def shipped_dir(name: str) -> Path:
    """The folder of shipped data ``name`` (``rules`` or ``reports``)."""
    source_tree = Path(__file__).resolve().parent.parent / name
    if source_tree.is_dir():
        return source_tree
    spec = importlib.util.find_spec(f"ledgergate_{name}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    raise FileNotFoundError(f"shipped data folder {name!r} is missing from this installation")


def rules_dir() -> Path:
    """The shipped rule packs."""
    return shipped_dir("rules")


def schema_path(name: str) -> Path:
    """A JSON Schema shipped under ``rules/schema``."""
    return rules_dir() / "schema" / name


def reports_dir() -> Path:
    """Report templates and the evidence manifest schema."""
    return shipped_dir("reports")
