"""Trusted time: RFC 3161 tokens from a real TSA (openssl ts) over the manifest digest."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli

from .conftest import FIXTURE_REPOS, write_key_pair
from .tsa import Tsa, make_pki, running_tsa

pytestmark = pytest.mark.needs_tool("openssl")


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tsa]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", target)
    return target


def _config(tmp_path: Path, tsa: Tsa | None, url: str | None = None) -> Path:
    path = tmp_path / "audit-config.yaml"
    lines = ["rules:", "  exclude: ['LG-IMG-05*']"]
    if tsa is not None or url:
        lines += ["evidence:", "  tsa:", f"    url: {url or tsa.url}"]  # type: ignore[union-attr]
        if tsa is not None:
            lines.append(f"    caBundle: {tsa.ca}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _scan(repo: Path, out: Path, config: Path, *extra: str) -> Result:
    args = ["scan", "repo", str(repo), "--config", str(config), "--evidence", str(out), *extra]
    return CliRunner().invoke(cli, args)


def _verify(bundle: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["evidence", "verify", str(bundle), *extra])


def _manifest(bundle: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((bundle / "manifest.json").read_text())


def test_timestamped_bundle_verifies_with_the_tsa_ca(
    tsa: Tsa, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    private, public = write_key_pair(tmp_path, "ec")
    bundle = tmp_path / "out" / "night"
    done = _scan(repo, bundle, _config(tmp_path, tsa), "--sign-key", str(private))
    assert done.exit_code == 1, done.output
    manifest = _manifest(bundle)
    assert manifest["time"]["source"] == "rfc3161" and manifest["time"]["tsa"] == tsa.url
    assert (bundle / "manifest.tsr").is_file()
    result = _verify(bundle, "--key", str(public), "--tsa-ca", str(tsa.ca))
    assert result.exit_code == 0, result.output
    assert "timestamp: trusted: manifest existed at" in result.output
    assert "CN=Ledgergate Test TSA" in result.output
    # openssl, a second client, agrees the token covers exactly this manifest.
    checked = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(bundle / "manifest.json"),
            "-in",
            str(bundle / "manifest.tsr"),
            "-CAfile",
            str(tsa.ca),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    html = (bundle / "report.html").read_text()
    assert 'data-source="rfc3161"' in html and "Trusted: the manifest is timestamped" in html


def test_removed_or_swapped_tokens_and_other_cas_are_refused(
    tsa: Tsa, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    config = _config(tmp_path, tsa)
    one, two = tmp_path / "1" / "b", tmp_path / "2" / "b"
    for out in (one, two):
        assert _scan(repo, out, config).exit_code == 1
    (repo / "apps" / "extra.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    )
    assert _scan(repo, two, config).exit_code == 1
    token = (one / "manifest.tsr").read_bytes()
    (two / "manifest.tsr").write_bytes(token)  # a token over another manifest
    swapped = _verify(two, "--tsa-ca", str(tsa.ca))
    assert swapped.exit_code == 1 and "FAILED manifest.tsr: timestamp does not verify" in (
        swapped.output
    )
    other_ca, _, _ = make_pki(tmp_path / "1")
    foreign = _verify(one, "--tsa-ca", str(other_ca))
    assert foreign.exit_code == 1 and "FAILED manifest.tsr" in foreign.output
    (one / "manifest.tsr").unlink()
    stripped = _verify(one, "--tsa-ca", str(tsa.ca))
    assert stripped.exit_code == 1
    assert "manifest.tsr: the manifest asks for an RFC 3161 timestamp; none present" in (
        stripped.output
    )


def test_a_forward_dated_scan_is_caught_by_the_token(
    tsa: Tsa, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1924992000")  # 2031-01-01
    bundle = tmp_path / "b"
    assert _scan(repo, bundle, _config(tmp_path, tsa)).exit_code == 1
    time = _manifest(bundle)["time"]
    assert time["source"] == "asserted" and "SOURCE_DATE_EPOCH" in time["reason"]
    result = _verify(bundle, "--tsa-ca", str(tsa.ca))
    assert result.exit_code == 1
    assert "claims the scan finished at 2031-01-01T00:00:00Z, after the trusted" in result.output


def test_without_a_tsa_time_is_marked_asserted(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    bundle = tmp_path / "b"
    assert _scan(repo, bundle, _config(tmp_path, None)).exit_code == 1
    time = _manifest(bundle)["time"]
    assert time == {
        "source": "asserted",
        "reason": "no time-stamping authority configured: times come from the scanning machine",
        "tsa": None,
        "token": None,
    }
    result = _verify(bundle, "--integrity-only")  # unsigned: hashes and time only
    assert result.exit_code == 0 and "timestamp: asserted (no time-stamping" in result.output
    html = (bundle / "report.html").read_text()
    assert 'data-source="asserted"' in html and "Asserted, not attested" in html


def test_an_unreachable_tsa_writes_no_bundle(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    bundle = tmp_path / "b"
    done = _scan(repo, bundle, _config(tmp_path, None, url="http://127.0.0.1:9/tsa"))
    assert done.exit_code == 2, done.output
    assert "time-stamping authority http://127.0.0.1:9/tsa unreachable" in done.output
    assert not bundle.exists()
