"""A full audit of the odoo-finance fixture cluster through the real client, source and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli.cluster import cluster
from scanner.model import Status
from tests.kubeapi.fixtures import CLUSTER_FIXTURE, LIMITED_TOKEN, KubeTarget
from tests.kubeapi.scan import expected_problems, problems, scan_cluster
from tests.kubeapi.server import FixtureApiServer

TEST_RULES = Path(__file__).parent / "kubeapi" / "rules"
PLANTED = (
    "sk_live_51HqLyjWDarjtT1zdp7dcXq8ZfWv3Kx",  # env value in odoo-worker
    "Xq7!pL9#vR2@mK4$wZ8",  # ConfigMap data
    "UGxhbnRlZFNlY3JldFZhbHVlLWRvLW5vdC1sZWFr",  # Secret data (base64)
    "PlantedSecretValue-do-not-leak",
    "planted-redis-password-7c1e9",
)


def test_full_audit_finds_exactly_the_expected_violations(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    found = problems(result)
    if kube_target.server is None:  # a real cluster has objects of its own
        names = {(e[2], e[3], e[4]) for e in expected_problems()}
        found = {p for p in found if (p[2], p[3], p[4]) in names}
    assert found == expected_problems()


def test_findings_carry_cluster_origin_and_git_source(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    by_name = {
        f.resource.name: f for f in result.findings if f.resource and f.rule_id == "LG-IMG-001"
    }
    worker, redis = by_name["odoo-worker"], by_name["redis"]
    assert worker.origin.cluster.startswith("https://")
    assert worker.origin.uid and worker.origin.resource_version
    assert worker.origin.git_source == "argocd:odoo-finance-prod"
    assert redis.origin.git_source == "flux:Kustomization/flux-system/finance-cache"
    assert by_name["odoo"].status is Status.PASS


def test_missing_crd_is_a_note_not_an_error(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    notes = {c.target: c for c in result.coverage}
    legacy = notes["traefik.containo.us/IngressRoute"]
    assert "CRD not installed" in legacy.reason and legacy.kinds == ()
    assert not [f for f in result.findings if f.status is Status.ERROR]


def test_secrets_are_skipped_unless_asked(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    start = len(kube_server.log)
    result, _ = scan_cluster(kube_target.kubeconfig)
    assert not [r for r in kube_server.log[start:] if "secrets" in r.path]
    assert any("--include-secrets" in c.reason for c in result.coverage)


def test_secret_bodies_are_never_requested(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    start = len(kube_server.log)
    result, _ = scan_cluster(kube_target.kubeconfig, include_secrets=True)
    secret_requests = [
        r for r in kube_server.log[start:] if r.path.endswith("/secrets") or "/secrets/" in r.path
    ]
    assert secret_requests, "Secrets were not listed at all"
    assert all(r.metadata_only for r in secret_requests), secret_requests
    secrets = [f for f in result.findings if f.resource and f.resource.kind == "Secret"]
    # LG-SEC-001 judges files only (cluster Secrets are meant to hold values); metadata rules
    # such as LG-SEC-006 (values in annotations) and LG-GITOPS-001 (GitOps owner labels)
    # may judge the metadata-only objects
    assert secrets and {f.rule_id for f in secrets} == {"LG-SEC-006", "LG-GITOPS-001"}
    owners = {f.resource.name: f.status for f in secrets if f.rule_id == "LG-GITOPS-001"}
    assert owners == {"odoo-db": Status.PASS, "redis-auth": Status.PASS}


def test_planted_secrets_never_reach_any_output(kube_target: KubeTarget, tmp_path: Path) -> None:
    sarif, json_out = tmp_path / "out.sarif", tmp_path / "out.json"
    res = CliRunner().invoke(
        cluster,
        [
            "--kubeconfig",
            str(kube_target.kubeconfig),
            "--include-secrets",
            "--sarif",
            str(sarif),
            "--json",
            str(json_out),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 1, res.output
    for text in (res.output, sarif.read_text(), json_out.read_text()):
        for value in PLANTED:
            assert value not in text


def test_configmap_data_and_env_values_are_redacted_in_evidence(
    kube_target: KubeTarget, tmp_path: Path
) -> None:
    """A rule that quotes ConfigMap data and env values as evidence shows fingerprints only."""
    from scanner.rules import load_rules
    from scanner.shipped import rules_dir

    rules = load_rules([rules_dir(), TEST_RULES], include=["LG-TEST-900"])
    result, _ = scan_cluster(kube_target.kubeconfig, rules=rules)
    from scanner.reporters import get_reporter

    quoted = {f.resource.name for f in result.findings if f.resource and f.rule_id == "LG-TEST-900"}
    assert {"odoo-conf", "odoo-worker"} <= quoted
    for name in ("json", "sarif", "table"):
        text = get_reporter(name).render(result)
        assert "[REDACTED " in text
        for value in PLANTED:
            assert value not in text, (name, value)


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_cli_formats_name_the_cluster(kube_target: KubeTarget, fmt: str) -> None:
    res = CliRunner().invoke(
        cluster,
        ["--kubeconfig", str(kube_target.kubeconfig), "--format", fmt],
        catch_exceptions=False,
    )
    assert res.exit_code == 1
    doc = json.loads(res.output)
    assert doc


def test_fixture_folder_has_expectations() -> None:
    assert (CLUSTER_FIXTURE / "expected-findings.yaml").is_file()


def test_objects_owned_by_controllers_are_judged_through_their_owner(
    kube_target: KubeTarget,
) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    judged = {(f.resource.kind, f.resource.name) for f in result.findings if f.resource}
    assert ("ReplicaSet", "odoo-worker-6b8d9c7f4") not in judged
    assert ("Pod", "odoo-worker-6b8d9c7f4-x2k9p") not in judged
    assert ("Pod", "debug-shell") in judged
    notes = {c.target: c.reason for c in result.coverage}
    if kube_target.server is not None:
        assert (
            notes["/apis/apps/v1/replicasets"]
            == "1 replicasets owned by controllers were judged through their owners"
        )
        assert (
            notes["/api/v1/pods"] == "1 pods owned by controllers were judged through their owners"
        )


def test_namespace_filter(kube_server: FixtureApiServer, kube_target: KubeTarget) -> None:
    start = len(kube_server.log)
    result, _ = scan_cluster(kube_target.kubeconfig, namespaces=["velero"])
    got = problems(result)
    assert {
        ("LG-BAK-001", "fail", "Schedule", "velero", "finance-hourly"),
        ("LG-RBAC-001", "fail", "ClusterRoleBinding", "", "ops-breakglass"),  # cluster-scoped: kept
    } <= got
    # only that namespace and cluster-scoped objects, each also in the full audit
    assert got <= {p for p in expected_problems() if p[3] in ("velero", "")}
    paths = {r.path for r in kube_server.log[start:]}
    # a plain name lists one namespace; context analyzers need is listed cluster-wide
    assert "/apis/apps/v1/namespaces/velero/deployments" in paths
    assert "/apis/apps/v1/deployments" not in paths
    assert "/apis/velero.io/v1/schedules" in paths
    assert result.target["namespaces"] == "velero"
    globbed, _ = scan_cluster(kube_target.kubeconfig, namespaces=["finance-*"])
    assert {p[3] for p in problems(globbed)} == {"finance-prod", ""}


@pytest.mark.parametrize("selection", [["finance-prod"], ["finance-p*"]])
def test_namespace_scoped_scan_judges_exactly_what_the_full_audit_does_there(
    kube_target: KubeTarget, selection: list[str]
) -> None:
    """Schedules (velero), TLSOptions and Middlewares (traefik) and RBAC elsewhere are read as
    context: no false "not backed up" or "no TLS option" finding on the selected namespace."""
    result, _ = scan_cluster(kube_target.kubeconfig, namespaces=selection)
    full = expected_problems()
    # a Namespace is in scope by its own name; other cluster-scoped objects always are
    in_scope = {
        p for p in full if p[3] == "finance-prod" or (p[3] == "" and p[2] != "Namespace")
    } | {p for p in full if p[2] == "Namespace" and p[4] == "finance-prod"}
    assert problems(result) == in_scope
    assert not result.incomplete()
    judged = {(f.rule_id, f.resource.name) for f in result.findings if f.resource}
    assert ("LG-BAK-002", "finance-prod") in judged  # judged, and passed
    assert not any(f.resource and f.resource.namespace == "velero" for f in result.findings)


def test_namespace_filter_is_recorded_in_json_and_sarif(kube_target: KubeTarget) -> None:
    for fmt in ("json", "sarif"):
        res = CliRunner().invoke(
            cluster,
            ["--kubeconfig", str(kube_target.kubeconfig), "-n", "finance-prod", "--format", fmt],
            catch_exceptions=False,
        )
        doc = json.loads(res.output)
        target = doc["target"] if fmt == "json" else doc["runs"][0]["properties"]["target"]
        assert target["namespaces"] == "finance-prod", fmt


def test_owned_objects_are_judged_when_their_owner_does_not_meet_the_rule(
    kube_target: KubeTarget,
) -> None:
    from scanner.rules import load_rules

    rules = load_rules([TEST_RULES], include=["LG-TEST-901"])
    result, _ = scan_cluster(kube_target.kubeconfig, rules=rules)
    judged = {f.resource.name for f in result.findings if f.resource and f.resource.kind == "Pod"}
    assert judged == {"debug-shell", "odoo-worker-6b8d9c7f4-x2k9p"}


def test_cluster_sarif_validates_against_the_official_schema(
    kube_target: KubeTarget, testdata: Path
) -> None:
    import jsonschema

    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited")  # includes a kind-level error
    res = CliRunner().invoke(
        cluster, ["--kubeconfig", str(limited), "--format", "sarif"], catch_exceptions=False
    )
    log = json.loads(res.output)
    schema = json.loads((testdata / "sarif" / "sarif-schema-2.1.0.json").read_text())
    assert list(jsonschema.Draft4Validator(schema).iter_errors(log)) == []
    statuses = {r["properties"]["status"] for r in log["runs"][0]["results"]}
    assert statuses == {"fail", "error"}
