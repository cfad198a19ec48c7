"""YAML loaders on a synthetic 10k-object repository: what the repo source could use.

Run: ``python bench/bench_loaders.py``. Optional comparisons are skipped when not
installed (``pip install ruamel.yaml rapidyaml``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    """Time each loader over the same texts and print seconds and documents."""
    import yaml

    from bench.synth import generate
    from scanner.sources.yamldocs import parse_yaml, reference_parse

    root = Path(tempfile.mkdtemp()) / "repo"
    generate(root, 10_000)
    texts = [p.read_text() for p in sorted(root.rglob("*.yaml"))]

    def count(load: Callable[[str], object]) -> Callable[[], int]:
        return lambda: sum(1 for text in texts for _ in load(text))  # type: ignore[attr-defined]

    candidates: dict[str, Callable[[], int]] = {
        "PyYAML CSafeLoader load_all (no marks)": count(
            lambda t: yaml.load_all(t, Loader=yaml.CSafeLoader)
        ),
        "ledgergate reference path (PyYAML C + marks)": count(reference_parse),
        "ledgergate fast path (yaml-rs + spans)": count(parse_yaml),
    }
    try:
        from ruamel.yaml import YAML

        ruamel = YAML(typ="safe", pure=False)
        candidates["ruamel.yaml safe"] = count(ruamel.load_all)
    except ImportError:
        pass
    print(f"{len(texts)} files, 10,000 objects")
    for name, run in candidates.items():
        start = time.perf_counter()
        documents = run()
        print(f"{name:<46} {time.perf_counter() - start:7.2f} s  ({documents} documents)")


if __name__ == "__main__":
    main()
