"""The terminal report on a repo with many findings: grouped by severity, then rule
(waived last), and closed by a line with the exit reason and what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.model import Severity

from .conftest import FIXTURE_REPOS

REPO = str(FIXTURE_REPOS / "odoo-finance-noncompliant")


def _rows(stdout: str) -> list[tuple[str, str, str]]:
    """(status, severity, rule) of each finding line of the plain (non-TTY) table."""
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[0].split("/")[0] in ("FAIL", "ERROR", "WAIVED"):
            rows.append((parts[0], parts[1], parts[2]))
    return rows


def _rank(row: tuple[str, str, str]) -> tuple[bool, int, str]:
    return row[0] == "WAIVED", -Severity(row[1]).rank, row[2]


@pytest.fixture(scope="module")
def table() -> Result:
    """``scan repo`` of the noncompliant repo with the default table, run once."""
    return CliRunner().invoke(cli, ["scan", "repo", REPO])


def test_findings_are_grouped_by_severity_then_rule(table: Result) -> None:
    done = table
    assert done.exit_code == 1, done.output
    rows = _rows(done.stdout)
    assert len(rows) > 50
    assert rows == sorted(rows, key=_rank)
    # each rule's findings sit together: a rule never reappears after another one
    order = [r[2] for r in rows]
    assert len({rule for rule in order}) == sum(
        1 for i, rule in enumerate(order) if i == 0 or order[i - 1] != rule
    )


def test_waived_findings_come_last() -> None:
    from scanner.model import Finding, Origin, Status
    from scanner.reporters.table import grouped

    def finding(rule: str, status: Status, severity: Severity, line: int) -> Finding:
        return Finding(rule, status, severity, "t", "m", None, Origin("a.yaml", line, line))

    made = [
        finding("LG-B", Status.WAIVED, Severity.CRITICAL, 1),
        finding("LG-B", Status.FAIL, Severity.LOW, 2),
        finding("LG-A", Status.FAIL, Severity.HIGH, 3),
        finding("LG-C", Status.ERROR, Severity.HIGH, 4),
        finding("LG-A", Status.FAIL, Severity.HIGH, 1),
    ]
    order = [(f.rule_id, f.origin.start_line) for f in grouped(made)]
    assert order == [("LG-A", 1), ("LG-A", 3), ("LG-C", 4), ("LG-B", 2), ("LG-B", 1)]


def test_the_last_line_gives_the_exit_reason_and_next_steps(table: Result) -> None:
    done = table
    last = done.stdout.splitlines()[-1]
    first_rule = _rows(done.stdout)[0][2]
    assert last.startswith("Gate failed (exit 1): ")
    assert "at or above high" in last
    assert f"ledgergate rules show {first_rule}" in last
    assert "--format json" in last and "waivers.yaml" in last
    counts = done.stdout.splitlines()[-2]
    assert " failed, " in counts


def test_the_reason_follows_the_threshold() -> None:
    done = CliRunner().invoke(cli, ["scan", "repo", REPO, "--fail-on", "none"])
    assert done.exit_code == 0
    assert done.stdout.splitlines()[-1].startswith("Gate off (--fail-on none, exit 0).")
    clean = CliRunner().invoke(cli, ["scan", "repo", str(FIXTURE_REPOS / "odoo-finance-compliant")])
    assert clean.exit_code == 0, clean.output
    assert clean.stdout.splitlines()[-1] == "Gate passed (exit 0): nothing at or above high."


def test_quiet_and_files_get_no_next_steps(tmp_path: Path) -> None:
    quiet = CliRunner().invoke(cli, ["--quiet", "scan", "repo", REPO])
    assert quiet.exit_code == 1
    assert "Gate failed" not in quiet.stdout and len(quiet.stdout.splitlines()) == 1
    out = tmp_path / "report.txt"
    to_file = CliRunner().invoke(cli, ["scan", "repo", REPO, "--output", str(out)])
    assert "Gate failed" not in to_file.stdout + out.read_text(encoding="utf-8")
