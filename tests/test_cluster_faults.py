"""A cluster that pages, throttles, forbids, expires and stalls: coverage is complete or the
gap is explicit and the affected rules report ``error``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from scanner.cli.cluster import cluster
from scanner.model import Severity, Status
from scanner.rules import load_rules
from tests.kubeapi.fixtures import LIMITED_TOKEN, KubeTarget
from tests.kubeapi.scan import (
    TEST_RULE_EXCLUDES,
    expected_problems,
    problems,
    rules_judging,
    rules_requiring,
    scan_cluster,
)
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
    schedule_rules = {(rule_id, "Schedule") for rule_id in rules_judging("velero.io/Schedule")}
    assert ("LG-BAK-001", "Schedule") in schedule_rules
    # every Schedule rule errors, and so do namespace coverage, the recovery point per scope
    # and the last-backup check (a namespace only Velero schedules cover is judged by Velero
    # backups)
    assert {e for e in errors if e[1] == "Schedule"} == schedule_rules
    namespace_rules = {"LG-BAK-002", "LG-BAK-010", "LG-BAK-016"}
    assert {e[0] for e in errors if e[1] == "Namespace"} == namespace_rules
    # which locations production schedules write to is unknown too
    assert {e[0] for e in errors if e[1] == "BackupStorageLocation"} == {"LG-BAK-006"}
    assert {e[1] for e in errors} == {"Schedule", "Namespace", "BackupStorageLocation"}
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


def test_forbidden_kind_makes_dependent_rules_error_and_exit_4(
    kube_target: KubeTarget, tmp_path: Path
) -> None:
    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited")
    config = tmp_path / "ledgergate.yaml"
    config.write_text(f"rules:\n  exclude: {TEST_RULE_EXCLUDES}\n")
    res = CliRunner().invoke(
        cluster,
        ["--kubeconfig", str(limited), "--format", "json", "--config", str(config)],
        catch_exceptions=False,
    )
    assert res.exit_code == 4  # scan incomplete, even though findings exist too
    doc = json.loads(res.output)
    errors = {f["ruleId"] for f in doc["findings"] if f["status"] == "error"}
    assert "LG-RBAC-001" in errors
    # rules on bindings, and the separation-of-duties rules, whose RBAC context is unread
    assert errors == rules_judging("ClusterRoleBinding") | rules_requiring("rbacSubject")
    sod = [f for f in doc["findings"] if f["resource"]["kind"] == "RbacSubject"]
    assert sod and all(f["status"] == "error" for f in sod)
    assert (
        "context rbac.authorization.k8s.io/ClusterRoleBinding could not be read"
        in (sod[0]["message"])
    )
    gap = [c for c in doc["coverage"] if "clusterrolebindings" in c["target"]]
    assert gap and "forbidden" in gap[0]["reason"] and gap[0]["category"] == "gap"
    # the other rules still ran: a Schedule's short retention is still reported (LG-RBAC-001
    # judges effective permissions, so without ClusterRoleBindings it is an error, above)
    fails = {(f["ruleId"], f["resource"]["name"]) for f in doc["findings"] if f["status"] == "fail"}
    assert ("LG-BAK-001", "finance-hourly") in fails


def test_timeout_is_a_coverage_gap_and_an_error(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    kube_server.faults["traefik.io/ingressroutes"] = Fault(delay=1.5)
    result, _ = scan_cluster(kube_target.kubeconfig, timeout_s=0.4)
    gap = next(c for c in result.coverage if c.kinds == ("traefik.io/IngressRoute",))
    assert "Timeout" in gap.reason and "0.4s" in gap.reason
    errors = {f.rule_id for f in result.findings if f.status is Status.ERROR}
    assert "LG-TLS-001" in errors
    assert errors == rules_judging("IngressRoute")
    assert result.gate_failed(Severity.CRITICAL)  # an error fails any threshold


def test_unreachable_server_errors_every_rule(kube_target: KubeTarget, tmp_path: Path) -> None:
    cfg = yaml.safe_load(kube_target.kubeconfig.read_text())
    cfg["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead = tmp_path / "dead"
    dead.write_text(yaml.safe_dump(cfg))
    result, _ = scan_cluster(dead, timeout_s=1)
    errored = {f.rule_id for f in result.findings if f.status is Status.ERROR}
    judged = {k for r in load_rules(exclude=TEST_RULE_EXCLUDES) for _, k in r.match.kinds}
    assert {"LG-BAK-001", "LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"} <= errored
    # every rule over a kind the cluster serves; not LG-SEC-001: Secrets were not asked for
    assert "LG-SEC-001" not in errored
    assert errored <= rules_judging(*judged)


def test_bad_credentials_are_an_explicit_gap(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig_for("expired-token", "expired"))
    gap = next(c for c in result.coverage if c.kinds)
    assert gap.reason.startswith("discovery failed: 401 Unauthorized")
    ids = {f.rule_id for f in result.findings}
    assert {"LG-BAK-001", "LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"} <= ids
    assert "LG-SEC-001" not in ids  # Secrets were not asked for
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
    assert gap.target == "/apis/velero.io/v1"
    assert "velero.io/Schedule" in gap.kinds and all(k.startswith("velero.io/") for k in gap.kinds)
    assert "503" in gap.reason
    errors = {f.rule_id for f in result.findings if f.status is Status.ERROR}
    # the rules on Velero kinds, and the namespace rules that need them as context:
    # coverage and recovery point (schedules), last backup (backups, schedules), restore
    # drill (restores)
    unread = list(gap.kinds)
    context = {"LG-BAK-002", "LG-BAK-010", "LG-BAK-014", "LG-BAK-016"}
    assert errors == rules_judging(*unread) | context
    expected = {p for p in expected_problems() if p[0] not in errors}
    assert {p for p in problems(result) if p[1] == "fail"} == expected
