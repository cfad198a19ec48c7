"""Strict JSON for manifests: what ``kubectl`` would refuse is refused here too.

Python's ``json`` accepts ``NaN``/``Infinity`` (then written back out as invalid JSON),
keeps the last of duplicate keys silently, and raises ``RecursionError`` on deep
nesting. Each becomes a :class:`JsonDocError` with its line, so the file is an
``input/*`` error and the scan goes on.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.errors import SourceError
from scanner.sources.kubeyaml import MAX_DEPTH


class JsonDocError(SourceError, ValueError):
    """A JSON file that is not a strict, bounded JSON document."""

    def __init__(self, line: int, code: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.code = code
        self.message = message


class _Refused(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _no_constants(name: str) -> Any:
    raise _Refused("parse-error", f"JSON error: {name} is not valid JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused("duplicate-key", f"duplicate key {key!r}; refusing an ambiguous object")
        found[key] = value
    return found


def depth(data: Any) -> int:
    """Nesting depth of a parsed value, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def load(text: str) -> Any:
    """The parsed document; raises :class:`JsonDocError` (never ``RecursionError``)."""
    try:
        data = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise JsonDocError(exc.lineno, "parse-error", f"JSON error: {exc.msg}") from exc
    except _Refused as exc:
        raise JsonDocError(1, exc.code, str(exc)) from exc
    except RecursionError as exc:
        raise JsonDocError(1, "too-deep", "nesting too deep to parse") from exc
    if depth(data) > MAX_DEPTH:
        raise JsonDocError(
            1, "too-deep", f"nesting deeper than {MAX_DEPTH} levels; refusing to parse"
        )
    return data
