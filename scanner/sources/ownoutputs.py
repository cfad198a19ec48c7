"""Recognise the tool's own reports inside a scanned tree.

``ledgergate scan repo . --json out.json --evidence bundle/`` writes into the work
tree; the next run must neither scan those files as input nor count them as local
changes (``dirty``). They are recognised by content, so any earlier run's outputs are,
whatever names they were given.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "manifest.json"
MANIFEST_KIND = "ledgergate-evidence-bundle"
_PEEK = 4096
_MAX_SARIF = 64 * 1024 * 1024  # a larger log is not read whole here: it stays an input


def _peek(path: Path) -> tuple[bytes, bytes]:
    """The first and last few KB of a regular file (never blocks on a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b"", b""
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return b"", b""
        head = handle.read(_PEEK)
        if info.st_size > _PEEK:
            handle.seek(max(info.st_size - _PEEK, _PEEK))
        tail = handle.read(_PEEK)
    return head, tail or head


def is_bundle_folder(folder: Path) -> bool:
    """A folder holding an evidence bundle's manifest."""
    head, _ = _peek(folder / MANIFEST_NAME)
    if MANIFEST_KIND.encode() not in head and b'"kind"' not in head:
        return False
    try:
        doc = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("kind") == MANIFEST_KIND


def is_report_file(path: Path) -> bool:
    """A JSON, SARIF, HTML or Markdown report this tool wrote."""
    head, tail = _peek(path)
    start = head.lstrip()[:200]
    if start.startswith(b"{"):
        # a manifest starts with its apiVersion or kind; a report with "$schema"/"coverage"
        if b"json.schemastore.org/sarif" in start or b"sarif-schema" in start:
            return _sarif_driver(path) == "ledgergate"
        return start.startswith(b'{\n  "coverage"') and b'"name": "ledgergate"' in tail
    if start.startswith(b"<!doctype html") or start.startswith(b"<!DOCTYPE html"):
        return b"<title>Ledgergate compliance report" in head
    return start.startswith(b"## Ledgergate:")


def _sarif_driver(path: Path) -> str | None:
    """The tool name of a SARIF log's first run (run properties can push it past any peek)."""
    try:
        if path.stat().st_size > _MAX_SARIF:
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
        return str(doc["runs"][0]["tool"]["driver"]["name"])
    except (OSError, ValueError, RecursionError, KeyError, IndexError, TypeError):
        return None


def is_own_output(root: Path, rel: str) -> bool:
    """Whether ``rel`` (a file or folder under ``root``) is one of the tool's outputs."""
    full = root / rel
    if full.is_dir():
        return is_bundle_folder(full)
    parents = list(PurePosixPath(rel).parents)[:-1][:3]
    if any(is_bundle_folder(root / p.as_posix()) for p in parents):
        return True
    return is_report_file(full)
