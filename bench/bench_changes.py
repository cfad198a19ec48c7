"""Benchmark: ``scan changes`` over a history of real, signed commits and merges.

Builds a throwaway repository (real gpg and ssh-keygen keys; every fourth change a merged
branch signed with SSH, the rest direct OpenPGP-signed commits) and times the whole change
scan against the bare cost git itself pays to verify the same signatures
(``git log --format=%G?``), printing both and their ratio.

    python -m bench.bench_changes [--changes 200]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from scanner.changes import TrustSet, from_range, open_repository
from scanner.changescan import scan_changes
from scanner.config import load_config
from tests.gitrepos.builder import Keys, Repo, manifest


def build(folder: Path, changes: int) -> tuple[Repo, Keys, str]:
    """A repository with ``changes`` first-parent changes after a base commit."""
    keys = Keys(folder / "keys")
    repo = Repo(folder / "repo", keys)
    base = repo.commit({"README.md": "bench\n"}, "FIN-0 base", sign="gpg:alice")
    for n in range(changes):
        files = {f"apps/prod/app-{n % 20}.yaml": manifest(f"app-{n % 20}", "finance-prod", n)}
        if n % 4 == 0:
            repo.git("checkout", "-q", "-b", f"b{n}")
            repo.commit(files, f"FIN-{n} change {n}", sign="gpg:alice")
            repo.git("checkout", "-q", "main")
            repo.merge(f"b{n}", f"Merge pull request #{n}\n\nFIN-{n}", who="bob", sign="ssh:bob")
        else:
            repo.commit(files, f"FIN-{n} change {n}", sign="gpg:alice")
    return repo, keys, base


def main() -> None:
    """Build, scan, compare."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        repo, keys, base = build(Path(tmp), args.changes)
        print(f"built {args.changes} changes in {time.perf_counter() - started:.1f}s")
        trust = TrustSet((keys.keyring("alice", "bob"),), keys.allowed_signers("bob"))
        git = open_repository(repo.path)
        started = time.perf_counter()
        scan = scan_changes(git, from_range(git, f"{base}..main"), load_config(None), trust=trust)
        scan_s = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run(
            [
                "git",
                "-C",
                str(repo.path),
                "-c",
                f"gpg.ssh.allowedSignersFile={trust.allowed_signers}",
                "log",
                "--first-parent",
                "--format=%G?",
                f"{base}..main",
            ],
            capture_output=True,
            check=True,
            timeout=600,
            env={"GNUPGHOME": str(keys.gpg_home), "PATH": "/usr/bin:/bin"},
        )
        git_s = time.perf_counter() - started
        counts = scan.result.counts()
        print(
            f"scan changes: {len(scan.rows)} changes in {scan_s:.2f}s "
            f"({1000 * scan_s / max(len(scan.rows), 1):.1f} ms per change); "
            f"findings pass={counts['pass']} fail={counts['fail']} error={counts['error']}"
        )
        print(f"git log %G? alone: {git_s:.2f}s; scan / bare verification = {scan_s / git_s:.1f}x")


if __name__ == "__main__":
    main()
