"""``ledgergate rules test``: run every rule against its pass and fail fixtures.

Fixtures live beside the rule: ``<pack>/<ID>/pass.<case>.yaml`` must produce at
least one ``pass`` and nothing else for that rule; ``fail.<case>.yaml`` at least
one ``fail`` and no ``error``. Other objects in a fixture give context (a
Namespace, a binding's role) and are judged by the same analyzers as a real scan.

A fixture may also state facts that an analyzer needing the outside world (a
registry, a cluster) would attach, as a document of kind ``FixtureFacts``
(``ruletest.ledgergate.io/v1``) with ``target: {kind, name}`` and ``facts: {...}``.
It stands in for that analyzer only in fixtures, so a rule with ``requires`` can
still be tested for pass and fail; a real scan never reads such documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.analyzers import Analyzer, AnalyzerResult, default_analyzers
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Resource, Status
from scanner.rules import Rule, RuleSet
from scanner.sources.repo import RepoSource

FIXTURE_SUFFIXES = (".yaml", ".yml", ".json", ".conf", ".toml")
FIXTURE_FACTS_API = "ruletest.ledgergate.io/v1"
FIXTURE_FACTS_KIND = "FixtureFacts"


class FixtureFactsAnalyzer(Analyzer):
    """Attaches the facts a fixture declares to the objects it names (fixtures only)."""

    name = "fixture-facts"

    def __init__(self, declared: list[Resource]) -> None:
        self.declared = declared

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Match each declaration by kind and name (and namespace, when given)."""
        result = AnalyzerResult()
        for decl in self.declared:
            target = decl.body.get("target") or {}
            facts = decl.body.get("facts") or {}
            for index, res in enumerate(inventory.resources):
                ref = res.ref
                if (ref.kind, ref.name, ref.namespace) == (
                    target.get("kind"),
                    target.get("name"),
                    target.get("namespace", ref.namespace),
                ):
                    result.facts.setdefault(index, {}).update(facts)
        return result


def _is_fixture_facts(item: object) -> bool:
    return (
        isinstance(item, Resource)
        and item.ref.api_version == FIXTURE_FACTS_API
        and item.ref.kind == FIXTURE_FACTS_KIND
    )


@dataclass(frozen=True)
class FixtureOutcome:
    """One (rule, fixture) check."""

    rule_id: str
    fixture: Path
    expected: str
    ok: bool
    detail: str


def fixtures_of(rule: Rule) -> list[Path]:
    """The fixture files of a rule, sorted (``pass.*`` and ``fail.*``)."""
    folder = rule.path.parent / rule.id
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name.split(".", 1)[0] in {"pass", "fail"}
        and p.suffix in FIXTURE_SUFFIXES
    )


def run_fixture(rule: Rule, fixture: Path, params: Mapping[str, Any]) -> FixtureOutcome:
    """Judge one fixture file with the real source, analyzers and engine."""
    expected = fixture.name.split(".", 1)[0]
    items = list(RepoSource(fixture.parent, only=[fixture.name]).collect())
    declared = [i for i in items if isinstance(i, Resource) and _is_fixture_facts(i)]
    inventory = Inventory.from_items(i for i in items if not _is_fixture_facts(i))
    analyzers = [*default_analyzers(), FixtureFactsAnalyzer(declared)]
    findings, _ = Engine(RuleSet([rule]), params, analyzers).run(inventory)
    mine = [f for f in findings if f.rule_id == rule.id]
    other_errors = [f for f in findings if f.status is Status.ERROR and f.rule_id != rule.id]
    statuses = sorted({f.status.value for f in mine})
    if other_errors:
        return FixtureOutcome(
            rule.id, fixture, expected, False, f"fixture does not load: {other_errors[0].message}"
        )
    if not mine:
        return FixtureOutcome(rule.id, fixture, expected, False, "rule matched no resource")
    errors = [f for f in mine if f.status is Status.ERROR]
    if errors:
        return FixtureOutcome(rule.id, fixture, expected, False, f"error: {errors[0].message}")
    ok = statuses == ["pass"] if expected == "pass" else "fail" in statuses
    return FixtureOutcome(rule.id, fixture, expected, ok, f"got {', '.join(statuses)}")


def run_all(rules: RuleSet, params: Mapping[str, Any]) -> Iterator[FixtureOutcome]:
    """Every fixture of every rule; a rule without both kinds is itself a failure."""
    for rule in rules:
        found = fixtures_of(rule)
        kinds = {p.name.split(".", 1)[0] for p in found}
        for missing in sorted({"pass", "fail"} - kinds):
            yield FixtureOutcome(
                rule.id, rule.path.parent / rule.id, missing, False, f"no {missing}.*.yaml fixture"
            )
        for fixture in found:
            yield run_fixture(rule, fixture, params)
