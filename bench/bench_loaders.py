"""YAML loaders on a synthetic repository and on the shared corpus: what the repo source costs.

Run: ``python bench/bench_loaders.py [--objects N] [--corpus DIR] [--baseline GIT-REF]``.
``--baseline`` loads ``scanner/sources/kubeyaml.py`` as it was at a Git ref (e.g. the
yaml-rs two-parser design on ``main``) so both are timed on the same texts. Each loader
runs three times with the cyclic collector paused (as the pipeline does); the best run
counts. Ratios are printed against PyYAML's C ``load_all``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

Loader = Callable[[str], Iterable[object]]


def _baseline(ref: str) -> Loader | None:
    """``parse_yaml`` of the kubeyaml module at a Git ref, or None when git cannot show it."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:scanner/sources/kubeyaml.py"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        return None
    path = Path(tempfile.mkdtemp()) / "yamldocs_baseline.py"
    path.write_bytes(done.stdout)
    spec = importlib.util.spec_from_file_location("yamldocs_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    parse: Loader = module.parse_yaml
    return parse


def _corpus_texts(folder: Path) -> list[str]:
    """Every YAML text of every corpus archive, unpacked into a temp dir."""
    target = Path(tempfile.mkdtemp(prefix="corpus-"))
    for archive in sorted(folder.glob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            tar.extractall(target / archive.name, filter="data")
    texts = []
    for path in sorted(target.rglob("*")):
        if path.suffix in {".yaml", ".yml"} and path.is_file() and "templates" not in path.parts:
            texts.append(path.read_text(encoding="utf-8-sig", errors="replace"))
    return texts


def _time(texts: list[str], load: Loader) -> tuple[float, int]:
    best, documents = float("inf"), 0
    for _ in range(3):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        documents = 0
        for text in texts:
            try:
                documents += sum(1 for _ in load(text))
            except Exception:  # noqa: BLE001 - PyYAML raises where the others report
                documents += 0
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best, documents


def _report(title: str, texts: list[str], loaders: dict[str, Loader]) -> None:
    print(f"\n{title}: {len(texts)} files, {sum(map(len, texts)) / 1e6:.1f} MB")
    reference = None
    for name, load in loaders.items():
        seconds, documents = _time(texts, load)
        reference = reference or seconds
        print(f"  {name:<48} {seconds:6.3f} s  x{seconds / reference:4.2f}  ({documents} docs)")


def main() -> None:
    """Time each loader over the same texts and print seconds, ratios and documents."""
    import yaml

    from bench.synth import generate
    from scanner.sources.kubeyaml import parse_yaml

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--baseline", default="main", help="git ref of the previous loader")
    args = parser.parse_args()

    def pyyaml(text: str) -> Iterable[object]:
        return yaml.load_all(text, Loader=yaml.CSafeLoader)

    loaders: dict[str, Loader] = {"PyYAML C load_all (no marks, YAML 1.1)": pyyaml}
    baseline = _baseline(args.baseline)
    if baseline is not None:
        loaders[f"previous parse_yaml at {args.baseline}"] = baseline
    loaders["ledgergate parse_yaml (kubectl semantics + marks)"] = parse_yaml

    root = Path(tempfile.mkdtemp()) / "repo"
    generate(root, args.objects)
    synthetic = [p.read_text() for p in sorted(root.rglob("*.yaml"))]
    _report(f"synthetic {args.objects:,} objects", synthetic, loaders)
    if args.corpus.is_dir():
        _report("shared corpus (YAML outside chart templates)", _corpus_texts(args.corpus), loaders)


if __name__ == "__main__":
    main()
