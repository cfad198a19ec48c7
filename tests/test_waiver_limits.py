"""Waivers are bounded: no blanket wildcards, a longest duration, two approvers for a
critical finding (look-alike identities are one person), stale waivers reported, and
expiry judged by the real clock, never by SOURCE_DATE_EPOCH."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from scanner.config import Config
from scanner.errors import ConfigError
from scanner.model import Status
from scanner.waivers import apply_waivers, load_waivers, today_utc

from .conftest import copy_fixture_repo

BLANKET = """\
waivers:
  - rule: "*"
    resource: {path: "*"}
    justification: Everything is fine, trust us with this one.
    ticket: RISK-666
    owner: mallory@finance.example
    approver: trent@finance.example
    approved: 2026-11-01
    expires: 2099-12-31
"""
SECRET = """\
waivers:
  - rule: LG-SEC-001
    resource: {kind: Secret, name: odoo-db}
    justification: Migration to External Secrets is scheduled for the next sprint.
    ticket: RISK-101
    owner: alice@finance.example
    approvers: [APPROVERS]
    approved: 2026-11-01
    expires: 2026-12-31
"""
TODAY = dt.date(2026, 11, 15)


def _load(tmp_path: Path, text: str, config: Config | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return load_waivers(path, "waivers.yaml", config=config, today=TODAY)


def test_blanket_waiver_is_refused_and_fails_the_scan(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"waivers.yaml:2: waivers.0.rule: wildcards need"):
        _load(tmp_path, BLANKET)
    allowed = Config(params={}, waiver_wildcards=True)
    with pytest.raises(ConfigError, match=r"waivers.0.expires: runs \d+ days .*maxDays = 90"):
        _load(tmp_path, BLANKET, allowed)
    repo = copy_fixture_repo(tmp_path / "repo", waivers=BLANKET)
    result = run_cli("scan", "repo", str(repo), env={"LEDGERGATE_TODAY": "2026-12-01"})
    assert result.exit_code == 2
    assert "wildcards need waivers.allowWildcards" in result.output


def test_max_days_comes_from_the_config(tmp_path: Path) -> None:
    text = SECRET.replace("APPROVERS", "bob@x, erin@x")
    with pytest.raises(ConfigError, match="maxDays = 30"):
        _load(tmp_path, text, Config(params={}, waiver_max_days=30))
    assert len(_load(tmp_path, text).waivers) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SECRET.replace("{kind: Secret, name: odoo-db}", "{kind: Secret}"), "must name a resource"),
        (SECRET.replace("name: odoo-db", "name: odoo-*"), "waivers.0.resource.name: wildcards"),
        (SECRET.replace("2026-11-01", "2026-11-20"), "approval date is in the future"),
        (SECRET.replace("2026-12-31", "2026-10-31"), "expires before it was approved"),
    ],
)
def test_unbounded_or_inconsistent_waivers_are_config_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text.replace("APPROVERS", "bob@x, erin@x"))


def _secret_finding():  # type: ignore[no-untyped-def]
    from scanner.config import find_config, load_config
    from scanner.pipeline import scan_repo

    from .conftest import FIXTURE_REPOS

    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    result = scan_repo(repo, load_config(find_config(repo, None)))
    return [f for f in result.findings if f.rule_id == "LG-SEC-001" and f.status is Status.FAIL]


@pytest.mark.parametrize(
    ("approvers", "waived"),
    [
        ("bob@finance.example, erin@finance.example", True),
        ("bob@finance.example", False),
        ("bob@finance.example, BOB@finance.example", False),
        # Cyrillic o (U+043E) in bob: the same person to every reader
        ("bob@finance.example, b\u043eb@finance.example", False),
    ],
)
def test_critical_findings_need_two_distinct_approvers(
    tmp_path: Path, approvers: str, waived: bool
) -> None:
    found = _secret_finding()
    assert found and all(f.severity.value == "critical" for f in found)
    register = _load(tmp_path, SECRET.replace("APPROVERS", approvers))
    out = apply_waivers(found, register, TODAY)
    statuses = {f.status for f in out if f.rule_id == "LG-SEC-001"}
    assert statuses == ({Status.WAIVED} if waived else {Status.FAIL})
    short = [f for f in out if f.rule_id == "waiver/under-approved"]
    assert bool(short) is not waived


def test_stale_waiver_is_reported(tmp_path: Path) -> None:
    register = _load(tmp_path, SECRET.replace("APPROVERS", "bob@x, erin@x"))
    (stale,) = apply_waivers([], register, TODAY) or [None]
    assert stale is not None and stale.rule_id == "waiver/stale"
    assert (stale.origin.path, stale.origin.start_line) == ("waivers.yaml", 2)
    assert "matches no failing finding" in stale.message


def test_expiry_uses_the_real_clock_not_source_date_epoch(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGERGATE_TODAY", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01, as a PR could set it
    assert today_utc() == dt.datetime.now(dt.UTC).date()
    text = SECRET.replace("APPROVERS", "bob@x, erin@x").replace("2026-11-01", "2025-10-02")
    text = text.replace("2026-12-31", "2025-12-31")
    repo = copy_fixture_repo(tmp_path / "repo", waivers=text)
    out = tmp_path / "out.json"
    result = run_cli("scan", "repo", str(repo), "--json", str(out))
    assert result.exit_code == 1
    doc = json.loads(out.read_text())
    assert not [f for f in doc["findings"] if f["status"] == "waived"]
    assert [f["ruleId"] for f in doc["findings"] if f["ruleId"] == "waiver/expired"] == [
        "waiver/expired"
    ]
    monkeypatch.setenv("LEDGERGATE_TODAY", "not-a-date")
    with pytest.raises(ConfigError, match="LEDGERGATE_TODAY"):
        today_utc()
