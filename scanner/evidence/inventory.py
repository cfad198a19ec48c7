"""The inventory snapshot: every resource the rules saw, with secret values redacted.

Redaction is deliberately wider than detection: all Secret data, every value under a
credential-looking key (whatever its entropy), anything detection flagged, and any
string that merely contains a detected value (e.g. last-applied annotations).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scanner.evidence.leaks import trie_pattern
from scanner.inventory import Inventory
from scanner.model import Resource
from scanner.redaction import PLACEHOLDER, SENSITIVE_KEY, classify, fingerprint

SNAPSHOT_VERSION = "1.0"


def _mask(value: str) -> str:
    return f"[REDACTED {fingerprint(value)}]"


class _Scrubber:
    """Replaces every detected secret value of the whole inventory in one regex pass.

    A value found in one object (a Secret's data) may also appear in another (a name, a
    config line); the snapshot hides it everywhere, as the bundle's leak check demands.
    """

    def __init__(self, secrets: set[str]) -> None:
        self.pattern = trie_pattern(s for s in secrets if len(s) >= 4)

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: _mask(m.group(0)), text)


def _redact(node: Any, key: str, secrets: _Scrubber, hidden: bool) -> Any:
    if isinstance(node, bytes | bytearray):  # YAML !!binary: never shown
        return f"[BINARY {len(node)} bytes {fingerprint(node.hex())}]"
    if isinstance(node, dt.date | dt.datetime):
        node = node.isoformat()
    elif not isinstance(node, Mapping | list | str | bool | int | float | type(None)):
        node = str(node)
    if isinstance(node, Mapping):
        name = node.get("name")
        env_secret = "value" in node and isinstance(name, str) and bool(SENSITIVE_KEY.search(name))
        return {
            str(k): _redact(v, str(k), secrets, hidden or (env_secret and k == "value"))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_redact(v, key, secrets, hidden) for v in node]
    if isinstance(node, str):
        sensitive = bool(SENSITIVE_KEY.search(key)) and not PLACEHOLDER.match(node.strip())
        if hidden or sensitive or classify(key, node):
            return _mask(node) if node else node
        return secrets(node)
    if hidden and node is not None and not isinstance(node, bool):
        return _mask(str(node))
    return node


def redacted_body(resource: Resource, secrets: _Scrubber) -> dict[str, Any]:
    """The resource body with every secret-looking value replaced by its fingerprint."""
    body = dict(resource.body)
    out: dict[str, Any] = {}
    for key, value in body.items():
        hide = resource.ref.kind == "Secret" and key in ("data", "stringData")
        out[str(key)] = _redact(value, str(key), secrets, hide)
    return out


def snapshot(inventory: Inventory | None) -> dict[str, Any]:
    """The JSON document of the inventory (sorted by location and identity)."""
    if inventory is None:
        return {"schemaVersion": SNAPSHOT_VERSION, "resources": [], "captured": False}
    rows: list[tuple[tuple[str, int, str, str, str], dict[str, Any]]] = []
    secrets = _Scrubber({h.value for hits in inventory.secrets.values() for h in hits})
    for res in inventory.resources:
        key = (
            res.origin.path,
            res.origin.start_line,
            res.ref.kind,
            res.ref.namespace,
            res.ref.name,
        )
        rows.append(
            (
                key,
                {
                    "apiVersion": res.ref.api_version,
                    "kind": res.ref.kind,
                    "namespace": res.ref.namespace,
                    "name": res.ref.name,
                    "origin": {
                        "path": res.origin.path,
                        "startLine": res.origin.start_line,
                        "endLine": res.origin.end_line,
                        "cluster": res.origin.cluster,
                        "uid": res.origin.uid,
                        "image": res.origin.image_digest,
                    },
                    "body": redacted_body(res, secrets),
                },
            )
        )
    rows.sort(key=lambda r: r[0])
    return {"schemaVersion": SNAPSHOT_VERSION, "resources": [r for _, r in rows], "captured": True}


def secret_values(inventory: Inventory | None, min_length: int = 8) -> set[str]:
    """Every detected secret value long enough to check for leaks in bundle files."""
    if inventory is None:
        return set()
    return {
        h.value
        for hits in inventory.secrets.values()
        for h in hits
        if len(h.value.strip()) >= min_length
    }
