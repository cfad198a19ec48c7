"""Forked workers give exactly the findings one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.synth import generate
from scanner import parallel
from scanner.config import load_config
from scanner.pipeline import scan_repo
from scanner.reporters.json import JsonReporter


def test_parallel_and_serial_scans_are_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "repo", 600)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    serial = JsonReporter().render(scan_repo(tmp_path / "repo", load_config(None)))
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    monkeypatch.setattr(parallel, "MIN_PARALLEL_RESOURCES", 100)
    assert parallel.worker_count(600) == 2
    forked = JsonReporter().render(scan_repo(tmp_path / "repo", load_config(None)))
    assert '"status": "fail"' in serial
    assert forked == serial


def test_small_inventories_stay_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.WORKERS_ENV, "8")
    assert parallel.worker_count(parallel.MIN_PARALLEL_RESOURCES - 1) == 1
    assert parallel.worker_count(parallel.MIN_PARALLEL_RESOURCES * 10) == 8
