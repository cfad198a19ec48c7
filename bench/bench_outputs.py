"""Benchmark: how large the outputs of a 50,000-object scan are, and how fast they render.

Generates the synthetic estate of :mod:`bench.bench_cluster` as a repository, scans it
with the shipped rules, writes every registered format, and prints each one's size (and
gzipped size), its render time, and the time headless Chromium takes to load the HTML
report. Targets (issue 13.4): JSON <= 20 MB, HTML <= 5 MB and rendered in <= 5 s, SARIF
within GitHub's upload limits.

    python -m bench.bench_outputs [--objects 50000] [--chromium chromium]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.bench_cluster import objects
from tests.chromium import headless


def write_repo(root: Path, total: int, per_file: int = 500) -> None:
    """The estate as multi-document YAML files, ``per_file`` objects each."""
    docs = objects(total)
    for start in range(0, len(docs), per_file):
        chunk = docs[start : start + per_file]
        (root / f"estate-{start // per_file:04d}.yaml").write_text(
            yaml.safe_dump_all(chunk, sort_keys=False)
        )


def chromium_seconds(browser: str, html: Path, profile: Path) -> float:
    """Wall time of a headless Chromium loading and dumping the DOM of ``html``."""
    command = headless(browser, profile, html, "--dump-dom")
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, timeout=600, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=50_000)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()

    from scanner.config import load_config
    from scanner.pipeline import scan_repo
    from scanner.reporters import FORMATS, get_reporter

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "estate"
        root.mkdir()
        write_repo(root, args.objects)
        start = time.perf_counter()
        result = scan_repo(root, load_config(None))
        scanned = time.perf_counter() - start
        counts = result.counts()
        print(
            f"{args.objects} objects, {len(result.findings)} findings "
            f"({dict(sorted(counts.items()))}), scan {scanned:.1f} s"
        )
        print(f"{'format':<20}{'MB':>9}{'gzip MB':>10}{'render s':>10}")
        for name, entry in FORMATS.items():
            start = time.perf_counter()
            text = get_reporter(name).render(result)
            took = time.perf_counter() - start
            data = text.encode()
            (Path(tmp) / f"out{entry.extension}").write_bytes(data)
            zipped = len(gzip.compress(data, compresslevel=6, mtime=0))
            print(f"{name:<20}{len(data) / 1e6:>9.2f}{zipped / 1e6:>10.2f}{took:>10.2f}")
            if name == "html":
                html = Path(tmp) / "report.html"
                html.write_bytes(data)
        if shutil.which(args.chromium):
            seconds = chromium_seconds(args.chromium, html, Path(tmp) / "profile")
            print(f"chromium --headless --dump-dom report.html: {seconds:.2f} s")
        else:
            print(f"chromium not found ({args.chromium}): render time not measured")


if __name__ == "__main__":
    main()
