"""Write a bundle straight to S3 under Object Lock, chained to the last one there."""

from __future__ import annotations

import json

from scanner.evidence import s3store
from scanner.evidence.manifest import MANIFEST, sha256
from scanner.evidence.series import PreviousBundle, series_target
from scanner.reporters.bundle import BundleInputs, build_files


def _previous(bundles: dict[str, bytes], target: dict[str, str]) -> PreviousBundle | None:
    from pathlib import PurePosixPath

    key = sha256(series_target(target).encode())
    found = []
    for name, data in bundles.items():
        try:
            files = s3store.read_zip(data)
            manifest = json.loads(files[MANIFEST])
        except Exception:  # noqa: BLE001 - an unreadable object is not a predecessor
            continue
        prev = PreviousBundle(PurePosixPath(name), sha256(files[MANIFEST]), manifest)  # type: ignore[arg-type]
        if prev.key == key:
            found.append(prev)
    return max(found, key=lambda b: (b.finished, b.path.name)) if found else None


def write_bundle_s3(inputs: BundleInputs, url: str) -> str:
    """Build the bundle, chain it to the latest of its series in the prefix, upload it."""
    where = s3store.S3Location.parse(url)
    s3 = s3store.client()
    s3store.require_object_lock(s3, where)
    previous = _previous(s3store.download_all(s3, where), dict(inputs.result.target))
    files = build_files(inputs, previous)
    manifest = json.loads(files[MANIFEST])
    name = s3store.object_name(files)
    return s3store.upload(s3, where, name, s3store.zip_bytes(files), manifest["retainUntil"])
