"""The pre-commit hooks (``.pre-commit-hooks.yaml``), run by the real ``pre-commit``.

``pre-commit try-repo`` runs a hook straight from this worktree against the staged files
of a throwaway repository, exactly as a user's ``.pre-commit-config.yaml`` would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .cirunner import DEPLOYMENT, GOOD_IMAGE, base_env, git
from .conftest import FIXTURE_REPOS, ROOT

pytest.importorskip("pre_commit")
COLOR = ("--color", "never")
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_hooks_scan_one_repo_serially_with_the_staged_files() -> None:
    by_id = {h["id"]: h for h in HOOKS}
    assert set(by_id) == {"ledgergate", "ledgergate-system"}
    for hook in HOOKS:
        assert hook["entry"] == "ledgergate scan repo"
        assert hook["require_serial"] is True  # one scan, not one per batch of names
        assert hook.get("pass_filenames", True) is True
    assert by_id["ledgergate"]["language"] == "python"
    assert by_id["ledgergate-system"]["language"] == "system"


def throwaway(tmp: Path, name: str) -> Path:
    import shutil

    repo = tmp / name
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "estate")
    return repo


def hook_repo(tmp: Path) -> Path:
    """A local Git repo holding this worktree's hook manifest (as a tag of the project
    would): the ``system`` hook needs nothing else, so uncommitted work is tested too."""
    repo = tmp / "hook-repo"
    repo.mkdir()
    (repo / ".pre-commit-hooks.yaml").write_bytes((ROOT / ".pre-commit-hooks.yaml").read_bytes())
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hooks")
    return repo


def try_repo(repo: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = base_env(tmp, {"PRE_COMMIT_HOME": str(tmp / "pre-commit-home")})
    hooks = hook_repo(tmp)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "ledgergate-system", *COLOR],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def unpin(repo: Path, rel: str = DEPLOYMENT) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if GOOD_IMAGE in ln)
    indent = line[: len(line) - len(line.lstrip())]
    path.write_text(text.replace(line, f"{indent}image: registry.finance.internal/erp/odoo:latest"))


def test_a_staged_violation_blocks_the_commit(tmp_path: Path) -> None:
    repo = throwaway(tmp_path, "repo")
    unpin(repo)
    git(repo, "add", DEPLOYMENT)
    done = try_repo(repo, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "LG-IMG-002" in done.stdout
    assert DEPLOYMENT in done.stdout


def test_only_findings_in_staged_files_count(tmp_path: Path) -> None:
    """A violation committed earlier elsewhere does not block an unrelated clean change,
    while the staged file is still judged with the whole repository as context."""
    repo = throwaway(tmp_path, "repo")
    unpin(repo)
    git(repo, "commit", "-qam", "an older violation, not part of this commit")
    other = repo / "apps/postgres/cluster.yaml"
    other.write_text(other.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    git(repo, "add", "apps/postgres/cluster.yaml")
    done = try_repo(repo, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "LG-IMG-002" not in done.stdout
    assert "Passed" in done.stdout
