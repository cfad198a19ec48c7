"""``ledgergate rbac who-can`` and ``ledgergate rbac subject`` on the bundled finance repos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from scanner.cli.rbac import rbac

from .conftest import rbac_only_repo

BAD = str(rbac_only_repo("odoo-finance-noncompliant"))
GOOD = str(rbac_only_repo("odoo-finance-compliant"))


def run(*args: str) -> Result:
    return CliRunner().invoke(rbac, list(args), catch_exceptions=False)


def who(*args: str) -> dict[str, Any]:
    result = run("who-can", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def subjects(data: dict[str, Any]) -> dict[str, list[str]]:
    return {s["subject"]: [g["chain"] for g in s["grants"]] for s in data["subjects"]}


def test_who_can_exec_in_production() -> None:
    data = who("create", "pods/exec", "-n", "finance-prod", BAD)
    assert data["request"]["resource"] == "pods"
    assert data["request"]["subresource"] == "exec"
    assert subjects(data) == {
        "Group/oidc:finance-dba": [
            "RoleBinding finance-prod/finance-dba -> ClusterRole odoo-dba -> rule[1]"
        ],
        "User/jane.doe@finance.example": [
            "ClusterRoleBinding platform-operators-admin -> ClusterRole cluster-admin -> rule[0]"
        ],
    }


def test_who_can_delete_velero_schedules_through_aggregation() -> None:
    data = who("delete", "schedules.velero.io", BAD)
    assert data["request"]["apiGroup"] == "velero.io"
    assert subjects(data) == {
        "Group/oidc:finance-dba": [
            "ClusterRoleBinding finance-dba-toolbox -> ClusterRole finance-dba-toolbox "
            "(aggregates ClusterRole velero-backup-admin) -> rule[0]"
        ],
        "User/jane.doe@finance.example": [
            "ClusterRoleBinding platform-operators-admin -> ClusterRole cluster-admin -> rule[0]"
        ],
    }
    assert subjects(who("delete", "schedules.velero.io", GOOD)) == {
        "ServiceAccount/velero/velero": [
            "ClusterRoleBinding velero-server -> ClusterRole velero-server -> rule[0]"
        ]
    }


def test_who_can_read_secrets_shows_resource_names() -> None:
    data = who("get", "secrets", "-n", "finance-prod", GOOD)
    (entry,) = data["subjects"]
    assert entry["subject"] == "Group/oidc:finance-dba"
    (grant,) = entry["grants"]
    assert grant["scope"] == "namespace finance-prod"
    assert grant["rule"] == {
        "apiGroups": [""],
        "resourceNames": ["odoo-db-credentials"],
        "resources": ["secrets"],
        "verbs": ["get"],
    }
    assert who("get", "secrets", "-n", "finance-dev", GOOD)["subjects"] == []
    assert who("list", "secrets", "-n", "finance-prod", GOOD)["subjects"] == []


def test_who_can_resolves_bare_names_and_urls() -> None:
    data = who("patch", "deployments", GOOD)
    assert data["request"]["apiGroup"] == "apps"
    assert set(subjects(data)) == {"Group/oidc:odoo-developers"}
    assert set(subjects(who("list", "nodes", GOOD))) == {"Group/oidc:platform-operators"}
    assert set(subjects(who("get", "/healthz", BAD))) == {"User/jane.doe@finance.example"}
    assert set(subjects(who("patch", "applications.argoproj.io", "-n", "argocd", GOOD))) == {
        "Group/oidc:release-approvers"
    }


def test_who_can_table() -> None:
    result = run("who-can", "create", "pods/exec", "-n", "finance-prod", GOOD)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "who can create pods/exec in namespace finance-prod:",
        "  Group/oidc:finance-dba",
        "    namespace finance-prod       RoleBinding finance-prod/finance-dba -> "
        "ClusterRole odoo-dba -> rule[1]",
        '                                   apiGroups="" resources=pods/exec verbs=create',
    ]


def test_subject_duties_and_conflicts() -> None:
    result = run("subject", "Group/oidc:finance-dba", BAD, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["name"] for d in data["duties"]] == [
        "administer-backups",
        "administer-database",
        "read-production-secrets",
    ]
    assert [c["duties"] for c in data["conflicts"]] == [
        ["administer-database", "administer-backups"]
    ]
    assert data["memberOf"] == ["Group/system:authenticated"]
    assert {(p["scope"], p["ruleSource"]) for p in data["permissions"]} == {
        ("namespace finance-prod", "ClusterRole odoo-dba"),
        ("cluster-wide", "ClusterRole postgres-metrics-reader"),
        ("cluster-wide", "ClusterRole velero-backup-admin"),
    }


def test_subject_table_for_service_account() -> None:
    result = run("subject", "ServiceAccount/velero/velero", GOOD)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:8] == [
        "ServiceAccount/velero/velero",
        "  member of: Group/system:serviceaccounts, Group/system:serviceaccounts:velero, "
        "Group/system:authenticated",
        "duties:",
        "  administer-backups",
        "    ClusterRoleBinding velero-server -> ClusterRole velero-server -> rule[0]",
        "conflicts:",
        "  none",
        "permissions:",
    ]


def test_unknown_subject_is_said_so() -> None:
    result = run("subject", "User/nobody", GOOD)
    assert result.exit_code == 0
    assert "(no binding names this subject; only group grants apply)" in result.stdout
    assert "duties:\n  none\n" in result.stdout


def test_bad_subject_and_bad_duties_exit_2(tmp_path: Path) -> None:
    result = run("subject", "Robot/r2", GOOD)
    assert result.exit_code == 2
    assert "expected User/NAME, Group/NAME or ServiceAccount/NS/NAME" in result.stderr
    (tmp_path / "ledgergate.yaml").write_text("params:\n  duties: {broken: {}}\n")
    result = run("subject", "User/x", str(tmp_path))
    assert result.exit_code == 2
    assert "params.duties.broken needs anyOf or allOf permissions" in result.stderr


def test_unreadable_input_makes_the_answer_incomplete(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: RoleBinding\nmetadata: [unclosed\n")
    result = run("who-can", "get", "pods", str(tmp_path), "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["subjects"] == []
    assert len(data["incomplete"]) == 1
    assert data["incomplete"][0].startswith("broken.yaml:")
    assert "warning: not read, the answer may be incomplete: broken.yaml:" in result.stderr


def test_parse_request_resolves_names_like_kubectl(tmp_path: Path) -> None:
    from scanner.inventory import Inventory
    from scanner.rbac.query import parse_request
    from scanner.sources.repo import RepoSource

    (tmp_path / "crd.yaml").write_text(
        """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ledgers.finance.example}
spec:
  group: finance.example
  scope: Namespaced
  names: {plural: ledgers, singular: ledger, kind: Ledger, shortNames: [ldg]}
  versions: []
"""
    )
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())

    def parsed(text: str) -> tuple[str, str, str]:
        r = parse_request("get", text, None, inventory)
        return (r.group, r.resource, r.subresource)

    assert parsed("pods/exec") == ("", "pods", "exec")
    assert parsed("Deployment") == ("apps", "deployments", "")
    assert parsed("deployments.apps/scale") == ("apps", "deployments", "scale")
    assert parsed("schedules") == ("velero.io", "schedules", "")
    assert parsed("schedules.velero.io") == ("velero.io", "schedules", "")
    assert parsed("ldg") == ("finance.example", "ledgers", "")
    assert parsed("Ledger") == ("finance.example", "ledgers", "")
    assert parsed("widgets") == ("", "widgets", "")
    assert parse_request("get", "/metrics", None, inventory).url == "/metrics"
