"""``ledgergate init``: a starting configuration drawn from the repository, every line
commented, loadable by the scanner, never replacing a file without ``--force``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import Result

from scanner.config import load_config

from .conftest import FIXTURE_REPOS


def estate(tmp: Path) -> Path:
    repo = tmp / "estate"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    (repo / "ledgergate.yaml").unlink(missing_ok=True)
    return repo


def test_init_writes_a_commented_config_the_scanner_loads(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = estate(tmp_path)
    done = run_cli("init", str(repo))
    assert done.exit_code == 0, done.output
    text = (repo / "ledgergate.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    for number, line in enumerate(lines):
        code = line.split("#", 1)[0]
        if code.strip():  # a setting: commented on its line or just above it
            assert "#" in line or lines[number - 1].lstrip().startswith("#"), line
    params = yaml.safe_load(text)["params"]
    assert "finance-prod" in params["productionNamespaces"]
    assert "finance-staging" in params["nonProductionNamespaces"]
    assert "velero" in params["productionNamespaces"]  # unclassified: fail closed
    velero = next(ln for ln in lines if '"velero"' in ln)
    assert "fail closed" in velero
    prod = next(ln for ln in lines if '"finance-prod"' in ln)
    assert "matches 'finance-prod*'" in prod  # the classifier's own reason
    assert "registry.finance.internal/" in params["approvedRegistries"]
    assert "busybox" not in str(params["approvedRegistries"])  # a Docker Hub short name
    assert yaml.safe_load(text)["rules"]["exclude"] == ["LG-IMG-05*"]  # needs --images
    config = load_config(repo / "ledgergate.yaml", confine=repo)
    assert config.params["unclassifiedIs"] == "production"
    scan = run_cli("scan", "repo", str(repo))
    assert scan.exit_code == 1, scan.output  # the estate's violations are still found
    assert "LG-IMG-05" not in scan.output


def test_init_never_replaces_a_file_without_force(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    repo = estate(tmp_path)
    (repo / "ledgergate.yaml").write_text("params: {}\n", encoding="utf-8")
    refused = run_cli("init", str(repo))
    assert refused.exit_code == 2
    assert "--force" in refused.output
    assert (repo / "ledgergate.yaml").read_text(encoding="utf-8") == "params: {}\n"
    forced = run_cli("init", str(repo), "--force")
    assert forced.exit_code == 0, forced.output
    assert "productionNamespaces" in (repo / "ledgergate.yaml").read_text(encoding="utf-8")


def test_init_stdout_writes_nothing(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    repo = estate(tmp_path)
    done = run_cli("init", str(repo), "--stdout")
    assert done.exit_code == 0
    assert done.output.startswith("# ledgergate.yaml")
    assert not (repo / "ledgergate.yaml").exists()
