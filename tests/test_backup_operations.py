"""Operating effectiveness of backups and restores, judged on the fixture cluster's run history.

Each observed-state rule (LG-BAK-010..014) passes at the fixture's "now" where the estate
is healthy, and fails when the clock moves on or the estate says so; repository scans never
evaluate them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from scanner.findings import ScanResult
from scanner.rules import load_rules
from tests.kubeapi.fixtures import KubeTarget
from tests.kubeapi.scan import fixture_now, scan_cluster

OBSERVED = {r.id for r in load_rules() if r.match.observed_state}


def _outcomes(result: ScanResult, rule_id: str) -> dict[str, tuple[str, str]]:
    return {
        f.resource.name: (f.status.value, f.message)
        for f in result.findings
        if f.rule_id == rule_id and f.resource
    }


@pytest.fixture(scope="module")
def tonight(kube_target: KubeTarget) -> ScanResult:
    return scan_cluster(kube_target.kubeconfig)[0]


def test_every_observed_state_rule_is_judged_on_the_fixture_cluster(tonight: ScanResult) -> None:
    assert {"LG-BAK-010", "LG-BAK-011", "LG-BAK-012", "LG-BAK-013", "LG-BAK-014"} <= OBSERVED
    # LG-GITOPS-004 needs the repository (`scan cluster --repo`): tests/test_provenance.py
    backup = {r for r in OBSERVED if r.startswith("LG-BAK-")}
    assert {f.rule_id for f in tonight.findings} >= backup


def test_recent_backups_pass_and_go_stale_when_the_clock_moves(
    kube_target: KubeTarget, tonight: ScanResult
) -> None:
    assert _outcomes(tonight, "LG-BAK-010")["finance-prod"][0] == "pass"
    assert _outcomes(tonight, "LG-BAK-011")["ledger-db"][0] == "pass"
    later, _ = scan_cluster(kube_target.kubeconfig, now=fixture_now() + timedelta(hours=30))
    status, message = _outcomes(later, "LG-BAK-010")["finance-prod"]
    assert status == "fail"
    assert message == (
        "last successful backup of finance-prod (finance-daily-20261201010000, completed "
        "2026-12-01T01:14:37Z) is 34.8h old (maximum 24h)"
    )
    status, message = _outcomes(later, "LG-BAK-011")["ledger-db"]
    assert status == "fail" and "ledger-db-daily-20261201020000" in message
    # non-production namespaces are not judged
    assert "finance-staging" not in _outcomes(later, "LG-BAK-010")


def test_failed_backups_need_a_ticket_inside_the_lookback(
    kube_target: KubeTarget, tonight: ScanResult
) -> None:
    got = {name: status for name, (status, _) in _outcomes(tonight, "LG-BAK-012").items()}
    assert got["finance-hourly-20261129140000"] == "fail"  # PartiallyFailed, no ticket
    assert got["finance-daily-20261130010000"] == "pass"  # Failed, INC-4711
    assert got["staging-weekly-20261129030000"] == "pass"  # not production
    assert got["ledger-db-daily-20261201020000"] == "pass"  # completed
    message = _outcomes(tonight, "LG-BAK-012")["finance-hourly-20261129140000"][1]
    assert "PartiallyFailed" in message and "no ledgergate.io/failure-ticket" in message
    later, _ = scan_cluster(kube_target.kubeconfig, now=fixture_now() + timedelta(days=8))
    assert _outcomes(later, "LG-BAK-012")["finance-hourly-20261129140000"][0] == "pass"


def test_every_backup_storage_location_must_be_available(tonight: ScanResult) -> None:
    got = _outcomes(tonight, "LG-BAK-013")
    assert got["default"][0] == "pass"
    assert got["offsite"] == (
        "fail",
        'backup storage location offsite is Unavailable: BackupStorageLocation "offsite" is '
        "unavailable: rpc error: code = Unknown desc = InvalidAccessKeyId",
    )


def test_restore_drill_into_non_production_within_the_window(
    kube_target: KubeTarget, tonight: ScanResult
) -> None:
    assert _outcomes(tonight, "LG-BAK-014")["finance-prod"][0] == "pass"
    later, _ = scan_cluster(kube_target.kubeconfig, now=fixture_now() + timedelta(days=80))
    status, message = _outcomes(later, "LG-BAK-014")["finance-prod"]
    assert status == "fail"
    assert "finance-prod-drill-2026-11 into finance-restore-test" in message
    assert "95.1 days old (maximum 90)" in message


def test_unreadable_run_history_makes_the_rules_error(
    kube_server: object, kube_target: KubeTarget
) -> None:
    from tests.kubeapi.server import Fault, FixtureApiServer

    assert isinstance(kube_server, FixtureApiServer)
    kube_server.faults["velero.io/restores"] = Fault(status=403)
    result, _ = scan_cluster(kube_target.kubeconfig)
    assert result.incomplete()
    status, message = _outcomes(result, "LG-BAK-014")["finance-prod"]
    assert status == "error" and "velero.io/Restore could not be read" in message
