"""The bundle signature verifies with the openssl CLI (DSSE PAE rebuilt from the spec), and
the console entry point writes bundles like the in-process CLI does."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURE_REPOS, ROOT, tool, write_key_pair


def _scan(out: Path, key: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1767225600"}
    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    command = [sys.executable, "-m", "scanner", "scan", "repo", str(repo)]
    command += ["--evidence", str(out), "--sign-key", str(key), "--format", "json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("kind", ["ec", "ed"])
def test_signature_verifies_with_openssl(tmp_path: Path, kind: str) -> None:
    openssl = tool("openssl")
    private, public = write_key_pair(tmp_path, kind)
    bundle = tmp_path / "bundle"
    done = _scan(bundle, private)
    assert done.returncode == 1, done.stderr
    envelope = json.loads((bundle / "manifest.sig.json").read_text())
    payload = base64.b64decode(envelope["payload"])
    statement = json.loads(payload)
    digest = hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": "manifest.json", "digest": {"sha256": digest}}]
    ptype = envelope["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    (tmp_path / "pae.bin").write_bytes(pae)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    if kind == "ec":
        command = [openssl, "dgst", "-sha256", "-verify", str(public)]
        command += ["-signature", str(tmp_path / "sig.bin"), str(tmp_path / "pae.bin")]
    else:
        command = [openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin"]
        command += ["-in", str(tmp_path / "pae.bin"), "-sigfile", str(tmp_path / "sig.bin")]
    checked = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "Verified" in checked.stdout  # "Verified OK" (dgst) / "...Verified Successfully"
    (tmp_path / "pae.bin").write_bytes(pae.replace(digest.encode(), b"0" * 64))
    forged = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert forged.returncode != 0


def test_console_entry_point_writes_identical_zip_bundles(tmp_path: Path) -> None:
    private, _ = write_key_pair(tmp_path, "ec")
    # Separate folders: a bundle beside another of the same target chains to it.
    first, second = tmp_path / "1" / "a.zip", tmp_path / "2" / "b.zip"
    for out in (first, second):
        done = _scan(out, private)
        assert done.returncode == 1, done.stderr
        assert json.loads(done.stdout)["summary"]["fail"] >= 6
    assert first.read_bytes() == second.read_bytes()
