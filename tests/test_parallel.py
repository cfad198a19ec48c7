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


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None)],
)
def test_cgroup_v2_cpu_quota(tmp_path: Path, cpu_max: str, expected: int | None) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    missing = tmp_path / "absent"
    assert parallel.cgroup_cpu_limit(path, missing, missing) == expected


def test_cgroup_v1_cpu_quota_and_no_cgroup(tmp_path: Path) -> None:
    quota, period, missing = tmp_path / "q", tmp_path / "p", tmp_path / "absent"
    quota.write_text("300000\n")
    period.write_text("100000\n")
    assert parallel.cgroup_cpu_limit(missing, quota, period) == 3
    quota.write_text("-1\n")
    assert parallel.cgroup_cpu_limit(missing, quota, period) is None
    assert parallel.cgroup_cpu_limit(missing, missing, missing) is None


def test_worker_count_follows_the_container_limit_not_the_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pod limited to 2 CPUs on a 64-core node forks 2 workers, not 64."""
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _pid: set(range(64)))
    monkeypatch.setattr(parallel, "cgroup_cpu_limit", lambda: 2)
    assert parallel.worker_count(50_000) == 2
    monkeypatch.setattr(parallel, "cgroup_cpu_limit", lambda: None)
    assert parallel.worker_count(50_000) == 25  # 64 cores, capped by 2,000 objects a worker
