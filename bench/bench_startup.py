"""CLI start-up: ``python -m bench.bench_startup [RUNS]``.

Times ``python -m scanner --help`` against a bare interpreter (``python -c pass``) and
reports, from ``-X importtime``, what importing ``scanner.cli`` itself costs. The budget
is 0.3 s over the interpreter; heavy libraries (jsonschema, rich, jinja2, kubernetes,
cryptography, sigstore...) are imported only by the commands that use them.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 0.3


def _wall(argv: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def import_seconds(module: str = "scanner.cli", runs: int = 5) -> float:
    """Best cumulative ``-X importtime`` figure of ``module`` over ``runs`` (least noise)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    best = float("inf")
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        line = next(x for x in done.stderr.splitlines() if x.rstrip().endswith(f"| {module}"))
        best = min(best, int(line.split("|")[1]) / 1e6)
    return best


def main(runs: int = 9) -> None:
    """Print the median wall times and the import cost; exit 1 over the budget."""
    bare = _wall([sys.executable, "-c", "pass"], runs)
    cli = _wall([sys.executable, "-m", "scanner", "--help"], runs)
    imported = import_seconds(runs=runs)
    print(f"python -c pass           {bare:.3f} s (median of {runs})")
    print(f"python -m scanner --help {cli:.3f} s (median of {runs})")
    print(f"over the interpreter     {cli - bare:.3f} s (budget {BUDGET_S} s)")
    print(f"import scanner.cli       {imported:.3f} s (best of {runs}, -X importtime)")
    sys.exit(0 if cli - bare < BUDGET_S else 1)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 9)
