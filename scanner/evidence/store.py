"""Where a series of bundles lives: a folder (zips and bundle folders) or an S3 prefix."""

from __future__ import annotations

from pathlib import Path

from scanner.errors import ReportError
from scanner.evidence import archive, s3store
from scanner.evidence.manifest import MANIFEST


def read_series(location: str) -> dict[str, dict[str, bytes]]:
    """Every bundle at ``location`` (a folder or ``s3://bucket/prefix/``): name -> files."""
    if s3store.is_s3(location):
        where = s3store.S3Location.parse(location)
        blobs = s3store.download_all(s3store.client(), where)
        return {name: s3store.read_zip(data) for name, data in sorted(blobs.items())}
    folder = Path(location)
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder of evidence bundles")
    out: dict[str, dict[str, bytes]] = {}
    for entry in sorted(folder.iterdir()):
        if archive.is_zip_path(entry) or (entry / MANIFEST).is_file():
            out[entry.name] = archive.read(entry)
    return out
