"""How the terminal is written to: colour (``NO_COLOR``, ``--no-color``) and ``--quiet``.

Set once by the root command's options; read where the terminal is written
(:func:`scanner.cli.util.write_outputs`, :func:`scanner.cli.util.progress`). Files
(``--output``, ``--sarif``, ``--json``) are never affected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Terminal:
    """The preferences of this run (the CLI is one process, one run)."""

    no_color: bool = False
    quiet: bool = False

    def color(self, isatty: bool) -> bool:
        """Colour only on a TTY, and never when ``NO_COLOR`` is set to anything non-empty
        (https://no-color.org) or ``--no-color`` was given."""
        return isatty and not self.no_color and not os.environ.get("NO_COLOR")


TERMINAL = Terminal()


def quiet_text(text: str) -> str:
    """``--quiet``: of a terminal table, only its last line (the summary with the counts)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] + "\n" if lines else ""
