"""A cluster that pages, throttles, forbids, expires and stalls: coverage is complete or the
gap is explicit and the affected rules report ``error``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from scanner.cli_cluster import cluster
from scanner.model import Severity, Status
from tests.kubeapi.fixtures import LIMITED_TOKEN, KubeTarget
from tests.kubeapi.scan import expected_problems, problems, scan_cluster
from tests.kubeapi.server import Fault, FixtureApiServer


def _lists(server: FixtureApiServer, start: int, path: str) -> list[dict[str, str]]:
    return [r.query for r in server.log[start:] if r.path == path]


def test_pagination_across_page_boundaries(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    start = len(kube_server.log)
    result, _ = scan_cluster(kube_target.kubeconfig, page_size=1)
    deploys = _lists(kube_server, start, "/apis/apps/v1/deployments")
    assert [q.get("limit") for q in deploys] == ["1"] * 4  # 4 objects, one per page
    assert sum("continue" in q for q in deploys) == 3
    assert problems(result) == expected_problems()
    full, _ = scan_cluster(kube_target.kubeconfig)
    assert [f.fingerprint for f in result.findings] == [f.fingerprint for f in full.findings]


def test_expired_continue_token_restarts_the_list(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["apps/deployments"] = Fault(status=410, times=1)
    start = len(kube_server.log)
    result, _ = scan_cluster(kube_target.kubeconfig, page_size=2)
    deploys = kube_server.log[start:]
    statuses = [
        (("continue" in r.query), r.status)
        for r in deploys
        if r.path == "/apis/apps/v1/deployments"
    ]
    assert statuses == [(False, 200), (True, 410), (False, 200), (True, 200)]
    assert problems(result) == expected_problems()


def test_throttling_is_retried_honouring_retry_after(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["apps/deployments"] = Fault(status=429, retry_after=2, times=2)
    kube_server.faults["velero.io/schedules"] = Fault(status=503, times=1)
    slept: list[float] = []
    result, _ = scan_cluster(kube_target.kubeconfig, sleep=slept.append)
    assert slept[:2] == [2.0, 2.0] and len(slept) == 3 and 0 < slept[2] <= 0.5
    assert problems(result) == expected_problems()
    assert not [c for c in result.coverage if c.kinds]


def test_persistent_server_errors_become_rule_errors(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["velero.io/schedules"] = Fault(status=500)
    result, client = scan_cluster(kube_target.kubeconfig)
    gap = next(c for c in result.coverage if c.kinds == ("velero.io/Schedule",))
    assert "500" in gap.reason
    errors = {
        (f.rule_id, f.resource.kind if f.resource else "")
        for f in result.findings
        if f.status is Status.ERROR
    }
    assert errors == {("LG-BAK-001", "Schedule")}
    assert client.max_attempts == 5
    assert (
        len(
            [
                r
                for r in kube_server.log
                if r.path == "/apis/velero.io/v1/schedules" and r.status == 500
            ]
        )
        >= 5
    )


def test_forbidden_kind_makes_dependent_rules_error_and_exit_1(kube_target: KubeTarget) -> None:
    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited")
    res = CliRunner().invoke(
        cluster, ["--kubeconfig", str(limited), "--format", "json"], catch_exceptions=False
    )
    assert res.exit_code == 1
    doc = json.loads(res.output)
    errors = {(f["ruleId"], f["status"]) for f in doc["findings"] if f["status"] == "error"}
    assert errors == {("LG-RBAC-001", "error")}
    gap = [c for c in doc["coverage"] if "clusterrolebindings" in c["target"]]
    assert gap and "forbidden" in gap[0]["reason"]
    # the other rules still ran: the RoleBinding violation is still reported
    fails = {(f["ruleId"], f["resource"]["name"]) for f in doc["findings"] if f["status"] == "fail"}
    assert ("LG-RBAC-001", "finance-admins") in fails


def test_timeout_is_a_coverage_gap_and_an_error(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["traefik.io/ingressroutes"] = Fault(delay=1.5)
    result, _ = scan_cluster(kube_target.kubeconfig, timeout_s=0.4)
    gap = next(c for c in result.coverage if c.kinds == ("traefik.io/IngressRoute",))
    assert "Timeout" in gap.reason and "0.4s" in gap.reason
    errors = {(f.rule_id, f.status) for f in result.findings if f.status is Status.ERROR}
    assert errors == {("LG-TLS-001", Status.ERROR)}
    assert result.gate_failed(Severity.CRITICAL)  # an error fails any threshold


def test_unreachable_server_errors_every_rule(kube_target: KubeTarget, tmp_path: Path) -> None:
    cfg = yaml.safe_load(kube_target.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead = tmp_path / "dead"
    dead.write_text(yaml.safe_dump(cfg))
    result, _ = scan_cluster(dead, timeout_s=1)
    errored = {f.rule_id for f in result.findings if f.status is Status.ERROR}
    assert errored == {"LG-BAK-001", "LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"}


def test_bad_credentials_are_an_explicit_gap(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig_for("expired-token", "expired"))
    gap = next(c for c in result.coverage if c.kinds)
    assert gap.reason.startswith("discovery failed: 401 Unauthorized")
    assert {f.rule_id for f in result.findings} == {
        "LG-BAK-001",
        "LG-IMG-001",
        "LG-RBAC-001",
        "LG-TLS-001",
    }  # not LG-SEC-001: Secrets were not asked for
    assert all(f.status is Status.ERROR for f in result.findings)


def test_progress_names_each_kind(kube_target: KubeTarget) -> None:
    said: list[str] = []
    scan_cluster(kube_target.kubeconfig, progress=said.append)
    kinds = {line.split(":", 1)[0] for line in said}
    assert {
        "Namespace",
        "apps/Deployment",
        "velero.io/Schedule",
        "traefik.io/IngressRoute",
    } <= kinds
    assert all(" read in " in line for line in said)


def test_failed_group_discovery_errors_the_rules_of_that_group(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["discovery:velero.io/v1"] = Fault(status=503)
    result, _ = scan_cluster(kube_target.kubeconfig)
    gap = next(c for c in result.coverage if c.kinds)
    assert (gap.target, gap.kinds) == ("/apis/velero.io/v1", ("velero.io/Schedule",))
    assert "503" in gap.reason
    errors = {
        (f.rule_id, f.status.value, f.resource.kind if f.resource else "", "", "*")
        for f in result.findings
        if f.status is Status.ERROR
    }
    assert errors == {("LG-BAK-001", "error", "Schedule", "", "*")}
    expected = {p for p in expected_problems() if p[0] != "LG-BAK-001"}
    assert {p for p in problems(result) if p[1] == "fail"} == expected
