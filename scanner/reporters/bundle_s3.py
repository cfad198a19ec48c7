"""Write a bundle straight to S3 under Object Lock, chained to the last one there.

At nightly scale a bundle is ~170 MB and the prefix holds one per night, so neither
the series nor the bundle is ever held in memory: the predecessor is found from the
manifests alone (ranged GETs through each zip's central directory, newest name first),
and the bundle is built as the local path builds it, into a temporary file in
``TMPDIR`` (its large members spilled beside it), then uploaded from disk.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import BundleUnreadable
from scanner.evidence import archive, s3store
from scanner.evidence.manifest import MANIFEST, MANIFEST_KIND, sha256
from scanner.evidence.series import PreviousBundle, read_previous, series_target
from scanner.reporters.bundle import BundleInputs, build_files


@dataclass(frozen=True)
class Uploaded:
    """The key written, and the objects of the prefix that could not be read as bundles
    while the predecessor was sought (name: reason); one of them may have been it."""

    key: str
    unreadable: tuple[str, ...] = ()


def _candidates(stored: list[s3store.Stored]) -> Iterator[tuple[s3store.Stored, bool]]:
    """Objects in the order they are read, each with whether its name is dated: the
    undated first (their time is only in the manifest), then the dated, newest first."""
    dated = [o for o in stored if s3store.DATED_NAME.fullmatch(o.name)]
    for obj in stored:
        if not s3store.DATED_NAME.fullmatch(obj.name):
            yield obj, False
    for obj in reversed(dated):
        yield obj, True


def _manifest(s3: Any, where: s3store.S3Location, obj: s3store.Stored) -> PreviousBundle:
    """The object's manifest as a PreviousBundle; BundleUnreadable when it is not a
    bundle's, ReportError when S3 does not answer."""
    data = s3store.read_member(s3, where, obj, MANIFEST)
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleUnreadable(f"{MANIFEST} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise BundleUnreadable("not a ledgergate evidence manifest")
    return PreviousBundle(Path(obj.name), sha256(data), manifest)


def find_previous_s3(
    s3: Any, where: s3store.S3Location, target: dict[str, str]
) -> tuple[PreviousBundle | None, list[str]]:
    """The latest bundle of the target's series in the prefix (max by finished, then
    name, as :func:`series.find_previous`), and the objects that could not be read.

    Only manifests are read. Dated names sort as their scans finished, so the first
    dated bundle of the series whose manifest agrees with its name ends the search."""
    key = sha256(series_target(target).encode())
    found: list[PreviousBundle] = []
    unreadable: list[str] = []
    for obj, dated in _candidates(s3store.listing(s3, where)):
        try:
            prev = _manifest(s3, where, obj)
        except BundleUnreadable as exc:
            unreadable.append(f"{obj.name}: {exc}")
            continue
        if prev.key != key:
            continue
        found.append(prev)
        name_time = s3store.DATED_NAME.fullmatch(obj.name)
        if dated and name_time and name_time.group(1) == prev.finished.replace(":", ""):
            break
    best = max(found, key=lambda b: (b.finished, b.path.name)) if found else None
    return best, unreadable


def write_bundle_s3(inputs: BundleInputs, url: str) -> Uploaded:
    """Build the bundle, chain it to the latest of its series in the prefix, upload it."""
    where = s3store.S3Location.parse(url)
    s3 = s3store.client()
    s3store.require_object_lock(s3, where)
    unreadable: list[str] = []
    if inputs.audit.previous is not None:
        previous: PreviousBundle | None = read_previous(inputs.audit.previous)
    else:
        previous, unreadable = find_previous_s3(s3, where, dict(inputs.result.target))
    with tempfile.TemporaryDirectory(prefix="ledgergate-s3-") as tmp:
        path = Path(tmp) / "bundle.zip"
        with build_files(inputs, previous, folder=Path(tmp)) as files:
            archive.write(files, path)
            manifest = files[MANIFEST]
        name = s3store.object_name(manifest)
        key = s3store.upload(s3, where, name, path, json.loads(manifest)["retainUntil"])
    return Uploaded(key, tuple(unreadable))
