"""The nightly-audit manifests grant exactly what the cluster source reads, read-only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.analyzers import kinds_read_by_analyzers
from scanner.rules import load_rules
from scanner.sources.kubeplan import matched_kinds, plan
from tests.conftest import ROOT
from tests.kubeapi.fixtures import ROLE_TOKEN, ROLE_USER, KubeTarget
from tests.kubeapi.scan import expected_problems, problems, scan_cluster
from tests.kubeapi.server import FixtureApiServer

DEPLOY = ROOT / "deploy" / "nightly-audit"
READ_VERBS = {"get", "list"}
KUBECTL = shutil.which("kubectl")


def _render(folder: Path) -> list[dict[str, Any]]:
    if KUBECTL is None:
        pytest.skip("kubectl (with built-in kustomize) not installed")
    done = subprocess.run(
        [KUBECTL, "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _grants(docs: list[dict[str, Any]]) -> tuple[set[tuple[str, str]], set[str]]:
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    pairs = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    return pairs, verbs


def test_base_clusterrole_matches_what_the_scanner_lists() -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "base" / "clusterrole.yaml").read_text()))
    pairs, verbs = _grants(docs)
    expected = plan(matched_kinds(load_rules()), kinds_read_by_analyzers()).resources(
        include_secrets=False
    )
    assert pairs == expected, f"ClusterRole should grant exactly: {sorted(expected)}"
    assert verbs <= READ_VERBS
    assert ("", "secrets") not in pairs
    assert not any("*" in g or "*" in r for g, r in pairs)


def _job(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "CronJob")


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = _job(docs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec["containers"][0]  # type: ignore[no-any-return]


def test_rendered_base_is_read_only_and_complete() -> None:
    docs = _render(DEPLOY / "base")
    kinds = {d["kind"] for d in docs}
    assert kinds == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolumeClaim",
        "CronJob",
        "NetworkPolicy",
        "Schedule",
        "ConfigMap",
    }
    pairs, verbs = _grants(docs)
    assert pairs == plan(matched_kinds(load_rules()), kinds_read_by_analyzers()).resources(
        include_secrets=False
    )
    assert verbs <= READ_VERBS
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "scanner", "namespace": "ledgergate"}
    ]
    pod = _job(docs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "scanner"
    assert _container(docs)["command"] == ["/usr/bin/python3", "-I", "-B", "-m", "scanner"]
    assert _container(docs)["args"][:3] == ["--quiet", "scan", "cluster"]
    policies = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    policy = policies["ledgergate-scanner"]
    assert policy["ingress"] == [] and set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert ports == {53, 443, 6443}
    namespaced = [
        d for d in docs if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")
    ]
    assert {d["metadata"]["namespace"] for d in namespaced if d["kind"] != "Schedule"} == {
        "ledgergate"
    }


def test_secret_metadata_overlay_adds_only_secret_list() -> None:
    docs = _render(DEPLOY / "overlays" / "with-secret-metadata")
    pairs, verbs = _grants(docs)
    assert pairs == plan(matched_kinds(load_rules()), kinds_read_by_analyzers()).resources(
        include_secrets=True
    )
    assert verbs <= READ_VERBS
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    secret_rules = [r for r in role["rules"] if "secrets" in r["resources"]]
    assert secret_rules == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]
    assert _container(docs)["args"][-1] == "--include-secrets"


def test_scan_with_exactly_the_granted_access_reads_everything(
    kube_server: FixtureApiServer, kube_target: KubeTarget
) -> None:
    """Against a server enforcing only the ClusterRole's grants, nothing is forbidden."""
    docs = list(yaml.safe_load_all((DEPLOY / "base" / "clusterrole.yaml").read_text()))
    pairs, _ = _grants(docs)
    kube_server.api.authz.allowed[ROLE_USER] = pairs
    try:
        start = len(kube_server.log)
        result, _ = scan_cluster(kube_target.kubeconfig_for(ROLE_TOKEN, "role"))
    finally:
        kube_server.api.authz.allowed[ROLE_USER] = set()
    assert [r for r in kube_server.log[start:] if r.status == 403] == []
    assert problems(result) == expected_problems()
