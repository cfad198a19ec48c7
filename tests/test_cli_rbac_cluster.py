"""``rbac who-can --cluster``: the live cluster gives the same answer as its manifests."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli.rbac import rbac
from tests.kubeapi.fixtures import CLUSTER_FIXTURE, KubeTarget


def _json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(rbac, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _subjects(data: dict[str, Any]) -> dict[str, list[str]]:
    return {s["subject"]: sorted(g["chain"] for g in s["grants"]) for s in data["subjects"]}


@pytest.mark.parametrize(
    "query",
    [
        ("delete", "schedules.velero.io"),
        ("get", "secrets", "-n", "finance-prod"),
        ("create", "pods/exec", "-n", "finance-prod"),
    ],
)
def test_who_can_on_the_cluster_matches_its_manifests(
    kube_target: KubeTarget, query: tuple[str, ...]
) -> None:
    live = _json("who-can", *query, "--cluster", "--kubeconfig", str(kube_target.kubeconfig))
    files = _json("who-can", *query, str(CLUSTER_FIXTURE))
    assert _subjects(live) and _subjects(live) == _subjects(files)
    assert live["incomplete"] == []


def test_subject_on_the_cluster(kube_target: KubeTarget) -> None:
    data = _json(
        "subject",
        "User/bob@finance.example",
        "--cluster",
        "--kubeconfig",
        str(kube_target.kubeconfig),
    )
    assert data["known"] and data["duties"]


def test_unreadable_bindings_are_reported_as_incomplete(kube_target: KubeTarget) -> None:
    from tests.kubeapi.fixtures import LIMITED_TOKEN

    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited-rbac")
    result = CliRunner().invoke(
        rbac,
        ["who-can", "delete", "schedules.velero.io", "--cluster", "--kubeconfig", str(limited)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert "clusterrolebindings" in result.stderr and "may be incomplete" in result.stderr
