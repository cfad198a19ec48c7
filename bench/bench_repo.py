"""Repository scan versus bare YAML parsing at 1k, 10k and 50k objects.

Run: ``python bench/bench_repo.py [--sizes 1000,10000,50000] [--corpus]``. Each size runs
in a fresh subprocess so peak memory (max RSS) is per size. Prints objects per second,
peak memory and the ratio scan/parse (target: <= 2x at 10k objects).

``--corpus [--repos PREFIX,...] [--no-double]`` measures the shared corpus of public
repositories instead (all archives in one folder, then twice over): PyYAML's C loader
merely loading every YAML file, against a full cold scan through the CLI (all rules and
analyzers, rendering, JSON and SARIF written, ``--no-cache``), each a whole process.
Targets: scan/load <= 1.5x; 2x the corpus <= 2.1x the scan time.

``--corpus --same-as REF [--repos bitnami-odoo,traefik]`` is the check that a speed-up
changed no result: the tree at Git ref ``REF`` (``git archive``) and this one scan the
same folder with ``SOURCE_DATE_EPOCH`` set, and their JSON and SARIF must be
byte-identical. Charts that draw random values (Helm's ``genCA``, ``randAlphaNum``) give
another certificate each render, so the lengths inside ``[REDACTED ... len=N]`` may
differ between any two runs; they are compared with the length masked, and said so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


#: A redacted value's length: random Helm certificates differ in it from render to render.
_REDACTED_LENGTH = re.compile(rb"(\[REDACTED [a-z0-9-]+ len=)\d+\]")


def _outputs(tree: Path, folder: Path, out: Path) -> dict[str, bytes]:
    """JSON and SARIF of a cold, reproducible scan of ``folder`` by the code in ``tree``."""
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "SOURCE_DATE_EPOCH": "1700000000"}
    subprocess.run(
        [
            sys.executable, "-m", "scanner", "scan", "repo", str(folder), "--fail-on=none",
            "--format=json", "-o", str(out / "r.json"), "--sarif", str(out / "r.sarif"),
            "--no-cache",
        ],
        env=env, cwd=tree, check=True, timeout=3600, capture_output=True,
    )  # fmt: skip
    return {name: (out / name).read_bytes() for name in ("r.json", "r.sarif")}


def same_as(ref: str, only: list[str]) -> bool:
    """Whether this tree writes the same JSON and SARIF as the tree at ``ref``."""
    from bench.proctree import temp_corpus

    folder = temp_corpus(1, only)
    work = Path(tempfile.mkdtemp(prefix="lg-same-"))
    base = work / "base"
    base.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True, timeout=120
    )
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True, timeout=120)
    before = _outputs(base, folder, work / "before")
    after = _outputs(ROOT, folder, work / "after")
    same = True
    for name in before:
        if before[name] == after[name]:
            print(f"{name}: byte-identical to {ref} ({len(after[name]):,} bytes)")
            continue
        masked = [_REDACTED_LENGTH.sub(rb"\1N]", x[name]) for x in (before, after)]
        if masked[0] == masked[1]:
            print(f"{name}: identical to {ref} but for random Helm values' redacted lengths")
            continue
        same = False
        old, new = (x.decode().splitlines() for x in masked)
        line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), 0)
        print(f"{name}: DIFFERS from {ref} at line {line + 1}: {old[line:line + 1]} -> "
              f"{new[line:line + 1]}")  # fmt: skip
    return same


def main() -> None:
    """Run every size in child processes and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--corpus", action="store_true", help="measure the shared corpus")
    parser.add_argument("--repos", default="", help="with --corpus: archive-name prefixes")
    parser.add_argument(
        "--no-double", action="store_true", help="with --corpus: skip the 2x-corpus run"
    )
    parser.add_argument(
        "--same-as", metavar="REF", help="with --corpus: outputs must equal the tree at REF's"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="scan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.mode)))
        return
    if args.corpus and args.same_as:
        sys.exit(0 if same_as(args.same_as, [r for r in args.repos.split(",") if r]) else 1)
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
