"""The manifest's JSON Schema (``reports/evidence-manifest.schema.json``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from scanner.shipped import reports_dir

SCHEMA_NAME = "evidence-manifest.schema.json"


@cache
def manifest_schema() -> dict[str, Any]:
    """The schema document."""
    loaded: dict[str, Any] = json.loads((reports_dir() / SCHEMA_NAME).read_text())
    return loaded


def validation_errors(manifest: Mapping[str, Any]) -> list[str]:
    """Human messages for every schema violation, sorted by field path."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_schema())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.path])
    return [f"{'.'.join(str(p) for p in e.path) or '(top level)'}: {e.message}" for e in errors]
