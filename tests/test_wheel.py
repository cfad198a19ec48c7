"""The built wheel carries rules/ and reports/ and scans from outside the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

import scanner

from .conftest import FIXTURE_REPOS, ROOT


def _clean_copy(target: Path) -> Path:
    """The source tree as a user gets it (a clone, the action's checkout): a stale build/
    folder must not leak old files into what is installed."""
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "fixtures"
        ),
    )
    return target


def _user_env() -> dict[str, str]:
    """The caller's environment without the source tree on the import path."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _path_without_ledgergate() -> list[str]:
    """``PATH`` without the folders that hold a ``ledgergate`` already (a contributor's or
    CI's editable install): the action must find none and install its own."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return [f for f in folders if f and not (Path(f) / "ledgergate").exists()]


def _scans_the_fixture_repo(ledgergate: Path, work: Path) -> None:
    """A real ``scan repo`` of the non-compliant fixture repo, from outside the source."""
    repo_copy = work / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo_copy)
    done = subprocess.run(
        [str(ledgergate), "scan", "repo", str(repo_copy), "--format", "json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=_user_env(),
    )
    assert done.returncode == 1, done.stderr
    assert '"LG-RBAC-001"' in done.stdout


@pytest.mark.slow
def test_the_action_installs_its_own_release_with_runtime_dependencies_only(
    tmp_path: Path,
) -> None:
    """The README's and action.yml's user path, for real: the action's install step on a
    runner with no ledgergate (a fresh venv first on PATH) installs the action's checkout
    with pip (runtime dependencies from the package index, no dev extra), and the installed
    command reports its version and scans."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    step = action["runs"]["steps"][0]
    assert step["name"] == "Install Ledgergate"
    src = _clean_copy(tmp_path / "action")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    env = {
        **_user_env(),
        "PATH": os.pathsep.join([str(bin_dir), *_path_without_ledgergate()]),
        "GITHUB_ACTION_PATH": str(src),
        "LG_VERSION": action["inputs"]["version"]["default"],
    }
    assert not (bin_dir / "ledgergate").exists()
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.strip().endswith(f"ledgergate, version {scanner.__version__}")
    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_user_env(),
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "ledgergate" in names and "click" in names
    assert not names & {"pytest", "ruff", "mypy"}, "the dev extra must not come along"
    work = tmp_path / "elsewhere"
    work.mkdir()
    _scans_the_fixture_repo(bin_dir / "ledgergate", work)


@pytest.mark.slow
def test_wheel_installs_and_scans_outside_the_source_tree(tmp_path: Path) -> None:
    src = _clean_copy(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    wheel = next(dist.glob("ledgergate-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _user_env()
    version = subprocess.run(
        [str(env_dir / "bin" / "ledgergate"), "--version"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert version.stdout.strip() == f"ledgergate, version {scanner.__version__}"
    _scans_the_fixture_repo(env_dir / "bin" / "ledgergate", work)
    where = subprocess.run(
        [str(py), "-c", "import scanner.shipped as s; print(s.rules_dir())"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "site-packages/ledgergate_rules" in where.stdout
    tested = subprocess.run(
        [str(env_dir / "bin" / "ledgergate"), "rules", "test"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
