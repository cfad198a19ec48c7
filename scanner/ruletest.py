"""``ledgergate rules test``: run every rule against its pass and fail fixtures.

Fixtures live beside the rule: ``<pack>/<ID>/pass.<case>.yaml`` must produce at
least one ``pass`` and nothing else for that rule; ``fail.<case>.yaml`` at least
one ``fail`` and no ``error``. Other objects in a fixture give context (a
Namespace, a binding's role) and are judged by the same analyzers as a real scan.

Facts that need outside systems (an image report needs a registry) come from a
sidecar ``<fixture stem>.facts.yaml`` beside the fixture, e.g. ``pass.signed.facts.yaml``
holding ``imageReports: {<image>: <report>}``; see ``Analyzer.for_fixture``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner import yamlutil
from scanner.analyzers import default_analyzers
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Finding, Status
from scanner.rules import Rule, RuleSet
from scanner.sources.repo import RepoSource

FIXTURE_SUFFIXES = (".yaml", ".yml", ".json", ".conf", ".toml")
FACTS_SUFFIX = ".facts.yaml"


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
        and not p.name.endswith(FACTS_SUFFIX)
    )


def fixture_facts(fixture: Path) -> Mapping[str, Any] | None:
    """The fixture's ``.facts.yaml`` sidecar (precomputed analyzer inputs), if any."""
    sidecar = fixture.with_name(fixture.name[: -len(fixture.suffix)] + FACTS_SUFFIX)
    if not sidecar.is_file():
        return None
    data, _ = yamlutil.load_file(sidecar)
    return data if isinstance(data, Mapping) else {}


def fixture_findings(rule: Rule, fixture: Path, params: Mapping[str, Any]) -> list[Finding]:
    """Every finding on one fixture file from the real source, analyzers and engine, with
    evidence lines placed as in a scan (what the reporters show)."""
    source = RepoSource(fixture.parent, only=[fixture.name])
    inventory = Inventory.from_items(source.collect())
    analyzers = default_analyzers()
    facts = fixture_facts(fixture)
    if facts is not None:
        analyzers = [a.for_fixture(facts) for a in analyzers]
    # fixtures of observed-state rules are snapshots of live objects, status included
    findings, _ = Engine(RuleSet([rule]), params, analyzers, observed=True).run(inventory)
    return source.locate(findings)


def run_fixture(rule: Rule, fixture: Path, params: Mapping[str, Any]) -> FixtureOutcome:
    """Judge one fixture file with the real source, analyzers and engine."""
    expected = fixture.name.split(".", 1)[0]
    findings = fixture_findings(rule, fixture, params)
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
