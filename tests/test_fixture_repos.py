"""The bundled Odoo finance repos: exactly the marked violations, and a clean compliant twin."""

from __future__ import annotations

from scanner.config import find_config, load_config
from scanner.model import Status
from scanner.pipeline import scan_repo

from .conftest import FIXTURE_REPOS, expected_markers


def _scan(name: str):  # type: ignore[no-untyped-def]
    repo = FIXTURE_REPOS / name
    return repo, scan_repo(repo, load_config(find_config(repo, None)))


def test_noncompliant_repo_finds_exactly_the_marked_violations() -> None:
    repo, result = _scan("odoo-finance-noncompliant")
    found = {
        (f.origin.path, f.rule_id)
        for f in result.findings
        if f.status in (Status.FAIL, Status.ERROR)
    }
    expected = expected_markers(repo)
    assert expected, "the fixture repo must mark its violations"
    assert found - expected == set(), "unexpected findings"
    assert expected - found == set(), "marked violations not found"


def test_noncompliant_repo_marks_every_shipped_rule() -> None:
    repo, result = _scan("odoo-finance-noncompliant")
    marked = {rule_id for _, rule_id in expected_markers(repo)}
    assert {r.id for r in result.rules} <= marked


def test_compliant_repo_is_clean() -> None:
    repo, result = _scan("odoo-finance-compliant")
    assert expected_markers(repo) == set()
    problems = [(f.rule_id, f.origin.path, f.message) for f in result.problems()]
    assert problems == []
    assert result.counts()["pass"] > 0
