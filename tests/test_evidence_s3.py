"""Bundles kept in S3 under Object Lock, against moto's server speaking the S3 wire protocol."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.evidence import s3store
from scanner.evidence.manifest import MANIFEST, MANIFEST_KIND, sha256
from scanner.evidence.series import series_target

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


class Calls:
    """S3 requests as botocore is about to send them (a hook on a real client)."""

    def __init__(self) -> None:
        self.gets: list[tuple[str, str | None]] = []
        self.puts: list[Any] = []
        self.order: list[str] = []

    def client(self) -> Any:
        made = boto3.client("s3")
        made.meta.events.register("before-call.s3.GetObject", self._get)
        made.meta.events.register("before-call.s3.PutObject", self._put)
        return made

    def _get(self, params: dict[str, Any], **_: Any) -> None:
        key = params["url_path"].rsplit("/", 1)[-1]
        self.gets.append((key, params["headers"].get("Range")))
        self.order.append(f"get {key}")

    def _put(self, params: dict[str, Any], **_: Any) -> None:
        self.puts.append(params["body"])


@pytest.fixture
def calls(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    monkeypatch.setattr(s3store, "client", recorded.client)
    return recorded


def _night(repo: Path, url: str, key: Path, day: int, monkeypatch: pytest.MonkeyPatch) -> str:
    """One nightly scan uploading its bundle; the CLI's output."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JAN1 + day * 86400))
    args = ["scan", "repo", str(repo), "--evidence", url, "--sign-key", str(key)]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1, done.output
    assert f"evidence bundle uploaded to {url}" in done.output
    return done.output


def _manifest(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return dict(json.loads(zf.read("manifest.json")))


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def _zip(members: list[tuple[str, bytes]], stored: bool = False) -> bytes:
    out = io.BytesIO()
    kind = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", kind) as zf:
        warnings.simplefilter("ignore", UserWarning)  # a duplicate name, written on purpose
        for name, data in members:
            zf.writestr(name, data)
    return out.getvalue()


@dataclass(frozen=True)
class Nightly:
    """A bucket of the test's own under Object Lock (the server outlives a test), the
    repo a nightly scans and its signing key pair."""

    bucket: str
    repo: Path
    private: Path
    public: Path


@pytest.fixture
def nightly(s3: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Nightly:
    bucket = "n-" + sha256(request.node.name.encode())[:20]
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    private, public = write_key_pair(tmp_path, "ec")
    return Nightly(bucket, repo, private, public)


def test_chaining_over_three_nights_reads_only_manifests(
    s3: Any, calls: Calls, nightly: Nightly, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, private, bucket = nightly.repo, nightly.private, nightly.bucket
    url = f"s3://{bucket}/nightly/"
    _night(repo, url, private, 0, monkeypatch)
    _night(repo, url, private, 1, monkeypatch)
    # the newest object is a 12 MB bundle of another series: read for its manifest only
    other = {"kind": MANIFEST_KIND, "series": {"key": sha256(b"repo:elsewhere")}}
    big = _zip([("manifest.json", json.dumps(other).encode()), ("x.bin", os.urandom(12 << 20))])
    newest = "nightly/2026-01-01T230000Z-00000000000000ff.zip"
    s3.put_object(Bucket=bucket, Key=newest, Body=big)
    calls.gets.clear()
    _night(repo, url, private, 2, monkeypatch)
    assert calls.gets, "the predecessor lookup read nothing"
    assert all(r is not None for _, r in calls.gets), f"a whole object was read: {calls.gets}"
    fetched = sum(
        int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for _, r in calls.gets if r
    )
    assert fetched < 512 * 1024, f"{fetched:,} bytes read to find the predecessor"
    keys = [k for k in _keys(s3, bucket, "nightly/") if k != newest]
    manifests = [_manifest(s3, bucket, k) for k in keys]
    assert len(manifests) == 3
    digests = [
        sha256(
            zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())).read(
                "manifest.json"
            )
        )
        for k in keys
    ]
    assert manifests[0]["series"]["previous"] is None
    assert manifests[1]["series"]["previous"]["manifestSha256"] == digests[0]
    assert manifests[2]["series"]["previous"]["manifestSha256"] == digests[1]
    assert manifests[2]["series"]["previous"]["bundle"] == keys[1].split("/")[-1]


def test_a_corrupt_object_is_not_a_predecessor_and_is_named(
    s3: Any, calls: Calls, nightly: Nightly, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, private, bucket = nightly.repo, nightly.private, nightly.bucket
    url = f"s3://{bucket}/nightly/"
    _night(repo, url, private, 0, monkeypatch)
    first = _keys(s3, bucket, "nightly/")[0]
    series = {"key": sha256(series_target({"type": "repo", "path": str(repo)}).encode())}
    forged = json.dumps({"kind": MANIFEST_KIND, "series": series}).encode()
    planted = {
        # newer than the first night, and of its series, but refused as archive.read refuses
        "2026-01-01T120000Z-000000000000000a.zip": b"not a zip at all",
        "2026-01-01T120000Z-000000000000000b.zip": _zip([("manifest.json", forged)])[:-30],
        "2026-01-01T120000Z-000000000000000c.zip": _zip([(MANIFEST, forged), (MANIFEST, forged)]),
    }
    for name, body in planted.items():
        s3.put_object(Bucket=bucket, Key=f"nightly/{name}", Body=body)
    output = _night(repo, url, private, 1, monkeypatch)
    for name in planted:
        assert f"warning: {url}{name}" in output, output
    second = _keys(s3, bucket, "nightly/2026-01-02")[0]
    data = s3.get_object(Bucket=bucket, Key=first)["Body"].read()
    digest = sha256(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert _manifest(s3, bucket, second)["series"]["previous"]["manifestSha256"] == digest


def test_the_upload_streams_from_a_file_in_tmpdir(
    s3: Any,
    calls: Calls,
    nightly: Nightly,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scanner.evidence import members

    repo, private, bucket = nightly.repo, nightly.private, nightly.bucket
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR is read again
    monkeypatch.setattr(members, "SPILL_OVER", 1024)  # every large member goes to disk
    seen: list[list[str]] = []

    def during_put(**_: Any) -> None:
        seen.append(sorted(p.name for p in spool.rglob("*")))

    real = calls.client

    def client() -> Any:
        made = real()
        made.meta.events.register("before-call.s3.PutObject", during_put)
        return made

    monkeypatch.setattr(s3store, "client", client)
    _night(repo, f"s3://{bucket}/big/", private, 0, monkeypatch)
    assert len(calls.puts) == 1
    body = calls.puts[0]
    # the body botocore sends is the open temporary zip, not bytes in memory
    assert Path(getattr(body, "name", "")).parent.parent == spool, body
    assert "bundle.zip" in seen[0]  # the zip waits in TMPDIR while it is uploaded
    assert list(spool.iterdir()) == [], "the temporary bundle was left behind"
    key = _keys(s3, bucket, "big/")[0]
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert head["ContentLength"] == len(data) > 1024
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    until = head["ObjectLockRetainUntilDate"].astimezone(UTC).date().isoformat()
    assert head["ObjectLockMode"] == "COMPLIANCE" and until == manifest["retainUntil"]


def test_verify_series_over_s3_reads_one_bundle_at_a_time_and_finds_a_break(
    s3: Any, calls: Calls, nightly: Nightly, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.evidence import verify_series as module

    repo, private, bucket = nightly.repo, nightly.private, nightly.bucket
    public = nightly.public
    for day in range(3):
        _night(repo, f"s3://{bucket}/nightly/", private, day, monkeypatch)
    real = module.verify_files

    def verify_files(files: Any, *args: Any) -> Any:
        calls.order.append("verify")
        return real(files, *args)

    monkeypatch.setattr(module, "verify_files", verify_files)
    calls.order.clear()
    args = ["evidence", "verify-series", f"s3://{bucket}/nightly/", "--key", str(public)]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "series verified (3 bundles)" in done.output
    assert [o.split()[0] for o in calls.order] == ["get", "verify"] * 3, calls.order
    keys = _keys(s3, bucket, "nightly/")
    for key in (keys[0], keys[2]):  # the second night is missing from this copy
        source = {"Bucket": bucket, "Key": key}
        s3.copy_object(Bucket=bucket, Key="gap/" + key.split("/")[-1], CopySource=source)
    done = CliRunner().invoke(
        cli, ["evidence", "verify-series", f"s3://{bucket}/gap/", "--key", str(public)]
    )
    assert done.exit_code == 1, done.output
    assert f"gap: {keys[2].split('/')[-1]} follows manifest" in done.output


def test_a_failed_request_is_not_taken_for_a_corrupt_bundle(s3: Any, nightly: Nightly) -> None:
    """A corrupt object is skipped as a predecessor; an S3 request that fails (here a
    changed object: its ETag no longer matches the listing) stops the upload instead."""
    from scanner.errors import BundleUnreadable, ReportError

    s3.put_object(Bucket=nightly.bucket, Key="p/a.zip", Body=b"not a zip")
    s3.put_object(Bucket=nightly.bucket, Key="p/b.zip", Body=_zip([(MANIFEST, b"{}")]))
    where = s3store.S3Location.parse(f"s3://{nightly.bucket}/p/")
    corrupt, good = s3store.listing(s3, where)
    with pytest.raises(BundleUnreadable, match=r"a\.zip"):
        s3store.read_member(s3, where, corrupt, MANIFEST)
    assert s3store.read_member(s3, where, good, MANIFEST) == b"{}"
    changed = s3store.Stored(good.name, good.key, good.size, '"0123"')
    with pytest.raises(ReportError, match="PreconditionFailed") as raised:
        s3store.read_member(s3, where, changed, MANIFEST)
    assert not isinstance(raised.value, BundleUnreadable)


def test_the_overlay_credentials_are_a_web_identity(
    s3: Any, nightly: Nightly, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AWS_* env components/evidence-store renders is enough for boto3: it exchanges
    the projected token at STS (moto's) for a role session; no static key is set."""
    from tests.test_nightly_audit import DEPLOY, _render

    docs = _render(DEPLOY / "overlays/external-key")
    job = next(d for d in docs if d["kind"] == "CronJob")
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if e["name"].startswith("AWS_")}
    assert env.keys() >= {"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_REGION"}
    token = tmp_path / "token"  # the kubelet's projected ServiceAccount token, in the pod
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzY2FubmVyIn0.c2ln")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    for name, value in {**env, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # credentials resolved afresh
    client = s3store.client()
    s3store.require_object_lock(client, s3store.S3Location(nightly.bucket, ""))
    assert boto3.DEFAULT_SESSION.get_credentials().method == "assume-role-with-web-identity"


def test_the_uploaded_zip_is_the_local_bundle_byte_for_byte(
    s3: Any, nightly: Nightly, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built as the local path builds it: the same inputs give the same zip either way."""
    monkeypatch.setenv("LEDGERGATE_RUN_ID", "night-1")
    _night(nightly.repo, f"s3://{nightly.bucket}/same/", nightly.private, 0, monkeypatch)
    local = tmp_path / "local" / "bundle.zip"
    args = ["scan", "repo", str(nightly.repo), "--evidence", str(local)]
    done = CliRunner().invoke(cli, [*args, "--sign-key", str(nightly.private)])
    assert done.exit_code == 1, done.output
    key = _keys(s3, nightly.bucket, "same/")[0]
    assert s3.get_object(Bucket=nightly.bucket, Key=key)["Body"].read() == local.read_bytes()
