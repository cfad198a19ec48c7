"""Secret-looking literals per resource, as facts (paths and types only, never values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory


class SecretLiteralsAnalyzer(Analyzer):
    """``facts.secretLiterals``: ``[{path, type, fingerprint}]`` for each suspicious value."""

    name = "secrets"
    provides = ("secretLiterals",)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Scan every resource body with the shared detector."""
        from scanner.redaction import fingerprint

        result = AnalyzerResult()
        for index in range(len(inventory.resources)):
            hits = inventory.secrets.get(index, [])
            result.facts[index] = {
                "secretLiterals": [
                    {"path": h.path, "type": h.kind, "fingerprint": fingerprint(h.value, h.kind)}
                    for h in hits
                ]
            }
        return result
