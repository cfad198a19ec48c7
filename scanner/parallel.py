"""Judge a large inventory on every core: forked workers share the parsed objects.

Rules compile once in the parent; ``fork`` hands each worker the engine, the inventory
and the compiled programs without pickling them. Only findings travel back. Small
inventories, and platforms without ``fork``, are judged in this process.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.model import Finding

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


def _judge_share(indexes: Sequence[int]) -> list[Finding]:
    engine: Engine = _shared["engine"]
    return engine.judge_indexes(_shared["inventory"], indexes, _shared["ns_labels"])


def judge_all(
    engine: Engine,
    inventory: Inventory,
    indexes: Sequence[int],
    ns_labels: Mapping[str, Mapping[str, str]],
) -> list[Finding]:
    """Findings for every index, split across worker processes when it pays."""
    workers = worker_count(len(indexes))
    if workers == 1:
        return engine.judge_indexes(inventory, indexes, ns_labels)
    shares = [indexes[i::workers] for i in range(workers)]
    _shared.update(engine=engine, inventory=inventory, ns_labels=ns_labels)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_judge_share, shares)
    finally:
        _shared.clear()
    return [finding for share in results for finding in share]
