"""Which objects are production: one fail-closed classification for every scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.config import default_params, load_config
from scanner.environment import EnvStatus, classify
from scanner.pipeline import scan_repo

PARAMS = default_params()


@pytest.mark.parametrize(
    ("namespace", "labels", "path", "status", "production"),
    [
        ("finance-prod", None, "", EnvStatus.PRODUCTION, True),
        ("prod", None, "", EnvStatus.PRODUCTION, True),
        ("prd", None, "", EnvStatus.PRODUCTION, True),
        ("erp", {"env": "prd"}, "", EnvStatus.PRODUCTION, True),
        ("erp", {"tier": "production"}, "", EnvStatus.PRODUCTION, True),
        ("erp-dev", {"environment": "production"}, "", EnvStatus.PRODUCTION, True),
        ("erp-dev", None, "", EnvStatus.NON_PRODUCTION, False),
        ("sandbox-7", None, "", EnvStatus.NON_PRODUCTION, False),
        ("erp", {"env": "staging"}, "", EnvStatus.UNCLASSIFIED, True),
        ("default", None, "", EnvStatus.UNCLASSIFIED, True),
        ("", None, "", EnvStatus.UNRESOLVED, True),
    ],
)
def test_classification_order_and_fail_closed_defaults(
    namespace: str, labels: dict[str, str] | None, path: str, status: EnvStatus, production: bool
) -> None:
    env = classify(namespace, PARAMS, labels=labels, path=path)
    assert (env.status, env.production) == (status, production)


def test_production_paths_and_the_explicit_switch() -> None:
    params: dict[str, Any] = {**PARAMS, "productionPaths": ["clusters/prod/**"]}
    assert classify("erp-test", params, path="clusters/prod/app/cm.yaml").production
    lenient = {**PARAMS, "unclassifiedIs": "non-production"}
    assert not classify("erp", lenient).production
    assert not classify("", lenient).production


def _repo(tmp_path: Path, config: str = "") -> Path:
    (tmp_path / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec:\n  template:\n    spec:\n      containers: [{name: web, image: 'nginx:1.27'}]\n"
    )
    (tmp_path / "ledgergate.yaml").write_text(config or "params: {}\n")
    return tmp_path


def test_an_object_without_namespace_is_judged_as_production_and_says_so(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = scan_repo(repo, load_config(repo / "ledgergate.yaml"))
    pinned = [f for f in result.problems() if f.rule_id == "LG-IMG-001"]
    assert pinned and "judged as production because its namespace is not resolved" in (
        pinned[0].message
    )
    notes = [(c.target, c.reason) for c in result.coverage if c.source == "environment"]
    assert notes == [
        ("(no namespace)", "namespace unresolved: 1 object(s) judged as production (fail closed)")
    ]


def test_unclassified_is_non_production_is_recorded(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "params:\n  unclassifiedIs: non-production\n")
    result = scan_repo(repo, load_config(repo / "ledgergate.yaml"))
    assert not [f for f in result.problems() if f.rule_id == "LG-IMG-001"]
    assert ("environment", "params.unclassifiedIs") in {
        (c.source, c.target) for c in result.coverage
    }


def test_namespace_labels_classify_in_repo_scans(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "params:\n  unclassifiedIs: non-production\n")
    text = (repo / "deploy.yaml").read_text().replace("{name: web}", "{name: web, namespace: erp}")
    (repo / "deploy.yaml").write_text(
        text + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: erp, labels: {env: prod}}\n"
    )
    result = scan_repo(repo, load_config(repo / "ledgergate.yaml"))
    assert [f.rule_id for f in result.problems() if f.rule_id == "LG-IMG-001"] == ["LG-IMG-001"]
