"""A series of nightly bundles: chained manifests, and every gap, fork and re-run named."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli

from .conftest import FIXTURE_REPOS, write_key_pair

DAY = 86400
JAN1 = 1767225600  # 2026-01-01T00:00:00Z


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", target)
    return target


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_key_pair(tmp_path, "ec")


def _night(
    monkeypatch: pytest.MonkeyPatch, repo: Path, out: Path, day: int, key: Path, *extra: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JAN1 + day * DAY))
    args = ["scan", "repo", str(repo), "--evidence", str(out), "--sign-key", str(key), *extra]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1, done.output


def _manifest(bundle: Path) -> dict:  # type: ignore[type-arg]
    with zipfile.ZipFile(bundle) as archive:
        return json.loads(archive.read("manifest.json"))


def _digest(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as archive:
        return hashlib.sha256(archive.read("manifest.json")).hexdigest()


def _series(folder: Path, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["evidence", "verify-series", str(folder), *extra])


def test_nightly_bundles_chain_and_verify(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nightly"
    for day in range(3):
        _night(monkeypatch, repo, out / f"2026-01-0{day + 1}.zip", day, keys[0])
    first, second, third = sorted(out.iterdir())
    assert _manifest(first)["series"]["previous"] is None
    assert _manifest(second)["series"]["previous"]["manifestSha256"] == _digest(first)
    assert _manifest(third)["series"]["previous"]["manifestSha256"] == _digest(second)
    assert _manifest(first)["retainUntil"] == "2033-01-01"  # 2557 days: seven years
    result = _series(out, "--key", str(keys[1]))
    assert result.exit_code == 0, result.output
    assert "3 bundle(s)" in result.output and "series verified (3 bundles)" in result.output
    assert result.output.count("signature: valid") == 3


def test_a_deleted_night_is_a_gap(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nightly"
    for day in range(3):
        _night(monkeypatch, repo, out / f"n{day}.zip", day, keys[0])
    deleted = _digest(out / "n1.zip")
    (out / "n1.zip").unlink()
    result = _series(out, "--key", str(keys[1]))
    assert result.exit_code == 1
    assert f"FAILED gap: n2.zip follows manifest {deleted[:16]}…, which is not in the series" in (
        result.output
    )


def test_a_long_pause_is_a_gap_even_when_chained(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nightly"
    _night(monkeypatch, repo, out / "a.zip", 0, keys[0])
    _night(monkeypatch, repo, out / "b.zip", 3, keys[0])
    result = _series(out, "--key", str(keys[1]))
    assert result.exit_code == 1
    assert "FAILED gap: 3 days, 0:00:00 between a.zip" in result.output
    assert _series(out, "--key", str(keys[1]), "--max-interval-hours", "100").exit_code == 0


def test_reruns_and_forks_are_named(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nightly"
    _night(monkeypatch, repo, out / "a.zip", 0, keys[0])
    _night(monkeypatch, repo, out / "b.zip", 1, keys[0])
    _night(monkeypatch, repo, out / "b-again.zip", 1, keys[0], "--previous", str(out / "a.zip"))
    result = _series(out, "--key", str(keys[1]))
    assert result.exit_code == 1
    assert "FAILED re-run: b-again.zip, b.zip all follow a.zip" in result.output
    (out / "b-again.zip").unlink()
    (repo / "apps" / "odoo" / "extra.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: finance-prod\n"
    )
    _night(
        monkeypatch,
        repo,
        out / "c.zip",
        1,
        keys[0],
        "--previous",
        str(out / "a.zip"),
        "--config",
        str(_config_without(tmp_path, "LG-TLS-009")),
    )
    forked = _series(out, "--key", str(keys[1]))
    assert "FAILED fork: b.zip, c.zip all follow a.zip" in forked.output


def _config_without(folder: Path, rule: str) -> Path:
    path = folder / "other-rules.yaml"
    path.write_text(f"rules:\n  exclude: ['LG-IMG-05*', '{rule}']\n")
    return path


def test_tampered_bundles_and_other_targets(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "nightly"
    _night(monkeypatch, repo, out / "a.zip", 0, keys[0])
    other = tmp_path / "other"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", other)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(JAN1))
    done = CliRunner().invoke(cli, ["scan", "repo", str(other), "--evidence", str(out / "z.zip")])
    assert done.exit_code == 0, done.output
    assert _manifest(out / "z.zip")["series"]["previous"] is None, "another target, another chain"
    _night(monkeypatch, repo, out / "b.zip", 1, keys[0])
    assert _manifest(out / "b.zip")["series"]["previous"]["bundle"] == "a.zip"
    ok = _series(out, "--key", str(keys[1]))
    assert ok.output.count("series repo:") == 2
    assert "FAILED z.zip: manifest.sig.json: missing, but --key was given" in ok.output
    with zipfile.ZipFile(out / "a.zip") as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    files["findings.json"] = files["findings.json"].replace(b'"fail"', b'"pass"', 1)
    with zipfile.ZipFile(out / "a.zip", "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    tampered = _series(out, "--key", str(keys[1]))
    assert tampered.exit_code == 1
    assert "FAILED a.zip: findings.json: sha256" in tampered.output


def test_retention_comes_from_config(
    monkeypatch: pytest.MonkeyPatch, repo: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    config = tmp_path / "retention.yaml"
    config.write_text("rules:\n  exclude: ['LG-IMG-05*']\nevidence:\n  retentionDays: 366\n")
    _night(monkeypatch, repo, tmp_path / "b.zip", 0, keys[0], "--config", str(config))
    assert _manifest(tmp_path / "b.zip")["retainUntil"] == "2027-01-02"


def test_an_empty_folder_is_not_a_verified_series(tmp_path: Path) -> None:
    result = _series(tmp_path, "--integrity-only")
    assert result.exit_code == 1 and "no evidence bundles found" in result.output


def test_a_series_without_a_key_is_not_verified(tmp_path: Path) -> None:
    """Without --key/--identity the series is refused, unless --integrity-only says so."""
    result = _series(tmp_path)
    assert result.exit_code == 1 and "--integrity-only" in result.output
