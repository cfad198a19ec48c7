"""Bundles as a series: each manifest names the digest of the previous one of its target.

A night deleted, re-run or forked shows as a break in the chain. The series key is
the target's stable identity (repository remote or path, cluster server and context,
image references), so bundles of different targets in one folder form separate chains.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from scanner.errors import ReportError
from scanner.evidence import archive
from scanner.evidence.manifest import MANIFEST, MANIFEST_KIND, sha256

#: Target fields that identify a series (the first present of each group is used).
_IDENTITY = {
    "repo": ("remote", "path"),
    "cluster": ("server", "context"),
    "image": ("images",),
}


def series_target(target: Mapping[str, str]) -> str:
    """``repo:<remote or path>``, ``cluster:<server> <context>`` or ``image:<refs>``."""
    kind = str(target.get("type", ""))
    if kind == "repo":
        return f"repo:{target.get('remote') or target.get('path', '')}"
    fields = _IDENTITY.get(kind, tuple(sorted(target)))
    return f"{kind}:" + " ".join(str(target.get(f, "")) for f in fields)


def series_entry(target: Mapping[str, str], previous: PreviousBundle | None) -> dict[str, Any]:
    """The manifest's ``series`` entry."""
    key = series_target(target)
    return {
        "target": key,
        "key": sha256(key.encode()),
        "previous": None
        if previous is None
        else {
            "manifestSha256": previous.manifest_sha256,
            "bundle": previous.path.name,
            "finished": previous.finished,
        },
    }


def retain_until(finished: str, days: int) -> str:
    """The last day the bundle must be kept: the scan's UTC day plus ``days``."""
    try:
        day = date.fromisoformat(finished[:10])
    except ValueError:
        day = date.today()
    return (day + timedelta(days=days)).isoformat()


@dataclass(frozen=True)
class PreviousBundle:
    """A bundle that an older run wrote: its manifest digest and what it says."""

    path: Path
    manifest_sha256: str
    manifest: Mapping[str, Any]

    @property
    def finished(self) -> str:
        """When its scan finished (as its manifest says)."""
        return str((self.manifest.get("scan") or {}).get("finished", ""))

    @property
    def key(self) -> str:
        """Its series key."""
        series = self.manifest.get("series") or {}
        given = series.get("key") if isinstance(series, Mapping) else None
        return str(given or sha256(series_target(self.manifest.get("target") or {}).encode()))

    @property
    def previous(self) -> str | None:
        """Digest of the manifest it names as its predecessor."""
        series = self.manifest.get("series") or {}
        prev = series.get("previous") if isinstance(series, Mapping) else None
        return str(prev.get("manifestSha256")) if isinstance(prev, Mapping) else None


def read_previous(path: Path) -> PreviousBundle:
    """Read a bundle's manifest; ReportError when it is not a bundle."""
    files = archive.read(path)
    if MANIFEST not in files:
        raise ReportError(f"{path}: not an evidence bundle (no {MANIFEST})")
    try:
        manifest = json.loads(files[MANIFEST])
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: {MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise ReportError(f"{path}: not a ledgergate evidence manifest")
    return PreviousBundle(path, sha256(files[MANIFEST]), manifest)


def bundles_in(folder: Path) -> list[PreviousBundle]:
    """Every readable bundle directly inside ``folder`` (zips and bundle folders)."""
    found = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
        if archive.is_zip_path(entry) or (entry / MANIFEST).is_file():
            try:
                found.append(read_previous(entry))
            except ReportError:
                continue
    return found


def find_previous(output: Path, target: Mapping[str, str]) -> PreviousBundle | None:
    """The latest bundle of the same target beside ``output`` (not ``output`` itself)."""
    key = sha256(series_target(target).encode())
    try:
        me = output.resolve()
    except OSError:
        me = output
    candidates = [b for b in bundles_in(output.parent) if b.key == key and b.path.resolve() != me]
    if not candidates:
        return None
    return max(candidates, key=lambda b: (b.finished, b.path.name))
