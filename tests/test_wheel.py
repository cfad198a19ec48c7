"""The built wheel carries rules/ and reports/ and scans from outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import FIXTURE_REPOS, ROOT


@pytest.mark.slow
def test_wheel_installs_and_scans_outside_the_source_tree(tmp_path: Path) -> None:
    # build from a clean copy: a stale build/ folder must not leak old files into the wheel
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=shutil.ignore_patterns(
            ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "fixtures"
        ),
    )
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
    repo_copy = work / "repo"
    subprocess.run(
        ["cp", "-r", str(FIXTURE_REPOS / "odoo-finance-noncompliant"), str(repo_copy)],
        check=True,
        timeout=60,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(env_dir / "bin" / "ledgergate"), "scan", "repo", str(repo_copy), "--format", "json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert '"LG-RBAC-001"' in done.stdout
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
