"""Run git for the change history: argument lists, a timeout, no shell, no repo-chosen programs.

The audited repository's own ``.git/config`` could name a ``gpg.program`` or an
``fsmonitor`` hook; every call overrides those with the real programs, so reading a
history never runs code the repository chose.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from scanner.errors import SourceError

GIT_TIMEOUT_S = 120
#: Settings forced on every call; the repository's config cannot replace the programs.
SAFE_CONFIG = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "gpg.program=gpg",
    "gpg.openpgp.program=gpg",
    "gpg.ssh.program=ssh-keygen",
    "gpg.x509.program=gpgsm",
    "log.showSignature=false",
    "i18n.logOutputEncoding=UTF-8",
)


class GitError(SourceError):
    """git could not answer (missing binary, bad revision, timeout)."""


def run_tool(
    cmd: Sequence[str],
    *,
    timeout_s: float,
    why: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program (argument list, no shell, a timeout); a missing one or a hang is GitError."""
    try:
        return subprocess.run(
            list(cmd), input=stdin, capture_output=True, timeout=timeout_s, check=False, env=env
        )
    except FileNotFoundError as exc:
        raise GitError(f"{cmd[0]} is not installed (needed {why})") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"{cmd[0]} {cmd[-1]} timed out after {timeout_s:.0f}s") from exc


class Git:
    """One repository; every call goes through :meth:`run`."""

    def __init__(self, repo: Path, *, timeout_s: float = GIT_TIMEOUT_S) -> None:
        self.repo = repo
        self.timeout_s = timeout_s

    def run(
        self,
        *args: str,
        config: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """``git -C repo [-c k=v ...] args``; raises :class:`GitError` when ``check`` fails."""
        cmd = ["git", "-C", str(self.repo)]
        for setting in (*SAFE_CONFIG, *config):
            cmd += ["-c", setting]
        cmd += list(args)
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        done = run_tool(
            cmd,
            timeout_s=self.timeout_s,
            why="to read the change history",
            env=full_env,
            stdin=stdin,
        )
        if check and done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {err[-1] if err else done.returncode}")
        return done

    def text(self, *args: str, **kw: object) -> str:
        """Standard output of a successful call, decoded."""
        done = self.run(*args, **kw)  # type: ignore[arg-type]
        return done.stdout.decode("utf-8", "surrogateescape")

    def commit_of(self, rev: str) -> str | None:
        """The full commit id ``rev`` names, or None when it does not resolve."""
        if rev.startswith("-"):
            return None
        done = self.run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        out = done.stdout.decode().strip()
        return out if done.returncode == 0 and out else None

    def is_shallow(self) -> bool:
        """Whether the clone was cut short (``git clone --depth``)."""
        return self.text("rev-parse", "--is-shallow-repository").strip() == "true"

    def shallow_boundary(self) -> set[str]:
        """Commits whose parents a shallow clone does not have."""
        path = self.text("rev-parse", "--git-path", "shallow").strip()
        file = Path(path) if Path(path).is_absolute() else self.repo / path
        try:
            return {line.strip() for line in file.read_text().splitlines() if line.strip()}
        except OSError:
            return set()
