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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
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
#: Items a streaming worker sends in one message (:func:`stream_shares`).
BATCH = 2000
#: This process takes its streaming workers' messages every this many of its own items.
DRAIN_EVERY = 500

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
    with _forked(_work, fn, shares) as workers:
        own = fn(shares[0])
        return [own, *(_result_of(i, *pair) for i, pair in enumerate(workers, start=1))]


def stream_shares(fn: Callable[[S], Iterable[T]], shares: Sequence[S]) -> Iterator[T]:
    """Every item of ``fn(share)`` for each share in turn, forked as :func:`map_shares`
    forks, but streamed: a worker sends its items back :data:`BATCH` at a time as it makes
    them, and this process takes them in between its own items.

    A worker that built its whole result first held it twice at the end, as objects and
    as one pickle, while this process unpickled a third copy: at 50,000 objects that was
    the scan's peak (about 1.1 GiB of PSS, the judging's results in flight). Streamed, a
    worker holds one batch; this process holds what it has not yet yielded. Failures are
    those of :func:`map_shares`.
    """
    if len(shares) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for share in shares:
            yield from fn(share)
        return
    with _forked(_stream_work, fn, shares) as workers:
        inboxes = [_Inbox(i, *pair) for i, pair in enumerate(workers, start=1)]
        for count, item in enumerate(fn(shares[0]), start=1):
            yield item
            if count % DRAIN_EVERY == 0:
                for inbox in inboxes:
                    inbox.drain()
        for inbox in inboxes:
            yield from inbox.items(inboxes)


@contextmanager
def _forked(
    target: Callable[[int, Connection], None], fn: Callable[[S], Any], shares: Sequence[S]
) -> Iterator[list[tuple[BaseProcess, Connection]]]:
    """One forked worker running ``target`` for each share but the first, each with the
    reading end of its pipe; every worker is ended and reaped on the way out."""
    context = multiprocessing.get_context("fork")
    _shared.update(fn=fn, shares=shares)
    workers: list[tuple[BaseProcess, Connection]] = []
    try:
        for position in range(1, len(shares)):
            receiver, sender = context.Pipe(duplex=False)
            worker = context.Process(target=target, args=(position, sender), daemon=True)
            worker.start()
            sender.close()  # the parent keeps only the reading end: EOF when the child dies
            workers.append((worker, receiver))
        _shared.clear()  # the workers have their copy; this process holds no extra reference
        yield workers
    finally:
        _shared.clear()
        for process, receiver in workers:
            receiver.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _stream_work(position: int, sender: Connection) -> None:
    """In the forked worker: send the job's items a batch at a time, then ``done`` (or the
    error that ended it)."""
    message: tuple[str, Any]
    try:
        try:
            batch: list[Any] = []
            for item in _shared["fn"](_shared["shares"][position]):
                batch.append(item)
                if len(batch) >= BATCH:
                    _send_batch(sender, position, batch)
                    batch = []
            if batch:
                _send_batch(sender, position, batch)
            message = (_DONE, None)
        except BaseException as exc:  # noqa: BLE001 - travels to the parent, raised there again
            message = (_ERROR, exc)
        try:
            sender.send(message)
        except Exception as exc:  # noqa: BLE001 - an unpicklable error: say so, never hang
            sender.send((_ERROR, WorkerError(f"worker {position} could not send: {exc}")))
    finally:
        sender.close()


def _send_batch(sender: Connection, position: int, batch: list[Any]) -> None:
    try:
        sender.send((_ITEMS, batch))
    except (OSError, EOFError):
        raise
    except Exception as exc:  # noqa: BLE001 - an unpicklable item: nothing was written
        raise WorkerError(f"worker {position} could not send its result: {exc}") from None


_ITEMS, _DONE, _ERROR = "items", "done", "error"


class _Inbox:
    """What one streaming worker has sent and this process has not yet yielded."""

    def __init__(self, position: int, process: BaseProcess, receiver: Connection) -> None:
        self.position, self.process, self.receiver = position, process, receiver
        self.batches: list[list[Any]] = []
        self.done = False

    def drain(self) -> None:
        """Take every message already waiting, without blocking (the worker's pipe never
        stays full while this process judges its own share)."""
        while not self.done and self.receiver.poll():
            self.take()

    def take(self) -> None:
        """Read one message (blocks until it is there)."""
        try:
            kind, payload = self.receiver.recv()
        except EOFError:
            self.process.join()
            raise WorkerError(
                f"worker {self.position} of the scan ended without its result (exit code "
                f"{self.process.exitcode}; killed or out of memory?): the scan is incomplete"
            ) from None
        if kind == _ERROR:
            raise payload
        if kind == _DONE:
            self.done = True
        else:
            self.batches.append(payload)

    def items(self, inboxes: Sequence[_Inbox]) -> Iterator[Any]:
        """This worker's items in order, to its ``done``; while waiting for them, the
        other workers' pipes are drained too, so none of them waits on a full pipe."""
        while True:
            while self.batches:
                yield from self.batches.pop(0)
            if self.done:
                return
            waiting = {i.receiver: i for i in inboxes if not i.done}
            for ready in wait(list(waiting)):
                inbox = waiting[ready]  # type: ignore[index]
                inbox.take()


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
