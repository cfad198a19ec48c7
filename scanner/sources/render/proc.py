"""Run a renderer as a child process with a timeout, an output cap and a bare environment.

The scanned tree is untrusted: a render must not hang the gate, fill memory, or see the
CI job's credentials. The child gets an argument list (no shell), its own session (so a
timeout kills the whole group), and only ``PATH``, ``HOME`` and ``LANG``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scanner.errors import SourceError


class RenderRunError(SourceError):
    """The renderer could not run to completion: not found, timed out or too much output."""


@dataclass(frozen=True)
class Completed:
    """A finished child: exit code and its (capped) output."""

    returncode: int
    stdout: bytes
    stderr: str


def _pump(stream: IO[bytes], buf: bytearray, limit: int, over: threading.Event) -> None:
    while chunk := stream.read(65536):
        if len(buf) + len(chunk) > limit:
            over.set()
            return
        buf.extend(chunk)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)


def run_bounded(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    max_bytes: int,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> Completed:
    """Run ``argv``; raise :class:`RenderRunError` on timeout, overflow or a missing program."""
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
    }
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**base_env, **(env or {})},
            start_new_session=True,
        )
    except OSError as exc:
        raise RenderRunError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    out, err = bytearray(), bytearray()
    over = threading.Event()
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(proc.stdout, out, max_bytes, over), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err, 1 << 20, threading.Event())),
    ]
    for pump in pumps:
        pump.start()
    if stdin is not None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    deadline = time.monotonic() + timeout_s
    try:
        while proc.poll() is None and not over.is_set() and time.monotonic() < deadline:
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
        if proc.poll() is None:
            _kill(proc)
            proc.wait()
            if over.is_set():
                raise RenderRunError(f"output over the {max_bytes:,}-byte limit; stopped")
            raise RenderRunError(f"timed out after {timeout_s:g} s; stopped")
    finally:
        for pump in pumps:
            pump.join(timeout=5)
    if over.is_set():
        raise RenderRunError(f"output over the {max_bytes:,}-byte limit; stopped")
    return Completed(proc.returncode, bytes(out), err.decode("utf-8", "replace"))


class InputBudget:
    """How much input the renderers running at once may read together.

    A ``kubectl kustomize`` build holds about 60 times its input in memory (3.5 MB of CRDs
    took 220 MB), so two large builds at once were the scan's peak. A build starts when
    it fits beside those running, or when none runs (a build larger than the budget
    still runs, alone)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self._used = 0
        self._running = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Wait until ``size`` more bytes fit, and hold them for the block."""
        with self._changed:
            self._changed.wait_for(lambda: not self._running or self._used + size <= self.limit)
            self._used += size
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._used -= size
                self._running -= 1
                self._changed.notify_all()
