"""``evidence verify``, ``report`` and ``diff`` refuse what they cannot trust, and bundles
are read strictly (duplicate names, comments, prefixes, symlinks, zip bombs)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.evidence.manifest import sha256

from .conftest import copy_fixture_repo, write_key_pair


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A signed folder bundle, its zip twin and the public key."""
    base = tmp_path_factory.mktemp("strict")
    repo = copy_fixture_repo(base / "repo", include_rules=("LG-RBAC-001", "LG-SEC-001"))
    private, public = write_key_pair(base, "ec")
    for out in (base / "bundle", base / "bundle.zip"):
        result = CliRunner().invoke(
            cli, ["scan", "repo", str(repo), "--evidence", str(out), "--sign-key", str(private)]
        )
        assert result.exit_code == 1, result.output
    return base / "bundle", base / "bundle.zip", public


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _forge(bundle: Path, target: Path) -> Path:
    """Edit findings.json, recompute the manifest's hashes, drop the signature."""
    import shutil

    shutil.copytree(bundle, target)
    findings = target / "findings.json"
    doc = json.loads(findings.read_text())
    doc["findings"] = [f for f in doc["findings"] if f["status"] == "pass"]
    findings.write_text(json.dumps(doc))
    manifest = json.loads((target / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (target / entry["path"]).read_bytes()
        entry["sha256"], entry["size"] = sha256(data), len(data)
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "manifest.sig.json").unlink()
    return target


def test_verify_without_a_key_is_not_a_pass(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    forged = _forge(signed[0], tmp_path / "forged")
    bare = _run("evidence", "verify", str(forged))
    assert bare.exit_code == 1
    assert "NOT VERIFIED: authenticity not checked" in bare.output
    assert "verified (" not in bare.output
    integrity = _run("evidence", "verify", str(forged), "--integrity-only")
    assert integrity.exit_code == 0
    assert "authenticity NOT checked" in integrity.output
    keyed = _run("evidence", "verify", str(forged), "--key", str(signed[2]))
    assert keyed.exit_code == 1 and "missing, but --key was given" in keyed.output


@pytest.mark.parametrize("fmt", ["html", "md", "csv"])
def test_report_refuses_a_forged_bundle_or_stamps_it(
    signed: tuple[Path, Path, Path], tmp_path: Path, fmt: str
) -> None:
    forged = _forge(signed[0], tmp_path / "forged")
    refused = _run("report", str(forged), "--format", fmt, "--key", str(signed[2]))
    assert refused.exit_code == 1 and "refusing to render" in refused.output
    no_key = _run("report", str(forged), "--format", fmt)
    assert no_key.exit_code == 1 and "--unverified" in no_key.output
    stamped = _run("report", str(forged), "--format", fmt, "--unverified")
    assert stamped.exit_code == 0
    assert "UNVERIFIED: this bundle's signature was not checked" in stamped.output
    genuine = _run("report", str(signed[0]), "--format", fmt, "--key", str(signed[2]))
    assert genuine.exit_code == 0 and "UNVERIFIED" not in genuine.output


def test_diff_refuses_a_forged_bundle(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    forged = _forge(signed[0], tmp_path / "forged")
    refused = _run("evidence", "diff", str(signed[0]), str(forged), "--key", str(signed[2]))
    assert refused.exit_code == 1
    stamped = _run(
        "evidence", "diff", str(signed[0]), str(forged), "--unverified", "--format", "json"
    )
    assert stamped.exit_code == 0
    doc = json.loads(stamped.output[stamped.output.index("{") :])
    assert doc["verified"] is False


def _rezip(
    source: Path, target: Path, *, extra: tuple[str, bytes] | None = None, comment: bytes = b""
) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        if extra is not None:
            out.writestr(extra[0], extra[1])
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.comment = comment
    return target


def test_duplicate_entry_names_are_refused(signed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    forged = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _rezip(signed[1], forged, extra=("findings.json", b'{"findings": []}'))
    result = _run("evidence", "verify", str(forged), "--key", str(signed[2]))
    assert result.exit_code == 2
    assert "duplicate entry name(s) findings.json" in result.output


def test_archive_comment_and_prefix_bytes_are_refused(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    commented = _rezip(signed[1], tmp_path / "c.zip", comment=b"hello")
    result = _run("evidence", "verify", str(commented), "--key", str(signed[2]))
    assert result.exit_code == 2 and "archive comment" in result.output
    prefixed = tmp_path / "p.zip"
    prefixed.write_bytes(b"#!/bin/sh\necho hi\n" + signed[1].read_bytes())
    result = _run("evidence", "verify", str(prefixed), "--key", str(signed[2]))
    assert result.exit_code == 2 and "bytes before the first zip entry" in result.output


def test_symlink_in_a_folder_bundle_is_refused(
    signed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "b"
    shutil.copytree(signed[0], folder)
    (folder / "extra.json").symlink_to("/etc/hostname")
    result = _run("evidence", "verify", str(folder), "--key", str(signed[2]))
    assert result.exit_code == 2 and "extra.json is a symlink" in result.output


def test_zip_bomb_is_refused_unread(
    signed: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.evidence import archive

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for i in range(4):
            out.writestr(f"zeros{i}.bin", b"\0" * (1 << 20))
    assert bomb.stat().st_size < 64 * 1024
    monkeypatch.setattr(archive, "MAX_TOTAL_SIZE", 3 << 20)  # four 1 MiB members exceed it
    result = _run("evidence", "verify", str(bomb), "--key", str(signed[2]))
    assert result.exit_code == 2 and "zip bomb" in result.output
