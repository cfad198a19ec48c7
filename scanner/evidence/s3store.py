"""Keep bundles in S3 under Object Lock (compliance mode), and read a series back.

``s3://bucket/prefix/`` names the place. A bucket without Object Lock is refused:
there an operator (or an attacker with their credentials) could delete or replace
last month's evidence. Each bundle is uploaded once as a zip with
``ObjectLockMode=COMPLIANCE`` and ``RetainUntilDate`` = the manifest's ``retainUntil``,
which no one, the account root included, can shorten. The endpoint and credentials
come from the usual AWS settings (``AWS_ENDPOINT_URL``, a web identity, ...).

A nightly bundle is ~170 MB and the prefix holds one a night, so nothing here holds an
object whole: bodies go to and from disk in pieces, and one member (the manifest) is
read through the zip's central directory with ranged GETs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import BundleUnreadable, ConfigError, ReportError
from scanner.evidence.manifest import sha256

SCHEME = "s3://"
MAX_BUNDLE = 256 * 1024 * 1024
#: Pieces a bundle is hashed, downloaded and uploaded in.
PIECE = 1 << 20
#: Least bytes one ranged GET asks for: the zip's end record and central directory of a
#: bundle come in one or two requests.
RANGE = 64 * 1024


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (ending in ``/`` or empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """``s3://bucket/prefix/``; ConfigError when it is not one."""
        if not url.startswith(SCHEME):
            raise ConfigError(f"not an S3 URL: {url!r}")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        if not bucket:
            raise ConfigError(f"S3 URL names no bucket: {url!r}")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket, prefix)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"


def is_s3(location: object) -> bool:
    """Whether an ``--evidence`` or series argument names S3."""
    return str(location).startswith(SCHEME)


def client() -> Any:
    """A boto3 S3 client from the standard AWS configuration."""
    try:
        import boto3  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ConfigError(f"boto3 is not installed: {exc}") from exc
    return boto3.client("s3")


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

    return (BotoCoreError, ClientError)


def require_object_lock(s3: Any, where: S3Location) -> None:
    """ReportError unless the bucket has Object Lock enabled."""
    try:
        answer = s3.get_object_lock_configuration(Bucket=where.bucket)
    except _errors() as exc:
        raise ReportError(
            f"{where}: bucket has no Object Lock configuration ({exc}); evidence is only "
            "kept in buckets created with Object Lock enabled"
        ) from exc
    enabled = (answer.get("ObjectLockConfiguration") or {}).get("ObjectLockEnabled")
    if enabled != "Enabled":
        raise ReportError(f"{where}: Object Lock is not enabled on the bucket")


#: What :func:`object_name` gives for a dated manifest (group 1: its finished time).
DATED_NAME = re.compile(r"(\d{4}-\d\d-\d\dT\d{6}Z)-[0-9a-f]{16}\.zip")


def object_name(manifest: bytes) -> str:
    """``<finished>-<manifest sha256 prefix>.zip``: sorts by time, never collides."""
    finished = str((json.loads(manifest).get("scan") or {}).get("finished", "")).replace(":", "")
    return f"{finished or 'undated'}-{sha256(manifest)[:16]}.zip"


def file_sha256(path: Path) -> str:
    """The base64 SHA-256 S3 checks a body against, read from disk in pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while piece := fh.read(PIECE):
            digest.update(piece)
    return base64.b64encode(digest.digest()).decode()


def upload(s3: Any, where: S3Location, name: str, path: Path, retain_until: str) -> str:
    """Put one bundle zip (streamed from ``path``) under compliance-mode Object Lock; its key."""
    require_object_lock(s3, where)
    key = where.prefix + name
    until = datetime.fromisoformat(retain_until).replace(tzinfo=UTC)
    checksum = file_sha256(path)
    try:
        with path.open("rb") as body:
            s3.put_object(
                Bucket=where.bucket,
                Key=key,
                Body=body,
                ContentLength=path.stat().st_size,
                ContentType="application/zip",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=until,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
            )
    except _errors() as exc:
        raise ReportError(f"{where}{name}: upload failed: {exc}") from exc
    return key


@dataclass(frozen=True)
class Stored:
    """One ``.zip`` object directly under the prefix, as the listing gave it."""

    name: str
    key: str
    size: int
    etag: str


def listing(s3: Any, where: S3Location) -> list[Stored]:
    """Every ``.zip`` directly under the prefix, by name (every page of the listing)."""
    out: list[Stored] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=where.bucket, Prefix=where.prefix, Delimiter="/"
        )
        for page in pages:
            for entry in page.get("Contents", ()):
                key = str(entry["Key"])
                if key.endswith(".zip"):
                    name = key[len(where.prefix) :]
                    out.append(Stored(name, key, int(entry.get("Size", 0)), str(entry["ETag"])))
    except _errors() as exc:
        raise ReportError(f"{where}: cannot list bundles: {exc}") from exc
    return sorted(out, key=lambda o: o.name)


class _RequestFailed(Exception):
    """A ranged GET that failed: not an OSError, so :mod:`zipfile` and :mod:`archive`
    do not take it for a corrupt zip."""


class RangedObject(io.RawIOBase):
    """A seekable read-only view of one object: each read is a ranged GET of the same
    version (``IfMatch`` its listed ETag), so :mod:`zipfile` reads a member through the
    central directory without the rest of the object being fetched."""

    def __init__(self, s3: Any, bucket: str, stored: Stored) -> None:
        super().__init__()
        self._s3, self._bucket, self._stored = s3, bucket, stored
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._stored.size}[whence]
        if base + offset < 0:
            raise OSError(f"{self._stored.key}: seek before the start")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        end = min(self._pos + len(buffer), self._stored.size)
        if end <= self._pos:
            return 0
        try:
            answer = self._s3.get_object(
                Bucket=self._bucket,
                Key=self._stored.key,
                Range=f"bytes={self._pos}-{end - 1}",
                IfMatch=self._stored.etag,
            )
            data = answer["Body"].read()
        except _errors() as exc:
            raise _RequestFailed(str(exc)) from exc
        if len(data) != end - self._pos:
            raise OSError(f"ranged read gave {len(data)} bytes, not {end - self._pos}")
        buffer[: len(data)] = data
        self._pos = end
        return len(data)


def read_member(s3: Any, where: S3Location, stored: Stored, member: str) -> bytes:
    """One member of a bundle zip in S3, read over ranged GETs with :mod:`archive`'s checks.

    BundleUnreadable when the object is not a readable bundle; ReportError when S3 does
    not answer (the caller must not take a failed request for a missing bundle)."""
    from scanner.evidence import archive

    if stored.size > MAX_BUNDLE:
        raise BundleUnreadable(f"over {MAX_BUNDLE:,} bytes; not a bundle")
    raw = RangedObject(s3, where.bucket, stored)
    try:
        with io.BufferedReader(raw, buffer_size=RANGE) as source:
            return archive.read_member(source, f"{where}{stored.name}", member)
    except _RequestFailed as exc:
        raise ReportError(f"{where}{stored.name}: cannot read: {exc}") from exc
    except ReportError as exc:
        raise BundleUnreadable(str(exc)) from exc


def download(s3: Any, where: S3Location, stored: Stored, path: Path) -> None:
    """Copy one object to ``path`` in pieces (never whole in memory)."""
    if stored.size > MAX_BUNDLE:
        raise BundleUnreadable(f"{where}{stored.name}: over {MAX_BUNDLE:,} bytes; not a bundle")
    try:
        body = s3.get_object(Bucket=where.bucket, Key=stored.key, IfMatch=stored.etag)["Body"]
        with path.open("wb") as out:
            while piece := body.read(PIECE):
                out.write(piece)
    except _errors() as exc:
        raise ReportError(f"{where}{stored.name}: cannot download: {exc}") from exc
