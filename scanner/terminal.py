"""How the terminal is written to: colour (``NO_COLOR``, ``--no-color``) and ``--quiet``.

Set once by the root command's options; read where the terminal is written
(:func:`scanner.cli.util.write_outputs`, :func:`scanner.cli.util.progress`), which also
shows a :class:`Spinner` while a long scan runs. Files
(``--output``, ``--sarif``, ``--json``) are never affected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Terminal:
    """The preferences of this run (the CLI is one process, one run)."""

    no_color: bool = False
    quiet: bool = False
    #: The progress line of this run's scan, stopped before anything else is written.
    spinners: list[Spinner] = field(default_factory=list)

    def color(self, isatty: bool) -> bool:
        """Colour only on a TTY, and never when ``NO_COLOR`` is set to anything non-empty
        (https://no-color.org) or ``--no-color`` was given."""
        return isatty and not self.no_color and not os.environ.get("NO_COLOR")

    def stop_progress(self) -> None:
        """Erase every progress line (the report, an error message or the exit follows)."""
        for spinner in self.spinners:
            spinner.stop()


TERMINAL = Terminal()


def quiet_text(text: str) -> str:
    """``--quiet``: of a terminal table, the coverage gaps (why a scan is incomplete, exit 4)
    and the last line (the summary with the counts); a CI or CronJob log stays short."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    gaps = [line for line in lines[:-1] if line.startswith("COVERAGE gap ")]
    return "".join(f"{line}\n" for line in [*gaps, lines[-1]])


class Spinner:
    """A transient status line on stderr for a scan that takes more than ``delay`` seconds.

    Called with each stage's message (``reading repo``, ``judging 2120 resources``); the
    line appears only after the delay, so a fast scan prints nothing, and is erased before
    the report is written (:meth:`stop`). Not shown off a TTY or with ``--quiet``; without
    colour (``NO_COLOR``, ``--no-color``) one plain line per stage, no escape codes.
    """

    def __init__(self, enabled: bool, delay: float = 1.0) -> None:
        import threading

        self.enabled = enabled
        self.delay = delay
        self.message = ""
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._status: Any = None
        self._stopped = False

    def __call__(self, message: str) -> None:
        if not self.enabled or TERMINAL.quiet:
            return
        import threading

        with self._lock:
            self.message = message
            if self._stopped:
                return
            if self._status is _PLAIN:
                _say_plain(message)
            elif self._status is not None:
                self._status.update(f"ledgergate: {message}")
            elif self._timer is None:
                self._timer = threading.Timer(self.delay, self._show)
                self._timer.daemon = True
                self._timer.start()

    def _show(self) -> None:
        from rich.console import Console

        with self._lock:
            if self._stopped:
                return
            if not TERMINAL.color(True):  # NO_COLOR/--no-color: no escape codes at all
                self._status = _PLAIN
                _say_plain(self.message)
                return
            console = Console(stderr=True, highlight=False, markup=False, emoji=False)
            self._status = console.status(f"ledgergate: {self.message}", spinner="dots")
            self._status.start()

    def stop(self) -> None:
        """Erase the line and never show it again (before the report, an error, the exit)."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
            if self._status is not None and self._status is not _PLAIN:
                self._status.stop()
            self._status = None


#: :class:`Spinner` state when colour is off: one plain line per stage instead.
_PLAIN = object()


def _say_plain(message: str) -> None:
    import sys

    sys.stderr.write(f"ledgergate: {message}\n")
    sys.stderr.flush()
