"""The warm-cache runs a developer waits for: the pre-commit hook, a full scan, ``--base``.

Run: ``python bench/bench_hook.py [--before REV] [--file PATH --replace OLD NEW]
[--repeat N]``. The shared corpus is unpacked into one folder and made a Git repository
(2,184 files). One cold scan fills a content cache; then, with that warm cache, each of
these runs once for the code at ``--before`` (default: where this branch left ``main``,
extracted with ``git archive``) and once for this work tree, one after the other in the
same sitting:

- (a) ``scan repo FILE`` after a one-line change of a value in ``FILE`` (staged), as the
  hook runs it (writing JSON, so both variants' path-limited reports are compared), and
  the same through the real ``pre-commit try-repo`` with the ``ledgergate-system`` hook
  (a ``ledgergate`` shim on PATH runs the variant's code), and through ``pre-commit run``
  with a config naming the hook repository, as an installed hook runs on each commit;
- (b) a full ``scan repo .`` writing JSON;
- (c) ``scan repo . --base main`` with the change committed on a branch.

With ``--compiled`` both variants' modules are compiled to bytecode first (in a
``PYTHONPYCACHEPREFIX`` folder of the bench, as ``pip install`` compiles them) and every
run may use it: a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` compiles each of the
tool's modules again in every process. Without it, runs inherit the environment as is.

Each row is one whole process tree (wall, CPU = user + system incl. kubectl and forked
workers, peak RSS, exit code). The summary prints after/before ratios, each run's CPU
against the hook's 2-second target, and whether both variants reported the same findings
(the full scan's, and the hook's whole path-limited report).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import HEADER, Run, measure, temp_corpus  # noqa: E402

#: A HelmRelease no Kustomize root includes: the plain one-file change of issue 19.
DEFAULT_FILE = "home-ops-0/home-ops/kubernetes/apps/o11y/victoria-logs/app/helmrelease.yaml"
#: Its one-line change: a value of the object (its verdicts must be judged again).
DEFAULT_CHANGE = ("size: 50Gi", "size: 60Gi")
TARGET_CPU_S = 2.0
GIT_ID = ["-c", "user.email=bench@example.org", "-c", "user.name=bench"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True, text=True, timeout=600
    )
    return done.stdout.strip()


def _extract(rev: str, into: Path) -> Path:
    """The package at ``rev`` of this repository, as a folder to put on PYTHONPATH."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", rev, "scanner", "rules", "reports"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        archive.extractall(into, filter="data")
    return into


def _shim(folder: Path, code: Path) -> Path:
    """A ``ledgergate`` on PATH that runs ``code`` (the system hook calls ``ledgergate``)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "ledgergate"
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH="{code}" exec "{sys.executable}" -m scanner "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return folder


def _hook_repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", folder / ".pre-commit-hooks.yaml")
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", "-A")
    _git(folder, "commit", "-qm", "hooks")
    return folder


def _compile_all(folders: Iterable[Path], prefix: Path) -> dict[str, str]:
    """Bytecode of every variant's package (and the standard library's and site's modules
    the runs import, written on first use) under ``prefix``: the environment to run with."""
    env = {"PYTHONPYCACHEPREFIX": str(prefix)}
    for folder in folders:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(folder / "scanner")],
            env={**os.environ, **env},
            check=True,
            timeout=600,
        )
    return env


def _findings(path: Path, *, scope: bool = True) -> object:
    """The report without its timestamps and target (and, unless ``scope``, without
    ``scope.notEvaluated``: a path-limited scan's speaks of the objects it judged)."""
    report = json.loads(path.read_text(encoding="utf-8"))
    for volatile in ("started", "finished", "target"):
        report.pop(volatile, None)
    if not scope:
        report.get("scope", {}).pop("notEvaluated", None)
    return report


def _ratio(after: Run, before: Run) -> str:
    return f"{after.cpu_s / before.cpu_s:.2f}x CPU, {after.wall_s / before.wall_s:.2f}x wall"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", help="git revision to compare with (default: merge base)")
    parser.add_argument("--file", default=DEFAULT_FILE, help="corpus file the change edits")
    parser.add_argument(
        "--replace",
        nargs=2,
        metavar=("OLD", "NEW"),
        default=DEFAULT_CHANGE,
        help="the one-line change: first OLD in --file becomes NEW",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant and case")
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="compile both variants to bytecode first and let every run use it (as installed)",
    )
    args = parser.parse_args()
    before_rev = args.before or _git(ROOT, "merge-base", "HEAD", "main")
    work = Path(tempfile.mkdtemp(prefix="lg-bench-hook-"))
    variants = {
        "before": _extract(before_rev, work / "before"),
        "after": ROOT,
    }
    corpus = temp_corpus()
    _git(corpus, "init", "-q", "-b", "main")
    _git(corpus, "add", "-A")
    _git(corpus, "commit", "-qm", "corpus")
    files = len(_git(corpus, "ls-files").splitlines())
    cache_dir = work / "cache"
    hooks = _hook_repo(work / "hook-repo")
    out = work / "out"
    out.mkdir()

    bytecode: dict[str, str] = {}
    if args.compiled:
        bytecode = _compile_all(variants.values(), work / "pycache")

    def env(name: str) -> dict[str, str]:
        shim = _shim(work / f"bin-{name}", variants[name])
        inherited = {
            k: v for k, v in os.environ.items() if not (bytecode and k == "PYTHONDONTWRITEBYTECODE")
        }
        return {
            **inherited,
            **bytecode,
            "PYTHONPATH": str(variants[name]),
            "LEDGERGATE_CACHE_DIR": str(cache_dir),
            "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(work / f"pre-commit-{name}"),
        }

    scanner = [sys.executable, "-m", "scanner", "scan", "repo"]
    print(f"corpus: {corpus} ({files} files); before = {before_rev[:12]}; cache: {cache_dir}")
    print(f"bytecode: {'compiled first' if bytecode else 'as the environment has it'}")
    print(HEADER)
    cold = measure(
        [*scanner, ".", "--format", "json", "-o", str(out / "cold.json")],
        env=env("after"),
        cwd=corpus,
        label="cold fill",
    )
    runs: dict[tuple[str, str], list[Run]] = {}

    def run(case: str, argv: list[str], name: str) -> None:
        for _ in range(args.repeat):
            runs.setdefault((case, name), []).append(
                measure(argv, env=env(name), cwd=corpus, label=f"{case} {name}")
            )

    for name in variants:  # (b) warm full scan
        run("full", [*scanner, ".", "--format", "json", "-o", str(out / f"{name}.json")], name)
    path = corpus / args.file
    text = path.read_text(encoding="utf-8")
    old, new = args.replace
    if old not in text:
        raise SystemExit(f"{args.file} has no {old!r} to change")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    _git(corpus, "add", args.file)
    for name in variants:  # (a) the hook's own command, then through pre-commit
        run(
            "hook",
            [*scanner, args.file, "--format", "json", "-o", str(out / f"hook-{name}.json")],
            name,
        )
    try_repo = [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "ledgergate-system"]
    for name in variants:
        run("pre-commit", try_repo, name)
    # what a commit runs once the hook is installed: `pre-commit run` with a config naming
    # the hook repository (cloned into PRE_COMMIT_HOME by a first, unmeasured run)
    config = work / "pre-commit-config.yaml"
    config.write_text(
        json.dumps(
            {
                "repos": [
                    {
                        "repo": str(hooks),
                        "rev": _git(hooks, "rev-parse", "HEAD"),
                        "hooks": [{"id": "ledgergate-system"}],
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    installed = [sys.executable, "-m", "pre_commit", "run", "--config", str(config)]
    for name in variants:
        subprocess.run(installed, env=env(name), cwd=corpus, capture_output=True, timeout=600)
        run("pre-commit run", installed, name)
    _git(corpus, "checkout", "-q", "-b", "change")
    _git(corpus, "commit", "-qm", "one-file change")
    for name in variants:  # (c) pre-merge
        run("--base", [*scanner, ".", "--base", "main", "--format", "json"], name)

    print(f"\ncold fill: {cold.cpu_s:.1f} s CPU, {cold.wall_s:.1f} s wall")
    for case in ("hook", "pre-commit", "pre-commit run", "full", "--base"):
        before = min(runs[(case, "before")], key=lambda r: r.cpu_s)
        after = min(runs[(case, "after")], key=lambda r: r.cpu_s)
        print(
            f"{case:<14} before {before.cpu_s:6.2f} s CPU, after {after.cpu_s:6.2f} s CPU: "
            f"{_ratio(after, before)}; after vs the {TARGET_CPU_S:.0f} s target: "
            f"{after.cpu_s / TARGET_CPU_S:.1f}x"
        )
    same = _findings(out / "before.json") == _findings(out / "after.json")
    print(f"full scan findings identical before/after: {'yes' if same else 'NO'}")
    hook_same = _findings(out / "hook-before.json") == _findings(out / "hook-after.json")
    print(f"hook (path-limited) report identical before/after: {'yes' if hook_same else 'NO'}")
    if not hook_same:
        rest_same = _findings(out / "hook-before.json", scope=False) == _findings(
            out / "hook-after.json", scope=False
        )
        print(
            "  ... apart from scope.notEvaluated (judged objects only since a80d238): "
            f"{'yes' if rest_same else 'NO'}"
        )


if __name__ == "__main__":
    main()
