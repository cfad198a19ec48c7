"""Workloads are found through the kinds table: every pod template meets every workload rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner import kinds
from scanner.analyzers import default_analyzers
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory, effective_security
from scanner.model import Status
from scanner.rules import load_rules
from scanner.sources.repo import RepoSource

PRIVILEGED_POD_SPEC = """
      containers:
        - name: app
          image: registry.finance.internal/erp/odoo:17.0
          securityContext: {privileged: true}
"""

WORKLOAD_DOCS = {
    ("argoproj.io/v1alpha1", "Rollout"): "spec:\n  template:\n    spec:" + PRIVILEGED_POD_SPEC,
    ("apps.openshift.io/v1", "DeploymentConfig"): "spec:\n  template:\n    spec:"
    + PRIVILEGED_POD_SPEC,
    ("v1", "ReplicationController"): "spec:\n  template:\n    spec:" + PRIVILEGED_POD_SPEC,
    ("v1", "PodTemplate"): "template:\n  metadata: {}\n  spec:\n    containers:\n"
    "      - {name: app, image: r.example/a:1, securityContext: {privileged: true}}\n",
}


def _scan(tmp_path: Path, text: str, rule_ids: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    (tmp_path / "w.yaml").write_text(text)
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    rules = load_rules(include=rule_ids or ("*",))
    return Engine(rules, default_params(), default_analyzers()).run(inventory)


def test_every_kind_with_a_pod_template_is_a_workload_kind() -> None:
    with_template = {(k.group, k.kind) for k in kinds.KINDS if k.pod_spec_path}
    assert set(kinds.WORKLOAD_KINDS) == with_template
    assert {("argoproj.io", "Rollout"), ("", "ReplicationController"), ("", "PodTemplate")} <= (
        with_template
    )


def test_workload_rules_reach_every_workload_kind() -> None:
    for rule in load_rules():
        if rule.match.workloads:
            assert set(kinds.WORKLOAD_KINDS) <= set(rule.match.kinds), rule.id


@pytest.mark.parametrize(("api_version", "kind"), sorted(WORKLOAD_DOCS), ids=lambda v: str(v))
def test_privileged_container_fails_in_every_workload_kind(
    tmp_path: Path, api_version: str, kind: str
) -> None:
    body = WORKLOAD_DOCS[(api_version, kind)]
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: w, namespace: ci}}\n{body}"
    findings, _ = _scan(tmp_path, text, ("LG-WKL-001", "LG-IMG-002"))
    statuses = {(f.rule_id, f.status) for f in findings}
    assert (("LG-WKL-001", Status.FAIL)) in statuses
    assert (("LG-IMG-002", Status.PASS)) in statuses


def test_rollout_with_workload_ref_is_judged_through_the_referenced_deployment(
    tmp_path: Path,
) -> None:
    text = (
        # a non-production namespace: an unclassified one would be judged as production
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r, namespace: ci-dev}\n"
        "spec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: odoo}\n"
    )
    findings, skipped = _scan(tmp_path, text, ("LG-WKL-*",))
    assert findings == []
    assert skipped == []


def test_unknown_kind_carrying_containers_is_skipped_with_a_warning(tmp_path: Path) -> None:
    text = (
        "apiVersion: example.com/v1\nkind: AppDeployment\nmetadata: {name: a, namespace: ci}\n"
        "spec:\n  runtime:\n    podSpec:" + PRIVILEGED_POD_SPEC
    )
    _, skipped = _scan(tmp_path, text)
    assert len(skipped) == 1
    assert skipped[0].reason.startswith("warning: unknown kind AppDeployment")
    assert "carries containers" in skipped[0].reason


def test_unknown_kind_without_containers_is_a_plain_skip(tmp_path: Path) -> None:
    text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\nspec: {size: 3}\n"
    _, skipped = _scan(tmp_path, text)
    assert [s.reason for s in skipped] == ["unknown kind Widget (example.com/v1): no rule applies"]


def test_effective_security_inherits_from_the_pod_and_survives_null_contexts() -> None:
    pod = {"securityContext": {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}}
    container = {"securityContext": None, "ports": [{"containerPort": 80, "hostPort": 8080}]}
    found = effective_security(pod, container)
    assert found["runAsUser"] == 1000
    assert found["seccompProfileType"] == "RuntimeDefault"
    assert found["privileged"] is False
    assert found["hostPorts"] == [8080]
    assert found["capAdd"] == [] and found["limits"] == []
    own = effective_security(
        pod, {"securityContext": {"runAsUser": 0, "capabilities": {"add": ["cap_net_raw"]}}}
    )
    assert own["runAsUser"] == 0
    assert own["capAdd"] == ["NET_RAW"]
