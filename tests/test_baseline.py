"""``ledgergate baseline create``: today's failures become bounded waivers in the register;
the gate then fails on new findings and at the baseline's expiry, and the limits hold."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import FIXTURE_REPOS

TODAY = "2026-12-01"
CANARY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger-api-canary, namespace: finance-prod}
spec:
  selector: {matchLabels: {app: canary}}
  template:
    metadata: {labels: {app: canary}}
    spec:
      containers:
        - {name: api, image: "registry.finance.internal/erp/ledger-api:latest"}
"""
APPROVAL = ("--owner", "alice", "--approver", "bob", "--approver", "carol", "--ticket", "RISK-7")


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEDGERGATE_TODAY", TODAY)
    repo = tmp_path / "estate"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    return repo


def summary(run_cli: Callable[..., Result], repo: Path, out: Path) -> tuple[int, dict[str, int]]:
    done = run_cli("scan", "repo", str(repo), "--json", str(out))
    return done.exit_code, json.loads(out.read_text(encoding="utf-8"))["summary"]


def test_baseline_waives_todays_failures_and_still_fails_new_ones(
    estate: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    code, before = summary(run_cli, estate, tmp_path / "before.json")
    assert code == 1 and before["fail"] > 0
    made = run_cli("baseline", "create", str(estate), *APPROVAL, "--expires", "2027-01-15")
    assert made.exit_code == 0, made.output
    code, after = summary(run_cli, estate, tmp_path / "after.json")
    assert code == 0
    assert after["fail"] == 0 and after["waived"] == before["fail"]  # shown, not hidden
    new_file = estate / "extra" / "canary.yaml"
    new_file.parent.mkdir()
    new_file.write_text(CANARY, encoding="utf-8")
    code, new = summary(run_cli, estate, tmp_path / "new.json")
    assert code == 1 and new["fail"] > 0  # the new object is not in the baseline
    found = json.loads((tmp_path / "new.json").read_text(encoding="utf-8"))["findings"]
    failing = {f["resource"]["name"] for f in found if f["status"] == "fail" and f["resource"]}
    assert failing == {"ledger-api-canary"}


def test_the_baseline_fails_again_at_expiry(
    estate: Path, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = run_cli("baseline", "create", str(estate), *APPROVAL, "--expires", "2027-01-15")
    assert made.exit_code == 0, made.output
    monkeypatch.setenv("LEDGERGATE_TODAY", "2027-01-16")
    code, later = summary(run_cli, estate, tmp_path / "later.json")
    assert code == 1 and later["waived"] == 0
    rules = {f["ruleId"] for f in json.loads((tmp_path / "later.json").read_text())["findings"]}
    assert "waiver/expired" in rules


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--expires", "2027-12-01"), "waivers.maxDays"),
        (("--expires", "soon"), "not a YYYY-MM-DD date"),
        (("--owner", "bob", "--expires", "2027-01-15"), "approver must differ from owner"),
    ],
    ids=["too-long", "bad-date", "owner-approves"],
)
def test_the_register_limits_apply(
    estate: Path, run_cli: Callable[..., Result], args: tuple[str, ...], message: str
) -> None:
    done = run_cli("baseline", "create", str(estate), *APPROVAL, *args)
    assert done.exit_code == 2
    assert message in done.output
    assert not (estate / "waivers.yaml").exists()


def test_a_critical_failure_needs_two_approvers(
    estate: Path, run_cli: Callable[..., Result]
) -> None:
    one = ("--owner", "alice", "--approver", "bob", "--ticket", "RISK-7", "--expires", "2027-01-15")
    done = run_cli("baseline", "create", str(estate), *one)
    assert done.exit_code == 2
    assert "critical" in done.output and "2 distinct --approver" in done.output


def test_an_existing_register_is_never_replaced(
    estate: Path, run_cli: Callable[..., Result]
) -> None:
    (estate / "waivers.yaml").write_text("waivers: []\n", encoding="utf-8")
    done = run_cli("baseline", "create", str(estate), *APPROVAL, "--expires", "2027-01-15")
    assert done.exit_code == 2
    assert (estate / "waivers.yaml").read_text(encoding="utf-8") == "waivers: []\n"
