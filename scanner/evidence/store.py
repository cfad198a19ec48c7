"""Where a series of bundles lives: a folder (zips and bundle folders) or an S3 prefix.

A nightly series is hundreds of bundles of ~170 MB each, so a series is a mapping whose
bundles are read when asked for, one at a time: verifying it holds one bundle, not all.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from scanner.errors import ReportError
from scanner.evidence import archive, s3store
from scanner.evidence.manifest import MANIFEST

Files = Mapping[str, bytes]


class Series(Mapping[str, Files]):
    """Bundle name -> files, each read by ``load`` when asked for; only the last one read
    is kept (a verifier asks for the same bundle twice in a row, never for an old one)."""

    def __init__(self, names: list[str], load: Callable[[str], Files]) -> None:
        self._names = sorted(names)
        self._known = set(names)
        self._load = load
        self._last: tuple[str, Files] | None = None

    def __getitem__(self, name: str) -> Files:
        if name not in self._known:
            raise KeyError(name)
        if self._last is not None and self._last[0] == name:
            return self._last[1]
        self._last = None  # drop the last bundle before the next is read
        files = self._load(name)
        self._last = (name, files)
        return files

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _s3_series(location: str) -> Series:
    where = s3store.S3Location.parse(location)
    s3 = s3store.client()
    stored = {o.name: o for o in s3store.listing(s3, where)}

    def load(name: str) -> Files:
        with tempfile.TemporaryDirectory(prefix="ledgergate-series-") as tmp:
            path = Path(tmp) / "bundle.zip"
            s3store.download(s3, where, stored[name], path)
            try:
                return archive.read(path)
            except ReportError as exc:
                raise ReportError(f"{where}{name}: {exc}") from exc

    return Series(list(stored), load)


def read_series(location: str) -> Series:
    """Every bundle at ``location`` (a folder or ``s3://bucket/prefix/``): name -> files."""
    if s3store.is_s3(location):
        return _s3_series(location)
    folder = Path(location)
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder of evidence bundles")
    names = [
        entry.name
        for entry in folder.iterdir()
        if archive.is_zip_path(entry) or (entry / MANIFEST).is_file()
    ]
    return Series(names, lambda name: archive.read(folder / name))
