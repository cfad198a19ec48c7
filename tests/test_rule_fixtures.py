"""Every shipped rule: valid, unique, documented, with pass and fail fixtures that behave."""

from __future__ import annotations

import pytest

from scanner.config import default_params
from scanner.rules import load_rules
from scanner.ruletest import fixtures_of, run_fixture
from scanner.shipped import rules_dir

RULES = list(load_rules())
CASES = [(rule, fixture) for rule in RULES for fixture in fixtures_of(rule)]


def test_every_shipped_rule_file_loads() -> None:
    """One loaded rule per ``<pack>/LG-*.yaml``: none skipped, none from elsewhere."""
    files = sorted(p.stem for p in rules_dir().glob("*/LG-*.yaml"))
    assert len(files) > 50
    assert sorted(r.id for r in RULES) == files


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_has_pass_and_fail_fixtures(rule) -> None:  # type: ignore[no-untyped-def]
    kinds = {p.name.split(".", 1)[0] for p in fixtures_of(rule)}
    assert kinds == {"pass", "fail"}, f"{rule.id} needs pass.*.yaml and fail.*.yaml fixtures"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_documented(rule) -> None:  # type: ignore[no-untyped-def]
    assert len(rule.remediation) >= 10
    assert len({c.framework for c in rule.controls}) >= 2


@pytest.mark.parametrize(("rule", "fixture"), CASES, ids=[f"{r.id}/{f.name}" for r, f in CASES])
def test_fixture_outcome(rule, fixture) -> None:  # type: ignore[no-untyped-def]
    outcome = run_fixture(rule, fixture, default_params())
    assert outcome.ok, f"{fixture.name}: expected {outcome.expected}, {outcome.detail}"


def test_no_orphan_fixture_folders() -> None:
    ids = {r.id for r in RULES}
    folders = {p.name for p in rules_dir().glob("*/LG-*") if p.is_dir()}
    assert folders - ids == set()
