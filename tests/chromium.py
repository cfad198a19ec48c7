"""Headless Chromium for tests and benchmarks: one argument list, and a private profile
per run, since two browsers on one profile (two pytest-xdist workers, or a developer's
own Chromium) collide on its lock and the second exits without a page."""

from __future__ import annotations

import shutil
from pathlib import Path

#: No GPU, no sandbox (root in CI), no network of its own, nothing that outlives the page.
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def find_chromium() -> str | None:
    """The Chromium on PATH under any of its usual names."""
    return next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )


def headless(browser: str, profile: Path, page: Path, *extra: str) -> list[str]:
    """The command that opens ``page`` in a headless ``browser`` with its own ``profile``
    folder; ``extra`` says what to do with it (``--dump-dom``, ``--print-to-pdf=...``)."""
    return [browser, *HEADLESS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
