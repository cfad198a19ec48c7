"""Bundles kept in S3 under Object Lock, against moto's server speaking the S3 wire protocol."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

from .conftest import FIXTURE_REPOS, write_key_pair

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")
JAN1 = 1767225600


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    # port 0: the server binds a free port itself (no race with another pytest-xdist worker)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    finally:
        server.stop()


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3")


def test_bundles_upload_locked_and_verify_as_a_series(
    s3: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: object = s3
    client.create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True)  # type: ignore[attr-defined]
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    private, public = write_key_pair(tmp_path, "ec")
    for day in range(2):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JAN1 + day * 86400))
        args = [
            "scan",
            "repo",
            str(repo),
            "--evidence",
            "s3://evidence/nightly/",
            "--sign-key",
            str(private),
        ]
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 1, done.output
        assert "evidence bundle uploaded to s3://evidence/nightly/" in done.output
    listed = client.list_objects_v2(Bucket="evidence", Prefix="nightly/")["Contents"]  # type: ignore[attr-defined]
    keys = sorted(o["Key"] for o in listed)
    assert len(keys) == 2 and keys[0].startswith("nightly/2026-01-01T000000Z-")
    head = client.head_object(Bucket="evidence", Key=keys[0])  # type: ignore[attr-defined]
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].astimezone(UTC).date() == datetime(2033, 1, 1).date()
    version = head.get("VersionId")
    with pytest.raises(Exception, match="AccessDenied"):
        client.delete_object(Bucket="evidence", Key=keys[0], VersionId=version)  # type: ignore[attr-defined]
    result = CliRunner().invoke(
        cli, ["evidence", "verify-series", "s3://evidence/nightly/", "--key", str(public)]
    )
    assert result.exit_code == 0, result.output
    assert "series verified (2 bundles)" in result.output


def test_a_bucket_without_object_lock_is_refused(s3: object, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="plain")  # type: ignore[attr-defined]
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    done = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", "s3://plain/x/"])
    assert done.exit_code == 2, done.output
    assert "s3://plain/x/: bucket has no Object Lock configuration" in done.output
    assert "Contents" not in s3.list_objects_v2(Bucket="plain")  # type: ignore[attr-defined]
