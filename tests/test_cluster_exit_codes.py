"""Exit codes of the nightly audit: 0 clean, 1 findings, 4 incomplete; coverage categories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.findings import ScanResult
from scanner.model import CoverageCategory, CoverageEntry
from tests.kubeapi.fixtures import KubeTarget
from tests.kubeapi.scan import cli_scan, scan_cluster
from tests.kubeapi.server import Fault, FixtureApiServer


def _run(kube_target: KubeTarget, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    return cli_scan(kube_target.kubeconfig, tmp_path, *args)


def test_findings_exit_1_and_fail_on_none_exits_0(kube_target: KubeTarget, tmp_path: Path) -> None:
    code, doc = _run(kube_target, tmp_path)
    assert code == 1 and doc["summary"]["fail"] > 0  # type: ignore[index]
    code, doc = _run(kube_target, tmp_path, "--fail-on", "none")
    assert code == 0 and doc["summary"]["fail"] > 0  # type: ignore[index]


def test_a_gap_exits_4_even_with_fail_on_none(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    kube_server.faults["traefik.io/tlsoptions"] = Fault(status=403)
    code, doc = _run(kube_target, tmp_path, "--fail-on", "none")
    assert code == 4
    gaps = [c for c in doc["coverage"] if c["category"] == "gap"]  # type: ignore[attr-defined]
    assert [g["kinds"] for g in gaps] == [["traefik.io/TLSOption"]]
    # routes need their TLS options as context: the route rules say which context is unread
    errors = [f for f in doc["findings"] if f["status"] == "error"]  # type: ignore[attr-defined]
    routes = {f["ruleId"] for f in errors if f["resource"]["kind"] == "IngressRoute"}
    assert "LG-TLS-006" in routes
    assert all(
        "traefik.io/TLSOption could not be read" in f["message"]
        for f in errors
        if f["resource"]["kind"] == "IngressRoute"
    )


def test_coverage_categories_of_the_fixture_cluster(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    by_target = {c.target: c.category for c in result.coverage}
    assert by_target["traefik.containo.us/IngressRoute"] is CoverageCategory.NOT_INSTALLED
    assert by_target["/api/v1/secrets"] is CoverageCategory.NOTE
    assert not result.incomplete()
    # RBAC subjects are judged in a cluster scan: no note may claim they cannot exist there
    assert any(f.resource and f.resource.kind == "RbacSubject" for f in result.findings)
    assert not [c for c in result.coverage if "RbacSubject" in c.target]


def test_an_entry_naming_kinds_is_always_a_gap() -> None:
    entry = CoverageEntry("cluster", "/api/v1/pods", "timeout", ("Pod",), CoverageCategory.NOTE)
    assert entry.category is CoverageCategory.GAP
    result = ScanResult.build([], [], coverage=[entry])
    assert result.incomplete() and result.gaps() == [entry]
    note = CoverageEntry("cluster", "x", "not installed", (), CoverageCategory.NOT_INSTALLED)
    assert not ScanResult.build([], [], coverage=[note]).incomplete()


def test_sarif_says_an_incomplete_run_did_not_execute_successfully(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    kube_server.faults["velero.io/schedules"] = Fault(status=403)
    code, log = cli_scan(kube_target.kubeconfig, tmp_path, "--format", "sarif")
    assert code == 4
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = [n["message"]["text"] for n in invocation["toolExecutionNotifications"]]
    assert any(n.startswith("coverage gap /apis/velero.io/v1/schedules") for n in notes)
    kube_server.faults.clear()
    _, clean = cli_scan(kube_target.kubeconfig, tmp_path, "--format", "sarif")
    assert clean["runs"][0]["invocations"][0]["executionSuccessful"] is True
