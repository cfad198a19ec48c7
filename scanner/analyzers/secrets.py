"""Secret-looking literals per resource: facts for rules (paths and types, never values)
and the values themselves, which the engine hides in every output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner import parallel
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.redaction import SecretHit


def secret_hits(inventory: Inventory, indexes: Sequence[int]) -> dict[int, list[SecretHit]]:
    """The shared detector on the resources at ``indexes``, on every core when it pays."""
    from scanner.redaction import find_secrets

    def share(part: Sequence[int]) -> list[list[SecretHit]]:
        found = inventory.resources
        return [find_secrets(found[i].ref.kind, found[i].body) for i in part]

    workers = parallel.worker_count(len(indexes))
    shares = parallel.shares_of(indexes, workers)
    hits: dict[int, list[SecretHit]] = {}
    for part, found in zip(shares, parallel.map_shares(share, shares), strict=True):
        hits.update(zip(part, found, strict=True))
    return hits


def complete_secrets(inventory: Inventory) -> None:
    """Search the resources a path-limited scan left unsearched: an evidence bundle's
    snapshot scrubs every body with every secret, and refuses the bundle on a leak of
    any; the other outputs name only judged resources, which were searched."""
    missing = [i for i in range(len(inventory.resources)) if i not in inventory.secrets]
    if missing:
        inventory.secrets.update(secret_hits(inventory, missing))


def field_name(body: Any, path: str) -> str:
    """What a reviewer calls the field at ``path``: list items by their ``name``
    (``container export env DB_PASSWORD``), else the path itself (``data.password``), so a
    message names the env var or container without showing the value."""
    from scanner.yamlutil import parse_path

    words: list[str] = []
    node = body
    key = ""
    for step in parse_path(path):
        if isinstance(step, str):
            key = step
            node = node.get(step) if isinstance(node, Mapping) else None
        elif isinstance(step, int):
            node = node[step] if isinstance(node, list) and 0 <= step < len(node) else None
            name = node.get("name") if isinstance(node, Mapping) else None
            label = _LIST_WORDS.get(key, key)
            words.append(f"{label} {name}" if isinstance(name, str) else f"{label}[{step}]")
        else:
            return path
    return " ".join(words) if words else path


#: List keys as a reviewer says them of one item.
_LIST_WORDS = {"containers": "container", "initContainers": "init container"}


class SecretLiteralsAnalyzer(Analyzer):
    """``facts.secretLiterals``: ``[{path, field, type, fingerprint}]`` for each suspicious
    value (``field``: :func:`field_name`, for messages)."""

    name = "secrets"
    provides = ("secretLiterals",)
    always_runs = True  # redaction of every output rests on what it finds
    #: A path-limited scan searches the judged resources (its report names no other);
    #: an evidence bundle searches the rest first (:func:`complete_secrets`).
    per_object = True

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Scan every resource body with the shared detector."""
        from scanner.redaction import fingerprint

        result = AnalyzerResult()
        result.secrets = secret_hits(inventory, range(len(inventory.resources)))
        for index, hits in result.secrets.items():
            body = inventory.resources[index].body
            result.facts[index] = {
                "secretLiterals": [
                    {
                        "path": h.path,
                        "field": field_name(body, h.path),
                        "type": h.kind,
                        "fingerprint": fingerprint(h.value, h.kind),
                    }
                    for h in hits
                ]
            }
        return result
