"""Property suite (issue 12 §4): hostile repositories never crash the scan, every file is
judged or reported, no planted secret reaches any output, and outputs stay valid JSON
and SARIF. A fixed example budget keeps it bounded in CI; ``bench/fuzz.py`` runs long."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from .hostile import HostileRepo, hostile_repo

EXAMPLES = 20


def check_invariants(repo: HostileRepo) -> None:
    """Scan the repository and assert every invariant (shared with bench/fuzz.py)."""
    from scanner.config import load_config
    from scanner.evidence.leaks import find_leak
    from scanner.pipeline import repo_source, run_scan
    from scanner.reporters import get_reporter
    from scanner.reporters.bundle import BundleInputs, build_files
    from scanner.reporters.table import TableReporter

    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        repo.write(root)
        config = load_config(None)
        outcome = run_scan(repo_source(root, config), config)
        result = outcome.result
        outputs = {fmt: get_reporter(fmt).render(result) for fmt in ("table", "json", "sarif")}
        outputs["md"] = get_reporter("md").render(result)
        outputs["html"] = get_reporter("html").render(result)
        outputs["table-color"] = TableReporter(color=True).render(result)
        files = build_files(BundleInputs(result, inventory=outcome.inventory))
        for name in ("json", "sarif"):
            json.loads(outputs[name], parse_constant=_not_strict)
        for name, data in files.items():
            if name.endswith(".json") or name.endswith(".sarif"):
                json.loads(data, parse_constant=_not_strict)
        assert find_leak({k: v.encode() for k, v in outputs.items()}, repo.secrets) is None
        assert find_leak(files, repo.secrets) is None
        seen = {f.origin.path for f in result.findings} | {s.origin.path for s in result.skipped}
        seen |= {r.origin.path for r in outcome.inventory.resources}  # read, no rule applies
        assert set(repo.files) <= seen, sorted(set(repo.files) - seen)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _not_strict(name: str) -> object:
    raise AssertionError(f"not strict JSON: {name}")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile_repo())
def test_hostile_repositories_keep_every_invariant(repo: HostileRepo) -> None:
    check_invariants(repo)
