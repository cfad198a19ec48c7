"""The bundle files an external auditor works from, beyond the findings themselves.

``rules.json`` (rules as evaluated, parameters in force), ``controls.json`` (what each
cited control means), the tested population per control, and the separation-of-duties
matrix. Built from the findings document, so nothing here re-evaluates a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scanner.evidence import population, ruletext, sodmatrix
from scanner.evidence.manifest import canonical
from scanner.inventory import Inventory
from scanner.rules import Rule

RULES = "rules.json"
CONTROLS = "controls.json"


def auditor_files(
    doc: Mapping[str, Any],
    rules: Iterable[Rule],
    *,
    inventory: Inventory | None,
    params: Mapping[str, Any] | None,
    rcm_name: str = "",
) -> dict[str, bytes]:
    """Every auditor-facing file, name -> bytes (deterministic)."""
    rules = list(rules)
    files = {
        RULES: canonical(ruletext.rules_doc(rules, params)),
        CONTROLS: canonical(ruletext.controls_doc(rules, rcm_name)),
        **population.population_files(doc),
    }
    data = sodmatrix.matrix(inventory, params or {})
    if data is not None:
        files[sodmatrix.CSV_NAME] = sodmatrix.matrix_csv(data).encode()
        files[sodmatrix.JSON_NAME] = canonical(data)
    return files
