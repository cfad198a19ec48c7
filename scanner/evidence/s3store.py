"""Keep bundles in S3 under Object Lock (compliance mode), and read a series back.

``s3://bucket/prefix/`` names the place. A bucket without Object Lock is refused:
there an operator (or an attacker with their credentials) could delete or replace
last month's evidence. Each bundle is uploaded once as a zip with
``ObjectLockMode=COMPLIANCE`` and ``RetainUntilDate`` = the manifest's ``retainUntil``,
which no one, the account root included, can shorten. The endpoint and credentials
come from the usual AWS settings (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scanner.errors import ConfigError, ReportError
from scanner.evidence.manifest import MANIFEST, sha256

SCHEME = "s3://"
MAX_BUNDLE = 256 * 1024 * 1024


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


def object_name(files: Mapping[str, bytes]) -> str:
    """``<finished>-<manifest sha256 prefix>.zip``: sorts by time, never collides."""
    manifest = json.loads(files[MANIFEST])
    finished = str((manifest.get("scan") or {}).get("finished", "")).replace(":", "")
    return f"{finished or 'undated'}-{sha256(files[MANIFEST])[:16]}.zip"


def upload(s3: Any, where: S3Location, name: str, data: bytes, retain_until: str) -> str:
    """Put one bundle zip under compliance-mode Object Lock; its key."""
    require_object_lock(s3, where)
    key = where.prefix + name
    until = datetime.fromisoformat(retain_until).replace(tzinfo=UTC)
    try:
        s3.put_object(
            Bucket=where.bucket,
            Key=key,
            Body=data,
            ContentType="application/zip",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=until,
            ChecksumAlgorithm="SHA256",
        )
    except _errors() as exc:
        raise ReportError(f"{where}{name}: upload failed: {exc}") from exc
    return key


def download_all(s3: Any, where: S3Location) -> dict[str, bytes]:
    """Every ``.zip`` directly under the prefix (name -> bytes)."""
    out: dict[str, bytes] = {}
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=where.bucket, Prefix=where.prefix, Delimiter="/"
        )
        for page in pages:
            for entry in page.get("Contents", ()):
                key = str(entry["Key"])
                if not key.endswith(".zip") or int(entry.get("Size", 0)) > MAX_BUNDLE:
                    continue
                body = s3.get_object(Bucket=where.bucket, Key=key)["Body"].read()
                out[key[len(where.prefix) :]] = bytes(body)
    except _errors() as exc:
        raise ReportError(f"{where}: cannot list or read bundles: {exc}") from exc
    return out


def read_zip(data: bytes) -> dict[str, bytes]:
    """The files of an in-memory bundle zip (same rules as reading one from disk)."""
    import tempfile
    from pathlib import Path

    from scanner.evidence import archive

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.zip"
        path.write_bytes(data)
        return archive.read(path)


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A bundle as the reproducible zip :mod:`archive` writes."""
    import tempfile
    from pathlib import Path

    from scanner.evidence import archive

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.zip"
        archive.write(files, path)
        return path.read_bytes()
