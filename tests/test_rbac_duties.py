"""Duties, separation-of-duties conflicts, the duty matrix and LG-RBAC-100 through the engine."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers import default_analyzers
from scanner.config import default_params, find_config, load_config
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.rbac import DutyConfig, DutyConfigError, analyze, duty_matrix
from scanner.rules import RuleSet, load_rules
from scanner.shipped import rules_dir
from scanner.sources.repo import RepoSource

from .conftest import FIXTURE_REPOS, rbac_only_repo

RULE_FIXTURES = rules_dir() / "rbac" / "LG-RBAC-100"


def inventory_of(root: Path) -> Inventory:
    return Inventory.from_items(RepoSource(root).collect())


def write(tmp_path: Path, text: str) -> Inventory:
    (tmp_path / "rbac.yaml").write_text(text)
    return inventory_of(tmp_path)


def duties_by_subject(inventory: Inventory, params: Mapping[str, Any]) -> dict[str, list[str]]:
    return {
        r.subject.id: [d.name for d in r.duties]
        for r in analyze(inventory, params).subjects
        if r.duties
    }


def conflicts_by_subject(inventory: Inventory, params: Mapping[str, Any]) -> dict[str, list]:  # type: ignore[type-arg]
    return {
        r.subject.id: [list(c.duties) for c, _ in r.conflicts]
        for r in analyze(inventory, params).subjects
        if r.conflicts
    }


def repo_params(name: str) -> Mapping[str, Any]:
    return load_config(find_config(FIXTURE_REPOS / name, None)).params


EVERY_DUTY = [
    "administer-backups",
    "administer-database",
    "approve-releases",
    "change-rbac",
    "deploy-to-production",
    "read-production-secrets",
]


def test_noncompliant_repo_duties_and_conflicts() -> None:
    inventory = inventory_of(rbac_only_repo("odoo-finance-noncompliant"))
    params = repo_params("odoo-finance-noncompliant")
    assert duties_by_subject(inventory, params) == {
        "Group/oidc:finance-dba": [
            "administer-backups",
            "administer-database",
            "read-production-secrets",
        ],
        "Group/oidc:odoo-developers": ["deploy-to-production"],
        "User/jane.doe@finance.example": EVERY_DUTY,
    }
    assert conflicts_by_subject(inventory, params) == {
        "Group/oidc:finance-dba": [["administer-database", "administer-backups"]],
        "User/jane.doe@finance.example": [
            ["deploy-to-production", "approve-releases"],
            ["administer-database", "administer-backups"],
            ["read-production-secrets", "approve-releases"],
        ],
    }


def test_conflict_chains_name_the_aggregated_source() -> None:
    inventory = inventory_of(rbac_only_repo("odoo-finance-noncompliant"))
    analysis = analyze(inventory, repo_params("odoo-finance-noncompliant"))
    (dba,) = [r for r in analysis.subjects if r.subject.id == "Group/oidc:finance-dba"]
    fact = dba.to_fact()
    assert fact["conflicts"] == [
        {
            "duties": ["administer-database", "administer-backups"],
            "reason": "one person could alter ledger data and destroy the restore points "
            "that prove it",
            "chains": {
                "administer-database": [
                    "RoleBinding finance-prod/finance-dba -> ClusterRole odoo-dba -> rule[1]",
                    "RoleBinding finance-prod/finance-dba -> ClusterRole odoo-dba -> rule[2]",
                ],
                "administer-backups": [
                    "ClusterRoleBinding finance-dba-toolbox -> ClusterRole finance-dba-toolbox "
                    "(aggregates ClusterRole velero-backup-admin) -> rule[0]"
                ],
            },
        }
    ]
    origin = inventory.resources[dba.origin_index].origin
    assert (origin.path, origin.start_line) == ("platform/rbac-sod/bindings.yaml", 4)
    assert fact["files"] == ["platform/rbac-sod/bindings.yaml", "platform/rbac-sod/roles.yaml"]


def test_conflict_appears_only_through_aggregation(tmp_path: Path) -> None:
    text = (RULE_FIXTURES / "fail.aggregated-backups.yaml").read_text()
    params = default_params()
    assert conflicts_by_subject(write(tmp_path, text), params) == {
        "Group/oidc:finance-dba": [["administer-database", "administer-backups"]]
    }
    unlabelled = text.replace("rbac.authorization.k8s.io/aggregate-to-edit", "example/other")
    assert conflicts_by_subject(write(tmp_path, unlabelled), params) == {}
    assert duties_by_subject(write(tmp_path, unlabelled), params) == {
        "Group/oidc:finance-dba": [
            "administer-database",
            "deploy-to-production",
            "read-production-secrets",
        ]
    }


def test_compliant_repo_has_no_conflicts_and_an_exact_matrix() -> None:
    inventory = inventory_of(rbac_only_repo("odoo-finance-compliant"))
    matrix = duty_matrix(inventory, repo_params("odoo-finance-compliant"))
    held = {
        row["subject"]: sorted(d for d, cell in row["duties"].items() if cell["held"])
        for row in matrix["subjects"]
    }
    assert held == {
        "Group/oidc:finance-dba": ["administer-database", "read-production-secrets"],
        "Group/oidc:odoo-developers": ["deploy-to-production"],
        "Group/oidc:platform-operators": [],
        "Group/oidc:release-approvers": ["approve-releases"],
        "ServiceAccount/velero/velero": ["administer-backups"],
    }
    assert all(row["conflicts"] == [] for row in matrix["subjects"])
    assert [d["name"] for d in matrix["duties"]] == EVERY_DUTY
    assert matrix["conflicts"][0]["duties"] == ["deploy-to-production", "approve-releases"]
    velero = next(r for r in matrix["subjects"] if r["subject"] == "ServiceAccount/velero/velero")
    assert velero["duties"]["administer-backups"] == {
        "held": True,
        "impliedBy": "",
        "chains": ["ClusterRoleBinding velero-server -> ClusterRole velero-server -> rule[0]"],
    }


def test_change_rbac_implies_every_duty(tmp_path: Path) -> None:
    inventory = write(tmp_path, (RULE_FIXTURES / "fail.rbac-writer.yaml").read_text())
    (report,) = analyze(inventory, default_params()).subjects
    assert {d.name: d.implied_by for d in report.duties} == {
        "administer-backups": "change-rbac",
        "administer-database": "change-rbac",
        "approve-releases": "change-rbac",
        "change-rbac": "",
        "deploy-to-production": "change-rbac",
        "read-production-secrets": "change-rbac",
    }
    assert report.to_fact()["dutyChains"]["approve-releases"] == [
        "change-rbac (implies every duty): RoleBinding finance-prod/ci-bootstrap -> "
        "Role finance-prod/namespace-bootstrap -> rule[0]"
    ]


SCOPES = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ns-writer}
rules: [{apiGroups: [""], resources: [namespaces], verbs: [create]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ns-writer, namespace: finance-prod}
subjects: [{kind: Group, name: oidc:local}]
roleRef: {kind: ClusterRole, name: ns-writer, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ns-writer}
subjects: [{kind: Group, name: oidc:global}]
roleRef: {kind: ClusterRole, name: ns-writer, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: named-exec}
rules:
- {apiGroups: [""], resources: [pods/exec], verbs: [create], resourceNames: [postgres-0]}
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: named-exec, namespace: finance-prod}
subjects: [{kind: Group, name: oidc:named}]
roleRef: {kind: ClusterRole, name: named-exec, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dev-deploy, namespace: finance-dev}
subjects: [{kind: Group, name: oidc:dev}]
roleRef: {kind: ClusterRole, name: edit, apiGroup: rbac.authorization.k8s.io}
"""


def test_scopes_cluster_scoped_resources_and_resource_names(tmp_path: Path) -> None:
    held = duties_by_subject(write(tmp_path, SCOPES), default_params())
    # namespaces are cluster-scoped: only the ClusterRoleBinding approves releases;
    # exec restricted by resourceNames cannot be created; edit outside production is no duty
    assert held == {
        "Group/oidc:global": ["approve-releases"],
        "Group/oidc:named": ["read-production-secrets"],
    }


def test_custom_duties_with_namespace_globs(tmp_path: Path) -> None:
    params = {
        **default_params(),
        "duties": {
            "develop": {
                "anyOf": [
                    {
                        "verbs": ["update"],
                        "apiGroups": ["apps"],
                        "resources": ["deployments"],
                        "namespaces": ["finance-d*"],
                    }
                ]
            },
            "approve": {"anyOf": [{"verbs": ["create"], "resources": ["namespaces"]}]},
        },
        "dutyConflicts": [["develop", "approve"]],
    }
    assert duties_by_subject(write(tmp_path, SCOPES), params) == {
        "Group/oidc:dev": ["develop"],
        "Group/oidc:global": ["approve"],
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"duties": []}, "params.duties must be a mapping"),
        ({"duties": {"d": {}}}, "params.duties.d needs anyOf or allOf"),
        ({"duties": {"d": {"anyOf": [{"verbs": "get"}]}}}, "params.duties.d.anyOf[0].resources"),
        ({"duties": {"d": {"anyOf": [{"verbs": [1], "resources": ["x"]}]}}}, "anyOf[0].verbs"),
        ({"duties": {"d": {"anyOf": [{"verb": ["get"]}]}}}, "unknown key(s) verb"),
        ({"duties": {"d": {"allOf": {}}}}, "params.duties.d.allOf must be a list"),
        ({"dutyConflicts": {}}, "params.dutyConflicts must be a list"),
        (
            {
                "dutyConflicts": [["a", "a"]],
                "duties": {"a": {"anyOf": [{"verbs": ["get"], "resources": ["x"]}]}},
            },
            "at least two different duties",
        ),
        ({"dutyConflicts": [["a", "b"]]}, "params.dutyConflicts[0]: unknown duty a, b"),
    ],
)
def test_duty_config_errors_name_the_key(params: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(DutyConfigError) as info:
        DutyConfig.from_params(params)
    assert message in str(info.value)


def _run_rule(root: Path, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    rules = load_rules([rules_dir()], include=["LG-RBAC-100"])
    findings, _ = Engine(RuleSet(rules), params, default_analyzers()).run(inventory_of(root))
    return sorted(
        (f.status.value, f.resource.display() if f.resource else "", f.message) for f in findings
    )


def test_rule_fails_closed_when_duty_config_is_broken(tmp_path: Path) -> None:
    (tmp_path / "rbac.yaml").write_text((RULE_FIXTURES / "fail.deployer-approves.yaml").read_text())
    found = _run_rule(tmp_path, {**default_params(), "duties": {"broken": {}}})
    reason = (
        "rule could not be evaluated: fact 'rbacSubject' is not available: "
        "DutyConfigError: params.duties.broken needs anyOf or allOf permissions"
    )
    assert found == [
        ("error", "RoleBinding argocd/release-approvers", reason),
        ("error", "RoleBinding finance-prod/odoo-deployers", reason),
    ]


def test_rule_message_names_subject_duties_and_chains(tmp_path: Path) -> None:
    (tmp_path / "rbac.yaml").write_text((RULE_FIXTURES / "fail.deployer-approves.yaml").read_text())
    found = _run_rule(tmp_path, default_params())
    assert found == [
        (
            "fail",
            "RbacSubject User/release.engineer@finance.example",
            "User/release.engineer@finance.example holds conflicting duties "
            "deploy-to-production + approve-releases. deploy-to-production via RoleBinding "
            "finance-prod/odoo-deployers -> Role finance-prod/odoo-deployer -> rule[0]; "
            "approve-releases via RoleBinding argocd/release-approvers -> "
            "ClusterRole release-approver -> rule[0]",
        )
    ]


def test_exempt_subjects_pass(tmp_path: Path) -> None:
    (tmp_path / "rbac.yaml").write_text(
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: cluster-admin}
subjects: [{kind: Group, name: system:masters, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}
"""
    )
    assert [s for s, _, _ in _run_rule(tmp_path, default_params())] == ["pass"]
    strict = {**default_params(), "sodExemptSubjects": []}
    assert [s for s, _, _ in _run_rule(tmp_path, strict)] == ["fail"]


def test_dangling_and_invalid_bindings_fail_lg_rbac_101(tmp_path: Path) -> None:
    (tmp_path / "rbac.yaml").write_text(
        """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: metrics-server:system:auth-delegator}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
roleRef: {kind: ClusterRole, name: system:auth-delegator, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: support, namespace: finance-prod}
subjects: [{kind: Group, name: oidc:support}]
roleRef: {kind: Role, name: support, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: robots}
subjects: [{kind: ServiceAccount, name: robot}]
roleRef: {kind: ClusterRole, name: view, apiGroup: rbac.authorization.k8s.io}
"""
    )
    rules = load_rules([rules_dir()], include=["LG-RBAC-101"])
    findings, _ = Engine(RuleSet(rules), default_params(), default_analyzers()).run(
        inventory_of(tmp_path)
    )
    assert sorted((f.status.value, f.message) for f in findings) == [
        ("fail", "ClusterRoleBinding robots: ServiceAccount robot has no namespace"),
        (
            "fail",
            "RoleBinding finance-prod/support: Role finance-prod/support not found; grants nothing",
        ),
        ("pass", "Every RBAC binding resolves to a role and valid subjects"),
    ]


def test_analyzer_facts_on_bindings_and_synthetic_subjects() -> None:
    from scanner.analyzers.rbac import RbacAnalyzer

    inventory = inventory_of(rbac_only_repo("odoo-finance-noncompliant"))
    result = RbacAnalyzer().analyze(inventory, repo_params("odoo-finance-noncompliant"))
    by_name = {
        inventory.resources[i].ref.display(): facts["rbacBinding"]
        for i, facts in result.facts.items()
        if "rbacBinding" in facts
    }
    assert by_name == {
        "ClusterRoleBinding finance-dba-toolbox": {
            "role": "ClusterRole finance-dba-toolbox",
            "clusterAdmin": False,
            "subjects": ["Group/oidc:finance-dba"],
            "problems": [],
            "subjectsWithConflicts": ["Group/oidc:finance-dba"],
        },
        "ClusterRoleBinding platform-operators-admin": {
            "role": "ClusterRole cluster-admin",
            "clusterAdmin": True,
            "subjects": ["User/jane.doe@finance.example"],
            "problems": [],
            "subjectsWithConflicts": ["User/jane.doe@finance.example"],
        },
        "RoleBinding finance-prod/finance-dba": {
            "role": "ClusterRole odoo-dba",
            "clusterAdmin": False,
            "subjects": ["Group/oidc:finance-dba"],
            "problems": [],
            "subjectsWithConflicts": ["Group/oidc:finance-dba"],
        },
        "RoleBinding finance-prod/odoo-developers": {
            "role": "ClusterRole odoo-developer",
            "clusterAdmin": False,
            "subjects": ["Group/oidc:odoo-developers"],
            "problems": [],
            "subjectsWithConflicts": [],
        },
        "RoleBinding finance-prod/odoo-helpdesk": {
            "role": "Role finance-prod/odoo-helpdesk",
            "clusterAdmin": False,
            "subjects": ["Group/oidc:odoo-helpdesk"],
            "problems": ["Role finance-prod/odoo-helpdesk not found; grants nothing"],
            "subjectsWithConflicts": [],
        },
    }
    assert {(r.ref.kind, r.ref.name, r.origin.path) for r in result.resources} == {
        ("RbacSubject", "Group/oidc:finance-dba", "platform/rbac-sod/bindings.yaml"),
        ("RbacSubject", "Group/oidc:odoo-developers", "platform/rbac-sod/bindings.yaml"),
        ("RbacSubject", "Group/oidc:odoo-helpdesk", "platform/rbac-sod/bindings.yaml"),
        ("RbacSubject", "User/jane.doe@finance.example", "platform/rbac/operators.yaml"),
    }
