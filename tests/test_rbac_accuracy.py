"""RBAC judged by effective permissions, not names: issue 18 section 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.analyzers import default_analyzers
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.rules import load_rules
from scanner.sources.repo import RepoSource

BINDINGS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vendor-operator, namespace: finance-prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: vendor-operator-role}
subjects:
  - {kind: ServiceAccount, name: vendor-operator, namespace: finance-prod}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: typo, namespace: finance-prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: vendor-operater-role}
subjects:
  - {kind: ServiceAccount, name: vendor-operator, namespace: finance-prod}
"""

AGGREGATED_ADMIN = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: platform-root}
aggregationRule:
  clusterRoleSelectors:
    - matchLabels: {example.com/aggregate-to-root: "true"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: root-part
  labels: {example.com/aggregate-to-root: "true"}
rules:
  - {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: root, namespace: finance-prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: platform-root}
subjects:
  - {kind: User, name: mallory@finance.example, apiGroup: rbac.authorization.k8s.io}
"""


def _statuses(tmp_path: Path, text: str, rule: str, **params: Any) -> dict[str, Status]:
    (tmp_path / "rbac.yaml").write_text(text)
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    merged = {**default_params(), **params}
    findings, _ = Engine(load_rules(include=[rule]), merged, default_analyzers()).run(inventory)
    return {f.resource.name: f.status for f in findings if f.resource and f.rule_id == rule}


def test_binding_to_an_external_role_passes_but_a_role_that_exists_nowhere_fails(
    tmp_path: Path,
) -> None:
    without = _statuses(tmp_path, BINDINGS, "LG-RBAC-101")
    assert without == {"vendor-operator": Status.FAIL, "typo": Status.FAIL}
    declared = _statuses(tmp_path, BINDINGS, "LG-RBAC-101", externalRoles=["vendor-operator-*"])
    assert declared == {"vendor-operator": Status.PASS, "typo": Status.FAIL}


def test_cluster_admin_through_aggregation_is_a_cluster_admin_grant(tmp_path: Path) -> None:
    assert _statuses(tmp_path, AGGREGATED_ADMIN, "LG-RBAC-001") == {"root": Status.FAIL}


def test_bootstrap_exemption_needs_the_label_or_the_fixed_list(tmp_path: Path) -> None:
    text = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:anything"}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "system:labelled"
  labels: {kubernetes.io/bootstrapping: rbac-defaults}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:kube-scheduler"}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
"""
    assert _statuses(tmp_path, text, "LG-RBAC-002") == {"system:anything": Status.FAIL}


def test_secret_read_message_and_evidence_name_only_the_rules_the_assertion_counts(
    tmp_path: Path,
) -> None:
    """One ``variables.readers`` for assert, message and evidence: before, the message and
    evidence dropped the apiGroups test and the named-get exemption the assertion makes."""
    (tmp_path / "rbac.yaml").write_text(
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
  - {apiGroups: [""], resources: [secrets], verbs: [list]}
  - {apiGroups: [""], resources: [secrets], verbs: [get], resourceNames: [tls-cert]}
  - {apiGroups: [vault.example.com], resources: [secrets], verbs: [watch]}
"""
    )
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    rules = load_rules(include=["LG-RBAC-005"])
    findings, _ = Engine(rules, default_params(), default_analyzers()).run(inventory)
    (finding,) = [f for f in findings if f.status == Status.FAIL]
    assert finding.message == "ClusterRole reader can read Secrets (list) wherever it is bound"
    assert [e.value for e in finding.evidence] == ["verbs=list"]
