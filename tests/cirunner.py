"""Run CI integration scripts for real: a throwaway origin with a base and a PR commit, the
real ``ledgergate`` CLI on PATH, and ``bash`` with a fake CI environment.

The CI systems themselves (GitHub's runner, GitLab's) cannot run here; what they do with
the files is small and documented (set variables, run the script lines with bash, read
the files the scripts write), so the tests do exactly that and no more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .conftest import FIXTURE_REPOS, ROOT

GOOD_IMAGE = "image: registry.finance.internal/erp/odoo:17.0-20261101@sha256:"
DEPLOYMENT = "apps/odoo/deployment.yaml"


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, f"git {args}: {done.stderr}"
    return done.stdout.strip()


@dataclass(frozen=True)
class PullRequest:
    """A shallow clone of the PR branch (as CI checks it out) and the commits around it."""

    clone: Path
    origin: Path
    base_sha: str
    head_sha: str


def make_pull_request(tmp: Path, *, latest_image: bool = True, depth: int = 1) -> PullRequest:
    """Origin: the compliant fixture repo on ``main`` (plus one later commit on main, so
    the PR's base SHA is not its merge base), and a ``pr`` branch that edits the odoo
    Deployment (an unpinned ``:latest`` image when ``latest_image``, else a comment)."""
    src = tmp / "src"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", src)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-qm", "compliant estate")
    git(src, "checkout", "-qb", "pr")
    target = src / DEPLOYMENT
    text = target.read_text()
    if latest_image:
        line = next(ln for ln in text.splitlines() if GOOD_IMAGE in ln)
        indent = line[: len(line) - len(line.lstrip())]
        text = text.replace(line, f"{indent}image: registry.finance.internal/erp/odoo:latest")
    else:
        text += "# reviewed\n"
    target.write_text(text)
    git(src, "commit", "-qam", "change odoo")
    head = git(src, "rev-parse", "HEAD")
    git(src, "checkout", "-q", "main")
    (src / "NOTES.md").write_text("later work on main\n")
    git(src, "add", "NOTES.md")
    git(src, "commit", "-qm", "main moves on")
    base = git(src, "rev-parse", "HEAD")
    origin = tmp / "origin.git"
    git(tmp, "clone", "-q", "--bare", str(src), str(origin))
    clone = tmp / "workspace"
    git(tmp, "clone", "-q", f"--depth={depth}", "--branch", "pr", origin.as_uri(), str(clone))
    return PullRequest(clone, origin, base, head)


def ledgergate_bin(tmp: Path) -> Path:
    """A folder with a ``ledgergate`` that runs this worktree's CLI (as an install would)."""
    folder = tmp / "bin"
    folder.mkdir(exist_ok=True)
    script = folder / "ledgergate"
    script.write_text(
        "#!/bin/sh\n"
        '[ -n "$LG_ARGV_LOG" ] && printf "%s\\n" "$*" >>"$LG_ARGV_LOG"\n'
        f'PYTHONPATH={ROOT} exec {sys.executable} -m scanner "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return folder


def base_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: PATH with the CLI first, a HOME, no inherited CI variables."""
    bin_dir = ledgergate_bin(tmp)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "SOURCE_DATE_EPOCH": "1767225600",
    }
    env.update(extra)
    return env


def run_bash(
    script: str, cwd: Path, env: dict[str, str], *, flags: tuple[str, ...] = ("-e",)
) -> subprocess.CompletedProcess[str]:
    """Run a script with the real bash, as the CI system does (a file, its flags)."""
    path = cwd.parent / f".step-{abs(hash(script))}.sh"
    path.write_text(script, encoding="utf-8")
    return subprocess.run(
        ["bash", "--noprofile", "--norc", *flags, str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
