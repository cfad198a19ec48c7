"""The bundled Odoo finance repos: exactly the marked violations, and a clean compliant twin."""

from __future__ import annotations

from scanner.model import Status

from .conftest import FIXTURE_REPOS, expected_markers, marker_lines, scanned_fixture_repo


def _scan(name: str):  # type: ignore[no-untyped-def]
    """Each fixture repo is scanned once (results are read, never changed)."""
    return FIXTURE_REPOS / name, scanned_fixture_repo(name)


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
    # observed-state rules (run history, status) have nothing to judge in Git; the fixture
    # cluster exercises them (tests/test_backup_operations.py). The gate family judges a
    # change against its merge base, which a plain scan of one tree has not got:
    # tests/test_trusted_config.py covers it on throwaway git repos.
    judged = {r.id for r in result.rules if not r.match.observed_state and r.family != "gate"}
    assert judged <= marked
    observed_state = _observed_state_rules()  # once: it compiles the whole rule pack
    observed = {f.rule_id for f in result.findings if f.rule_id in observed_state}
    assert observed == set(), "observed-state rules must not be evaluated on repositories"


def _observed_state_rules() -> set[str]:
    from scanner.rules import load_rules

    return {r.id for r in load_rules() if r.match.observed_state}


def test_compliant_repo_is_clean() -> None:
    repo, result = _scan("odoo-finance-compliant")
    assert expected_markers(repo) == set()
    problems = [(f.rule_id, f.origin.path, f.message) for f in result.problems()]
    assert problems == []
    assert result.counts()["pass"] > 0


def test_each_marker_sits_inside_the_object_its_finding_points_at() -> None:
    repo, result = _scan("odoo-finance-noncompliant")
    spans: dict[tuple[str, str], list[tuple[int, int, set[int]]]] = {}
    for f in result.problems():
        spans.setdefault((f.origin.path, f.rule_id), []).append(
            (f.origin.start_line, f.origin.end_line, {e.line for e in f.evidence})
        )
    for path, rule_id, line in marker_lines(repo):
        candidates = spans.get((path, rule_id), [])
        assert any(
            start <= line <= max(end, start) or line in lines for start, end, lines in candidates
        ), f"{path}:{line} marks {rule_id}, but no such finding covers that line"
