"""Repository scan versus bare YAML parsing at 1k, 10k and 50k objects.

Run: ``python bench/bench_repo.py [--sizes 1000,10000,50000] [--corpus]``. Each size runs
in a fresh subprocess so peak memory (max RSS) is per size. Prints objects per second,
peak memory and the ratio scan/parse (target: <= 2x at 10k objects).

``--corpus [--repos PREFIX,...] [--no-double]`` measures the shared corpus of public
repositories instead (all archives in one folder, then twice over): PyYAML's C loader
merely loading every YAML file, against a full cold scan through the CLI (all rules and
analyzers, rendering, JSON and SARIF written, ``--no-cache``), each a whole process.
Targets: scan/load <= 1.5x; 2x the corpus <= 2.1x the scan time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _parse_only(root: Path) -> tuple[float, int]:
    import yaml

    start = time.perf_counter()
    count = 0
    for path in sorted(root.rglob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            count += doc is not None
    return time.perf_counter() - start, count


def _scan(root: Path) -> tuple[float, int, int]:
    from scanner.config import load_config
    from scanner.pipeline import scan_repo

    config = load_config(None)
    start = time.perf_counter()
    result = scan_repo(root, config)
    return time.perf_counter() - start, result.resources_scanned, len(result.findings)


def run_one(size: int, mode: str) -> dict[str, float]:
    """One measurement in this process."""
    from bench.synth import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        generate(root, size)
        if mode == "parse":
            seconds, objects = _parse_only(root)
            findings = 0
        else:
            seconds, objects, findings = _scan(root)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "objects": objects, "findings": findings, "peak_rss_mb": rss_mb}


_LOAD_ONLY = """
import sys, pathlib, yaml
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*")):
    if path.suffix in (".yaml", ".yml") and path.is_file():
        try:
            for _doc in yaml.load_all(path.read_text(errors="replace"), Loader=yaml.CSafeLoader):
                pass
        except yaml.YAMLError:
            pass
"""


def corpus(only: list[str], copies: tuple[int, ...] = (1, 2)) -> None:
    """Load versus scan on the shared corpus, then the scan on twice the corpus (a cold
    scan: ``--no-cache``; ``only`` keeps the archives whose names start so)."""
    import os

    from bench.proctree import HEADER, measure, temp_corpus

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = {}
    print(HEADER, flush=True)
    for copy in copies:
        folder = temp_corpus(copy, only)
        print(f"  corpus x{copy}: {sum(1 for p in folder.rglob('*') if p.is_file())} files")
        out = folder.parent
        runs[f"load x{copy}"] = measure(
            [sys.executable, "-c", _LOAD_ONLY, str(folder)], label=f"load x{copy}"
        )
        runs[f"scan x{copy}"] = measure(
            [
                sys.executable, "-m", "scanner", "scan", "repo", str(folder), "--fail-on=none",
                "--format=json", "-o", str(out / "r.json"), "--sarif", str(out / "r.sarif"),
                "--no-cache",
            ],
            env=env,
            cwd=ROOT,
            label=f"scan x{copy}",
        )  # fmt: skip
    print(HEADER)
    for name, run in runs.items():
        print(run.line(name))
    load, scan = runs["load x1"], runs["scan x1"]
    print(
        f"scan/load: wall {scan.wall_s / load.wall_s:.2f}x, cpu {scan.cpu_s / load.cpu_s:.2f}x "
        "(target <= 1.5x)"
    )
    if "scan x2" in runs:
        scan2 = runs["scan x2"]
        print(
            f"2x corpus: wall {scan2.wall_s / scan.wall_s:.2f}x, "
            f"cpu {scan2.cpu_s / scan.cpu_s:.2f}x (target <= 2.1x)"
        )


def main() -> None:
    """Run every size in child processes and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--corpus", action="store_true", help="measure the shared corpus")
    parser.add_argument("--repos", default="", help="with --corpus: archive-name prefixes")
    parser.add_argument(
        "--no-double", action="store_true", help="with --corpus: skip the 2x-corpus run"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="scan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.mode)))
        return
    if args.corpus:
        corpus([r for r in args.repos.split(",") if r], (1,) if args.no_double else (1, 2))
        return
    print(
        f"{'objects':>8} {'parse s':>8} {'scan s':>8} {'scan obj/s':>11} "
        f"{'peak MB':>8} {'scan/parse':>10}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        out = {}
        for mode in ("parse", "scan"):
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(size), "--mode", mode],
                capture_output=True,
                text=True,
                check=True,
                timeout=1800,
                cwd=ROOT,
            )
            out[mode] = json.loads(done.stdout)
        parse, scan = out["parse"], out["scan"]
        print(
            f"{size:>8} {parse['seconds']:>8.2f} {scan['seconds']:>8.2f} "
            f"{scan['objects'] / scan['seconds']:>11,.0f} {scan['peak_rss_mb']:>8.0f} "
            f"{scan['seconds'] / parse['seconds']:>10.2f}"
        )


if __name__ == "__main__":
    main()
