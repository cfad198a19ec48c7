"""GitOps provenance in ``scan cluster``: owners, synced revisions, and --repo change links."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli.cluster import cluster
from scanner.evidence import archive
from scanner.evidence.population import read_population
from scanner.findings import ScanResult
from scanner.model import Finding, Status
from tests.gitrepos.builder import Keys, Repo, manifest
from tests.kubeapi.fixtures import (
    CLUSTER_FIXTURE,
    LIMITED_TOKEN,
    LIMITED_USER,
    SCANNER_TOKEN,
    KubeTarget,
    start_server,
)
from tests.kubeapi.scan import scan_cluster
from tests.kubeapi.server import FixtureApiServer, kubeconfig

PROD_REVISION = "3f1c9a7b2e4d6f8091a2b3c4d5e6f708192a3b4c"
REPORTS_REVISION = "9c2f5a8d1e4b7c0f3a6d9e2b5c8f1a4d7e0b3c6f"
FLUX_REVISION = "5b8e1a4d7c0f3b6e9a2d5c8f1b4e7a0d3c6f9b2e"


def _finding(result: ScanResult, rule: str, kind: str, name: str) -> Finding:
    return next(
        f
        for f in result.findings
        if f.rule_id == rule and f.resource and (f.resource.kind, f.resource.name) == (kind, name)
    )


def test_owned_objects_record_owner_and_synced_revision(kube_target: KubeTarget) -> None:
    kube_target.need_server()
    result, _ = scan_cluster(kube_target.kubeconfig)
    odoo = _finding(result, "LG-GITOPS-001", "Deployment", "odoo")
    assert odoo.status is Status.PASS
    assert [e.value for e in odoo.evidence] == [
        f"argocd:odoo-finance-prod @ {PROD_REVISION} via metadata"
    ]
    redis = _finding(result, "LG-GITOPS-001", "StatefulSet", "redis")
    assert redis.evidence[0].value.startswith(
        f"flux:Kustomization/flux-system/finance-cache @ {FLUX_REVISION}"
    )
    shell = _finding(result, "LG-GITOPS-001", "Pod", "debug-shell")
    assert shell.status is Status.FAIL and shell.severity.value == "critical"
    assert "no Argo CD tracking or Flux labels" in shell.message


def test_out_of_sync_and_feature_branch_applications_are_findings(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    reports = _finding(result, "LG-GITOPS-003", "Application", "odoo-finance-reports")
    assert reports.status is Status.FAIL and "feature/fin-12-month-end-report" in reports.message
    drift = _finding(result, "LG-GITOPS-002", "Application", "odoo-finance-reports")
    assert drift.status is Status.FAIL and "OutOfSync" in drift.message
    prod = _finding(result, "LG-GITOPS-002", "Application", "odoo-finance-prod")
    assert prod.status is Status.PASS and prod.evidence[0].value == f"Synced @ {PROD_REVISION}"


def test_argocd_admin_role_counts_as_deploy_and_approve(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig)
    admins = _finding(result, "LG-RBAC-100", "RbacSubject", "Group/oidc:platform-admins")
    assert admins.status is Status.FAIL
    assert "Argo CD built-in role:admin" in admins.message
    deployers = [
        f
        for f in result.findings
        if f.resource and f.resource.name == "Group/oidc:finance-deployers"
    ]
    assert [f.status for f in deployers] == [Status.PASS]  # sync alone is one duty


def _serve(folder: Path, work: Path, token: str = SCANNER_TOKEN) -> tuple[FixtureApiServer, Path]:
    server = start_server(folder, work)
    assert server.pki is not None
    config = work / "kubeconfig"
    config.write_text(yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), token)))
    return server, config


def test_unreadable_owners_make_provenance_an_error_not_a_fail_or_pass(tmp_path: Path) -> None:
    server, _ = _serve(CLUSTER_FIXTURE, tmp_path)
    try:
        server.api.authz.deny(LIMITED_USER, "argoproj.io", "applications")
        limited = tmp_path / "limited"
        assert server.pki is not None
        limited.write_text(
            yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), LIMITED_TOKEN))
        )
        result, _ = scan_cluster(limited)
    finally:
        server.stop()
    odoo = _finding(result, "LG-GITOPS-001", "Deployment", "odoo")
    assert odoo.status is Status.ERROR
    assert "argoproj.io/Application could not be read" in odoo.message
    # the provenance fact as a whole rests on every owner kind: an unread one makes it an
    # error even for objects a readable (Flux) owner tracks; never a silent pass
    redis = _finding(result, "LG-GITOPS-001", "StatefulSet", "redis")
    assert redis.status is Status.ERROR


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    with Keys(tmp_path / "keys") as made:
        yield made


def test_repo_links_each_synced_revision_to_its_change(tmp_path: Path, keys: Keys) -> None:
    repo = Repo(tmp_path / "gitops", keys)
    repo.commit({"README.md": "odoo\n"}, "FIN-0 layout", sign="gpg:alice")
    repo.git("checkout", "-q", "-b", "fin-7")
    repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod")}, "FIN-7 odoo", sign="gpg:alice"
    )
    repo.git("checkout", "-q", "-b", "fin-12")
    unmerged = repo.commit({"apps/prod/reports.yaml": manifest("r", "finance-prod")}, "FIN-12 wip")
    repo.git("checkout", "-q", "main")
    good = repo.merge(
        "fin-7", "Merge pull request #7 from finance/fin-7\n\nFIN-7 odoo", who="bob", sign="ssh:bob"
    )
    bad = repo.commit({"apps/prod/hotfix.yaml": manifest("hotfix", "finance-prod")}, "hotfix")
    folder = tmp_path / "estate"
    shutil.copytree(CLUSTER_FIXTURE, folder)
    gitops = folder / "gitops.yaml"
    text = gitops.read_text()
    for old, new in ((PROD_REVISION, good), (REPORTS_REVISION, unmerged), (FLUX_REVISION, bad)):
        text = text.replace(old, new)
    gitops.write_text(text)
    server, config = _serve(folder, tmp_path / "srv")
    try:
        res = CliRunner().invoke(
            cluster,
            [
                "--kubeconfig",
                str(config),
                "--repo",
                str(repo.path),
                "--format",
                "json",
                "--keyring",
                str(keys.keyring("alice")),
                "--allowed-signers",
                str(keys.allowed_signers("bob")),
                "--evidence",
                str(tmp_path / "bundle"),
            ],
            catch_exceptions=False,
        )
    finally:
        server.stop()
    assert res.exit_code == 1
    doc = json.loads(res.output)
    found = {
        (f["resource"]["name"], f["status"]): f
        for f in doc["findings"]
        if f["ruleId"] == "LG-GITOPS-004"
    }
    assert "not on the first-parent history" in found[("odoo-finance-reports", "fail")]["message"]
    flux = found[("finance-cache", "fail")]["message"]
    assert "LG-CHG-005" in flux and bad in flux
    assert len(found) == 2  # the pass is counted, and what it recorded is in the population
    assert {p["ruleId"]: p.get("recorded") for p in doc["passes"]}["LG-GITOPS-004"] == 1
    observed = {
        r["observed"]
        for r in read_population(archive.read(tmp_path / "bundle"))
        if (r["rule"], r["name"], r["result"]) == ("LG-GITOPS-004", "odoo-finance-prod", "pass")
    }
    assert observed == {f"status={good} ticket FIN-7 approved by bob@finance.example"}


def test_each_objects_owner_and_revision_reach_the_auditor_counted_in_the_reports(
    kube_target: KubeTarget,
) -> None:
    """What a pass recorded is counted per rule in the JSON and the HTML, and listed
    object by object in the bundle's population (the reports stay small at nightly scale)."""
    from scanner.reporters import get_reporter
    from scanner.reporters.bundle import REPORT, BundleInputs, build_files

    result, _ = scan_cluster(kube_target.kubeconfig)
    doc = json.loads(get_reporter("json").render(result))
    assert not [f for f in doc["findings"] if f["status"] == "pass"]
    recorded = [
        f for f in result.findings if f.rule_id == "LG-GITOPS-001" and f.status is Status.PASS
    ]
    assert recorded and all(f.evidence for f in recorded)
    counted = {p["ruleId"]: p.get("recorded") for p in doc["passes"]}
    assert counted["LG-GITOPS-001"] == len(recorded)
    html = get_reporter("html").render(result)
    assert '<tr class="recorded-count" data-rule="LG-GITOPS-001">' in html
    assert PROD_REVISION not in html
    files = build_files(BundleInputs(result))
    assert 'observed</code> column of <a href="population.csv.gz">' in files[REPORT].decode()
    rows = read_population(files)
    odoo = {
        r["observed"]
        for r in rows
        if (r["rule"], r["kind"], r["name"]) == ("LG-GITOPS-001", "Deployment", "odoo")
    }
    assert odoo == {f"metadata=argocd:odoo-finance-prod @ {PROD_REVISION} via metadata"}


def test_namespace_filter_still_reads_the_gitops_owners(kube_target: KubeTarget) -> None:
    result, _ = scan_cluster(kube_target.kubeconfig, namespaces=["finance-prod"])
    odoo = _finding(result, "LG-GITOPS-001", "Deployment", "odoo")
    assert odoo.status is Status.PASS, odoo.message
    assert _finding(result, "LG-GITOPS-001", "Pod", "debug-shell").status is Status.FAIL
