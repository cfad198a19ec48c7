"""Forked workers give exactly the findings one process gives."""

from __future__ import annotations

from collections.abc import Iterator
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


def test_map_shares_runs_a_closure_in_forked_workers_in_order() -> None:
    """Generic: any closure over unpicklable parent state, results in share order. The
    first share runs in this process: an idle parent beside N workers held one copy of
    every page the workers touch too many."""
    import os

    parent = os.getpid()
    unpicklable = (lambda: None, 10)  # a closure's state need not travel

    def work(share: object) -> tuple[int, bool]:
        assert isinstance(share, range)
        return sum(share) * unpicklable[1], os.getpid() != parent

    shares = parallel.shares_of(range(100), 2)
    results = parallel.map_shares(work, shares)
    assert [r[0] for r in results] == [sum(range(0, 100, 2)) * 10, sum(range(1, 100, 2)) * 10]
    assert [forked for _, forked in results] == [False, True]
    assert parallel.map_shares(work, parallel.shares_of(range(5), 1)) == [(100, False)]


def test_analyzers_whose_facts_no_rule_reads_do_not_run(tmp_path: Path) -> None:
    from scanner.analyzers.base import Analyzer, AnalyzerResult
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.pipeline import load_ruleset
    from scanner.rules import RuleSet
    from scanner.sources.repo import RepoSource

    ran: list[str] = []

    class Spy(Analyzer):
        def __init__(self, name: str, provides: tuple[str, ...]) -> None:
            self.name, self.provides = name, provides

        def analyze(self, inventory: Inventory, params: object) -> AnalyzerResult:
            ran.append(self.name)
            return AnalyzerResult()

    generate(tmp_path / "repo", 20)
    rules = load_ruleset(load_config(None))
    only_rbac = RuleSet(r for r in rules if r.family == "rbac")
    assert "rbacSubject" in only_rbac.facts_read()
    assert "traefikRoute" not in only_rbac.facts_read()
    spies = [Spy("traefik", ("traefikRoute",)), Spy("rbac", ("rbacSubject",))]
    inventory = Inventory.from_items(RepoSource(tmp_path / "repo").collect())
    Engine(only_rbac, {}, spies).run(inventory)
    assert ran == ["rbac"]
    assert inventory.secrets  # redaction never depends on which analyzers ran


def test_a_worker_that_dies_without_its_result_is_an_incomplete_scan_not_a_hang() -> None:
    """A killed worker (out of memory, SIGKILL) raises WorkerError (exit 4), never a
    shorter result and never a parent waiting forever."""
    import os

    from scanner.cli.util import EXIT_INCOMPLETE, error_exit
    from scanner.errors import WorkerError

    def work(share: object) -> int:
        assert isinstance(share, range)
        if share.start == 1:
            os._exit(9)
        return sum(share)

    with pytest.raises(WorkerError, match=r"worker 1 .*exit code 9") as raised:
        parallel.map_shares(work, parallel.shares_of(range(10), 2))
    assert error_exit(raised.value) == EXIT_INCOMPLETE


def test_an_exception_in_a_worker_is_raised_again_in_the_parent() -> None:
    def work(share: object) -> int:
        assert isinstance(share, range)
        if share.start == 0:
            raise LookupError("share 0 failed")
        return sum(share)

    with pytest.raises(LookupError, match="share 0 failed"):
        parallel.map_shares(work, parallel.shares_of(range(10), 2))


def test_a_result_that_cannot_travel_back_is_an_incomplete_scan_not_a_hang() -> None:
    """A worker whose result cannot be pickled sends a WorkerError instead (exit 4)."""
    import threading

    from scanner.cli.util import EXIT_INCOMPLETE, error_exit
    from scanner.errors import WorkerError

    def work(share: object) -> object:
        assert isinstance(share, range)
        return threading.Lock() if share.start == 1 else sum(share)

    with pytest.raises(WorkerError, match=r"worker 1 could not send its result") as raised:
        parallel.map_shares(work, parallel.shares_of(range(10), 2))
    assert error_exit(raised.value) == EXIT_INCOMPLETE


def test_workers_are_forked_without_helper_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pool: a ``multiprocessing.Pool`` starts handler threads and forks replacement
    workers from one, and a child forked while a thread holds a lock sleeps on it forever."""
    import threading

    def no_threads(self: threading.Thread) -> None:
        raise AssertionError(f"map_shares started a thread: {self.name}")

    monkeypatch.setattr(threading.Thread, "start", no_threads)

    def work(share: object) -> int:
        assert isinstance(share, range)
        return sum(share)

    assert parallel.map_shares(work, parallel.shares_of(range(10), 2)) == [20, 25]


def test_stream_shares_gives_every_item_in_share_order() -> None:
    """Streamed, the items are those of running each share in turn, the first share in
    this process; one share (or a small inventory) never forks."""
    import os

    parent = os.getpid()

    def work(share: object) -> Iterator[tuple[int, bool]]:
        assert isinstance(share, range)
        for item in share:
            yield item, os.getpid() != parent

    shares = parallel.shares_of(range(10_001), 3)  # several batches from each worker
    streamed = list(parallel.stream_shares(work, shares))
    assert [i for i, _ in streamed] == [i for share in shares for i in share]
    assert {i % 3: forked for i, forked in streamed} == {0: False, 1: True, 2: True}
    assert list(parallel.stream_shares(work, [range(3)])) == [(0, False), (1, False), (2, False)]


def test_a_streaming_worker_holds_one_batch_not_its_whole_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker sends its items as it makes them: one that built its whole result first
    held it twice (objects and pickle) while the parent unpickled a third copy, the 50k
    cluster scan's peak. Here a worker makes 240 MiB of items; had it kept them, its own
    peak would pass 200 MiB."""
    import psutil

    monkeypatch.setattr(parallel, "BATCH", 2)
    chunk = 4 << 20

    def work(share: object) -> Iterator[bytes]:
        assert isinstance(share, range)
        if share.start == 0:
            return
        me = psutil.Process()
        start = peak = me.memory_info().rss
        for _ in range(60):
            yield b"\x01" * chunk  # written, so resident (bytes(n) would not be)
            peak = max(peak, me.memory_info().rss)
        yield (peak - start).to_bytes(8, "big")

    *items, last = parallel.stream_shares(work, parallel.shares_of(range(2), 2))
    assert len(items) == 60 and all(len(i) == chunk for i in items)
    assert int.from_bytes(last, "big") < 100 << 20


def test_stream_shares_fails_as_map_shares_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-stream, an exception in a worker and an item that cannot travel:
    each is raised here (WorkerError for the first and last: exit 4), never a shorter
    stream and never a hang; no helper thread is started for any of it."""
    import os
    import threading

    from scanner.cli.util import EXIT_INCOMPLETE, error_exit
    from scanner.errors import WorkerError

    def killed(share: object) -> Iterator[int]:
        assert isinstance(share, range)
        yield from share
        if share.start == 1:
            os._exit(9)

    def raising(share: object) -> Iterator[int]:
        assert isinstance(share, range)
        yield from share
        if share.start == 1:
            raise LookupError("share 1 failed")

    def unpicklable(share: object) -> Iterator[object]:
        assert isinstance(share, range)
        yield threading.Lock() if share.start == 1 else 0

    def no_threads(self: threading.Thread) -> None:
        raise AssertionError(f"stream_shares started a thread: {self.name}")

    monkeypatch.setattr(threading.Thread, "start", no_threads)
    shares = parallel.shares_of(range(10), 2)
    with pytest.raises(WorkerError, match=r"worker 1 .*exit code 9") as raised:
        list(parallel.stream_shares(killed, shares))
    assert error_exit(raised.value) == EXIT_INCOMPLETE
    with pytest.raises(LookupError, match="share 1 failed"):
        list(parallel.stream_shares(raising, shares))
    with pytest.raises(WorkerError, match=r"worker 1 could not send its result") as raised:
        list(parallel.stream_shares(unpicklable, shares))
    assert error_exit(raised.value) == EXIT_INCOMPLETE
