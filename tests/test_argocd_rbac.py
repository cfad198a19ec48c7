"""Argo CD's own RBAC as duties: who may sync production Applications deploys to production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scanner.config import load_config
from scanner.inventory import Inventory
from scanner.rbac.analysis import analyze
from scanner.rbac.model import Subject
from scanner.sources.repo import RepoSource

APPS = [
    {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": project, "destination": {"namespace": ns}},
    }
    for name, project, ns in (
        ("ledger", "finance", "finance-prod"),
        ("ledger-staging", "finance", "finance-staging"),
    )
]


def _duties(
    tmp_path: Path, policy: str, *extra: dict[str, Any], default: str = ""
) -> dict[str, list[str]]:
    data = {"policy.csv": policy, **({"policy.default": default} if default else {})}
    rbac_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-rbac-cm", "namespace": "argocd"},
        "data": data,
    }
    (tmp_path / "argocd.yaml").write_text(yaml.safe_dump_all([rbac_cm, *APPS, *extra]))
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    params = {**load_config(None).params, "productionNamespaces": ["finance-prod"]}
    return {r.subject.id: [d.name for d in r.duties] for r in analyze(inventory, params).subjects}


def test_sync_on_a_production_app_is_deploying(tmp_path: Path) -> None:
    got = _duties(
        tmp_path,
        "p, role:deployer, applications, sync, finance/*, allow\n"
        "g, oidc:deployers, role:deployer\n"
        "p, role:editor, applications, update, finance/ledger, allow\n"
        "g, carol@finance.example, role:editor\n",
    )
    assert got["Group/oidc:deployers"] == ["deploy-to-production"]
    assert got["User/carol@finance.example"] == ["approve-releases"]


def test_only_production_apps_count(tmp_path: Path) -> None:
    got = _duties(
        tmp_path,
        "p, role:stage, applications, sync, finance/ledger-staging, allow\n"
        "g, oidc:stage, role:stage\n",
    )
    assert "Group/oidc:stage" not in got


def test_deny_wins_over_allow(tmp_path: Path) -> None:
    got = _duties(
        tmp_path,
        "p, role:ops, applications, *, */*, allow\n"
        "p, role:ops, applications, sync, finance/ledger, deny\n"
        "p, role:ops, applications, override, finance/*, deny\n"
        "p, role:ops, applications, action/*, */ledger, deny\n"
        "g, oidc:ops, role:ops\n",
    )
    assert got["Group/oidc:ops"] == ["approve-releases"]


def test_admin_roles_nested_and_default_policy(tmp_path: Path) -> None:
    got = _duties(
        tmp_path,
        "g, role:platform, role:admin\ng, oidc:platform, role:platform\n",
        default="role:admin",
    )
    assert got["Group/oidc:platform"] == ["approve-releases", "deploy-to-production"]
    # policy.default applies to every Argo CD user
    assert got["Group/argocd:every-user"] == ["approve-releases", "deploy-to-production"]


def test_appproject_role_groups(tmp_path: Path) -> None:
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "finance", "namespace": "argocd"},
        "spec": {
            "roles": [
                {
                    "name": "releasers",
                    "policies": ["p, proj:finance:releasers, applications, sync, finance/*, allow"],
                    "groups": ["oidc:releasers"],
                }
            ]
        },
    }
    got = _duties(tmp_path, "", project)
    assert got["Group/oidc:releasers"] == ["deploy-to-production"]
    assert Subject.parse("Group/oidc:releasers").id in got
