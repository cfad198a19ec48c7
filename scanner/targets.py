"""What ``scan repo PATH...`` judges: the repository as context, the named paths as scope.

A pre-commit hook names the staged files; judging them alone would lose the context a
rule needs (the Namespace that makes a Deployment production, the RoleBinding that gives
a Role its subjects). So one folder keeps its old meaning (scan that folder), while files
or several paths scan the whole work tree they sit in and then keep the findings located
in those paths, for the outputs and for the exit code alike.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from scanner.errors import ConfigError
from scanner.findings import ScanResult
from scanner.sources.repo import run_git


@dataclass(frozen=True)
class Targets:
    """The folder scanned, and the repo-relative paths (files or folders) kept; ``None``
    keeps everything."""

    root: Path
    selected: tuple[str, ...] | None = None

    def narrow(self, result: ScanResult) -> ScanResult:
        """The findings located in the selected paths (all of them without a selection)."""
        if self.selected is None:
            return result
        kept = tuple(f for f in result.findings if _within(f.origin.path, self.selected))
        return replace(result, findings=kept)


def _within(path: str | None, selected: tuple[str, ...]) -> bool:
    if not path:
        return False
    return any(path == s or path.startswith(s + "/") for s in selected)


def _toplevel(folder: Path) -> Path | None:
    try:
        done = run_git(folder, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return Path(done.stdout.decode("utf-8", "surrogateescape").strip())


def resolve_targets(paths: Sequence[Path]) -> Targets:
    """One folder: that folder. Files or several paths: their Git work tree (else the
    folder they share), keeping those paths; a path outside it is a ConfigError."""
    if not paths:
        paths = (Path("."),)
    if len(paths) == 1 and paths[0].is_dir():
        return Targets(paths[0])
    folders = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    root = _toplevel(folders[0]) or Path(os.path.commonpath(folders))
    root = root.resolve()
    selected: list[str] = []
    for given in paths:
        absolute = given.resolve() if given.is_dir() else given.resolve().parent / given.name
        if not absolute.is_relative_to(root):
            raise ConfigError(f"{given}: not inside the repository {root}")
        relative = absolute.relative_to(root).as_posix()
        if relative == ".":
            return Targets(root)
        selected.append(relative)
    return Targets(root, tuple(sorted(set(selected))))
