"""Does a changed file reach production? One small function, so a richer classification
(rendered objects, Argo CD / Flux destinations) can replace it without touching callers.

Today: the path matches ``params.productionPaths``, or the file holds a manifest whose
``metadata.namespace`` (or a Namespace's name) matches ``params.productionNamespaces``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from scanner.environment import is_production
from scanner.sources.kubeyaml import Document, parse_yaml

MAX_MANIFEST_BYTES = 1 << 20
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Reach:
    """Whether a file reaches production, and the production objects it holds."""

    production: bool
    objects: tuple[str, ...] = ()


def classify(path: str, text: str | None, params: Mapping[str, Any]) -> Reach:
    """Classify one changed file (``text`` is its content after, or before a deletion)."""
    objects = _production_objects(path, text, params) if text is not None else ()
    by_path = any(fnmatchcase(path, str(p)) for p in params.get("productionPaths") or ())
    return Reach(by_path or bool(objects), objects)


def is_gate_config(path: str, params: Mapping[str, Any]) -> bool:
    """Files that configure the gate itself (config, waivers, rule folders)."""
    return any(fnmatchcase(path, str(p)) for p in params.get("gateConfigPaths") or ())


def _production_objects(path: str, text: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    if not path.endswith(_MANIFEST_SUFFIXES) or len(text) > MAX_MANIFEST_BYTES:
        return ()
    # the scanner's own YAML reader (alias bombs, nesting limits); unreadable documents
    # leave the decision to the path patterns
    docs = [d.data for d in parse_yaml(text) if isinstance(d, Document)]
    found: list[str] = []
    for doc in docs:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("metadata"), Mapping):
            continue
        meta = doc["metadata"]
        kind, name = str(doc.get("kind", "")), str(meta.get("name", ""))
        ns = name if kind == "Namespace" else str(meta.get("namespace") or "")
        if is_production(ns, params):
            found.append(f"{kind} {ns}/{name}" if kind != "Namespace" else f"Namespace {name}")
    return tuple(found)
