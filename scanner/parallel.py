"""Judge a large inventory on every core: forked workers share the parsed objects.

Rules compile once in the parent; ``fork`` hands each worker the engine, the inventory
and the compiled programs without pickling them. Only findings travel back. Small
inventories, and platforms without ``fork``, are judged in this process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping, Sequence
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


def worker_count(resources: int) -> int:
    """How many processes to use for ``resources`` objects."""
    configured = os.environ.get(WORKERS_ENV)
    cores = int(configured) if configured and configured.isdigit() else (os.cpu_count() or 1)
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
