"""Run one command as a whole process and measure it: wall, CPU and peak memory of its tree.

Peak RSS is the largest sum of resident memory over the process and all its descendants
(forked workers, kubectl, helm), sampled every 20 ms with psutil; CPU is user + system of
the tree from the child's own ``wait4`` rusage (every descendant was waited for). A single
process's ``ru_maxrss`` would miss forked workers.

The RSS sum counts a page a forked worker still shares with its parent once per process;
the kernel (and a container's memory limit, which is a cgroup's) counts it once. Peak PSS
(proportional set size, from ``/proc/PID/smaps_rollup``; shared pages split among their
sharers), summed over the tree, is that figure: what a CronJob's ``limits.memory`` must hold.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The shared corpus of public GitOps repositories (as the tests find it).
CORPUS = Path(os.environ.get("LEDGERGATE_CORPUS", ROOT.parent / "shared" / "corpus"))


@dataclass(frozen=True)
class Run:
    """One measured process."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int
    #: Peak of the tree's summed PSS: shared pages counted once (see the module docstring).
    peak_pss_mib: float = 0.0

    def line(self, name: str) -> str:
        """One row of a table."""
        return (
            f"{name:<12} {self.wall_s:>8.2f} {self.cpu_s:>8.2f} {self.peak_rss_mib:>9.0f} "
            f"{self.peak_pss_mib:>9.0f} {self.returncode:>4}"
        )


HEADER = f"{'tool':<12} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'PSS MiB':>9} {'rc':>4}"
#: PSS needs a walk of each process's mappings: sampled every this many RSS samples.
PSS_EVERY = 5


def _tree_memory(proc: object, with_pss: bool) -> tuple[int, int]:
    """Summed RSS and (when ``with_pss``, else 0) summed PSS of a process and its descendants."""
    import psutil

    assert isinstance(proc, psutil.Process)
    rss = pss = 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for member in members:
        try:
            rss += member.memory_info().rss
            if with_pss:
                pss += member.memory_full_info().pss
        except psutil.Error:
            continue
    return rss, pss


def measure(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 3600,
    label: str = "",
    rss_limit_mib: float | None = None,
) -> Run:
    """Run ``argv`` to completion (output discarded) and measure its process tree.

    ``rss_limit_mib`` stops the tree once it passes that much (a run far over its target
    on a shared machine); the run then reports the peak seen and a negative return code."""
    import psutil

    if label:
        print(f"  {label}: running since {time.strftime('%H:%M:%S')} ...", flush=True)
    start = time.perf_counter()
    child = subprocess.Popen(
        list(argv),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    proc = psutil.Process(child.pid)
    peak = peak_pss = samples = 0
    while True:
        # wait4: this child's own rusage (it and the descendants it waited for), where
        # RUSAGE_CHILDREN would carry an earlier, larger tool's peak into this row
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        rss, pss = _tree_memory(proc, samples % PSS_EVERY == 0)
        peak, peak_pss, samples = max(peak, rss), max(peak_pss, pss), samples + 1
        over = rss_limit_mib is not None and peak > rss_limit_mib * 2**20
        if over or time.perf_counter() - start > timeout_s:
            for descendant in proc.children(recursive=True):
                descendant.kill()
            child.kill()
            child.wait()
            break
        time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss of the largest single process of the tree, in case sampling missed a peak.
    peak = max(peak, usage.ru_maxrss * 1024)
    run = Run(wall, cpu, peak / 2**20, child.returncode, peak_pss / 2**20)
    if label:  # as soon as it is known: a long benchmark stopped half-way keeps its rows
        print(run.line(label), flush=True)
    return run


def unpack_corpus(target: Path, copies: int = 1, only: Sequence[str] = ()) -> Path:
    """Every archive of the shared corpus (or those whose names start with one of
    ``only``) unpacked into one folder (``copies`` times)."""
    archives = sorted(CORPUS.glob("*.tar.gz"))
    if only:
        archives = [a for a in archives if a.name.startswith(tuple(only))]
    if not archives:
        raise SystemExit(f"shared corpus not found at {CORPUS} (set LEDGERGATE_CORPUS)")
    for copy in range(copies):
        for archive in archives:
            folder = target / f"{archive.name.removesuffix('.tar.gz')}-{copy}"
            folder.mkdir(parents=True)
            with tarfile.open(archive) as tar:
                tar.extractall(folder, filter="data")
    return target


def temp_corpus(copies: int = 1, only: Sequence[str] = ()) -> Path:
    """The corpus unpacked into a fresh temp folder (left for the caller's temp dir)."""
    return unpack_corpus(Path(tempfile.mkdtemp(prefix="lg-corpus-")) / "corpus", copies, only)
