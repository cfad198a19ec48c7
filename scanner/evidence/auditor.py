"""The bundle files an external auditor works from, beyond the findings themselves.

``rules.json`` (rules as evaluated, parameters in force), ``controls.json`` (what each
cited control means), the tested population per control, and the separation-of-duties
matrix. Built from the scan's findings as reported, so nothing here re-evaluates a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from scanner.evidence import population, ruletext, sodmatrix
from scanner.evidence.manifest import canonical
from scanner.evidence.members import Members
from scanner.evidence.snapshot import positions
from scanner.inventory import Inventory
from scanner.model import Finding
from scanner.rules import Rule

RULES = "rules.json"
CONTROLS = "controls.json"


def auditor_files(
    files: Members,
    findings: Sequence[Finding],
    rules: Iterable[Rule],
    *,
    listed: Callable[[Finding], bool],
    inventory: Inventory | None,
    params: Mapping[str, Any] | None,
    rcm_name: str = "",
) -> None:
    """Every auditor-facing file, added to ``files`` (deterministic).

    ``listed`` says which findings ``findings.json`` lists (in their order); the
    population points at those there and at the judged object for the others."""
    rules = list(rules)
    rules_doc = ruletext.rules_doc(rules, params)
    evidence = population.pointers(
        findings, listed, positions(inventory), [str(r["id"]) for r in rules_doc["rules"]]
    )
    files[RULES] = canonical(rules_doc)
    files[CONTROLS] = canonical(ruletext.controls_doc(rules, rcm_name))
    files.put_parts(
        population.NAME, population.population_parts(population.result_rows(findings, evidence))
    )
    data = sodmatrix.matrix(inventory, params or {})
    if data is not None:
        files[sodmatrix.CSV_NAME] = sodmatrix.matrix_csv(data).encode()
        files[sodmatrix.JSON_NAME] = canonical(data)
