"""``facts.gateChanges``: how a pull request weakens the gate's own configuration.

The pre-merge gate synthesises one ``GateConfig`` object per trusted input (the
configuration, the waiver register, each custom rule folder) holding the merge base's
version and the change's; this analyzer compares them (``scanner.gatediff``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.gatediff import gate_changes
from scanner.inventory import Inventory
from scanner.model import SYNTHETIC_GROUP

GATE_KIND = "GateConfig"


class GateAnalyzer(Analyzer):
    """One ``gateChanges`` fact per ``GateConfig`` object."""

    name = "gate"
    provides = ("gateChanges",)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Compare base and head of each object; a malformed one gets ``_error``."""
        result = AnalyzerResult()
        for index, resource in enumerate(inventory.resources):
            if resource.ref.kind != GATE_KIND or resource.ref.group != SYNTHETIC_GROUP:
                continue
            spec = resource.body.get("spec")
            try:
                if not isinstance(spec, Mapping):
                    raise ValueError("GateConfig has no spec mapping")
                fact: dict[str, Any] = {"changes": gate_changes(spec)}
            except (ValueError, TypeError, AttributeError) as exc:
                fact = {"_error": f"cannot compare gate configuration: {exc}"}
            result.facts[index] = {"gateChanges": fact}
        return result
