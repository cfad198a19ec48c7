"""Spread one job over every core: forked workers share the parent's memory.

``map_shares(fn, shares)`` runs ``fn`` on each share in a forked worker, so ``fn`` may be
a closure over large parsed structures (an inventory, compiled rules) that are never
pickled; only each share and its result travel. Small jobs, and platforms without
``fork``, run in this process. Knows nothing of what the job is.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

from scanner.errors import WorkerError

S = TypeVar("S")
T = TypeVar("T")

#: Below this many resources a worker costs more than it saves.
MIN_PARALLEL_RESOURCES = 4000
#: ``LEDGERGATE_WORKERS=1`` forces one process (e.g. to profile).
WORKERS_ENV = "LEDGERGATE_WORKERS"

_shared: dict[str, Any] = {}


#: cgroup v2 CPU limit of this container: "<quota> <period>" or "max <period>".
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
#: cgroup v1 equivalents (quota -1 means no limit).
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def cgroup_cpu_limit(
    cpu_max: Path = CGROUP_CPU_MAX,
    v1_quota: Path = CGROUP_V1_QUOTA,
    v1_period: Path = CGROUP_V1_PERIOD,
) -> int | None:
    """CPUs the container may use (quota / period, rounded up), or None when unlimited.

    In a pod with ``limits.cpu: 2`` on a 64-core node, ``os.cpu_count()`` says 64: forking
    64 workers would only be throttled and multiply memory.
    """
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(v1_quota.read_text())
        period_us = int(v1_period.read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else max(1, math.ceil(quota_us / period_us))


def available_cpus() -> int:
    """Cores this process may run on: affinity, capped by the cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return min(cores, limit) if limit else cores


def worker_count(resources: int) -> int:
    """How many processes to use for ``resources`` objects."""
    configured = os.environ.get(WORKERS_ENV)
    cores = int(configured) if configured and configured.isdigit() else available_cpus()
    if resources < MIN_PARALLEL_RESOURCES or cores < 2:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(cores, resources // (MIN_PARALLEL_RESOURCES // 2)))


def shares_of(items: Sequence[S], workers: int) -> list[Sequence[S]]:
    """``items`` dealt round-robin into ``workers`` shares (similar work in each)."""
    return [items[i::workers] for i in range(workers)] if workers > 1 else [items]


def _work(position: int, sender: Connection) -> None:
    """In the forked worker: run the job on its share and send back (ok, result or error)."""
    try:
        outcome: tuple[bool, Any] = (True, _shared["fn"](_shared["shares"][position]))
    except BaseException as exc:  # noqa: BLE001 - travels to the parent, raised there again
        outcome = (False, exc)
    try:
        sender.send(outcome)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result: say so, never hang
        sender.send((False, WorkerError(f"worker {position} could not send its result: {exc}")))
    finally:
        sender.close()


def map_shares(fn: Callable[[S], T], shares: Sequence[S]) -> list[T]:
    """``[fn(share) for share in shares]``, the first share in this process and one forked
    worker for each other share; results come back in order.

    This process works too rather than wait: a worker copies every memory page it touches
    (reference counts make reading an object write to it), so N workers beside an idle
    parent held N copies of the inventory where N - 1 suffice.

    Workers are forked from this thread alone, one pipe each, with no pool: a
    ``multiprocessing.Pool`` forks replacement workers from its handler thread, and a
    child forked while another thread holds a lock sleeps on it forever (a 5,000-object
    cluster scan once hung so). A worker that dies without a result raises
    :class:`WorkerError`; an exception in ``fn`` is raised again here.
    """
    if len(shares) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(share) for share in shares]
    context = multiprocessing.get_context("fork")
    _shared.update(fn=fn, shares=shares)
    workers: list[tuple[BaseProcess, Connection]] = []
    try:
        for position in range(1, len(shares)):
            receiver, sender = context.Pipe(duplex=False)
            worker = context.Process(target=_work, args=(position, sender), daemon=True)
            worker.start()
            sender.close()  # the parent keeps only the reading end: EOF when the child dies
            workers.append((worker, receiver))
        _shared.clear()  # the workers have their copy; this process holds no extra reference
        own = fn(shares[0])
        return [own, *(_result_of(i, *pair) for i, pair in enumerate(workers, start=1))]
    finally:
        _shared.clear()
        for process, receiver in workers:
            receiver.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _result_of(position: int, process: BaseProcess, receiver: Connection) -> Any:
    """Worker ``position``'s result, read before it is joined (a large result fills the pipe)."""
    try:
        ok, value = receiver.recv()
    except EOFError:
        process.join()
        raise WorkerError(
            f"worker {position} of the scan ended without its result (exit code "
            f"{process.exitcode}; killed or out of memory?): the scan is incomplete"
        ) from None
    if not ok:
        raise value
    return value
