"""Keyless (Sigstore) signatures on evidence bundles, verified offline by identity and issuer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.cli.evidence import evidence_group
from scanner.evidence import signing
from scanner.evidence.keyless import SIGSTORE_BUNDLE
from scanner.evidence.manifest import MANIFEST, sha256
from tests.images.sigstore_fake import FakeSigstore

from .conftest import FIXTURE_REPOS

SIGNER = "https://github.com/finance/odoo-gitops/.github/workflows/audit.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A bundle whose manifest carries a Sigstore bundle from a private test instance."""
    base = tmp_path_factory.mktemp("keyless")
    repo = base / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    bundle = base / "bundle"
    result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(bundle)])
    assert result.exit_code == 1, result.output
    fake = FakeSigstore()
    manifest = (bundle / MANIFEST).read_bytes()
    statement = signing.statement(MANIFEST, sha256(manifest), {"note": "test"})
    (bundle / SIGSTORE_BUNDLE).write_bytes(
        fake.dsse_bundle(statement, identity=SIGNER, issuer=ISSUER)
    )
    root = base / "trusted_root.json"
    root.write_text(json.dumps(fake.trusted_root()))
    return bundle, root


def _verify(bundle: Path, root: Path, *extra: str) -> tuple[int, str]:
    args = ["verify", str(bundle), "--trusted-root", str(root), "--issuer", ISSUER, *extra]
    result = CliRunner().invoke(evidence_group, args)
    return result.exit_code, result.output


def test_signer_identity_verifies(signed: tuple[Path, Path]) -> None:
    code, out = _verify(*signed, "--identity", SIGNER)
    assert code == 0, out
    assert "Sigstore: valid, signed by " + SIGNER in out
    code, out = _verify(*signed, "--identity-regexp", r"^https://github\.com/finance/")
    assert code == 0, out


def test_another_identity_is_refused(signed: tuple[Path, Path]) -> None:
    code, out = _verify(*signed, "--identity", "https://github.com/mallory/fork/x.yml@main")
    assert code == 1
    assert f"FAILED {SIGSTORE_BUNDLE}: keyless signature invalid" in out


def test_a_changed_manifest_is_refused(signed: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, root = signed
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["runBy"]["user"] = "someone-else"
    (copy / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    code, out = _verify(copy, root, "--identity", SIGNER)
    assert code == 1
    assert "not " in out and SIGSTORE_BUNDLE in out


def test_identity_without_a_sigstore_bundle_fails(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, root = signed
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / SIGSTORE_BUNDLE).unlink()
    code, out = _verify(copy, root, "--identity", SIGNER)
    assert code == 1 and f"{SIGSTORE_BUNDLE}: missing" in out


def test_keyless_verification_needs_an_issuer(signed: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(evidence_group, ["verify", str(signed[0]), "--identity", SIGNER])
    assert result.exit_code == 2 and "--issuer" in result.output


def test_sign_sigstore_without_an_ambient_identity_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sigstore.oidc

    monkeypatch.setattr(sigstore.oidc, "detect_credential", lambda *a, **k: None)
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        cli, ["scan", "repo", str(repo), "--evidence", str(out), "--sign-sigstore"]
    )
    assert result.exit_code == 2
    # the message names both ways to give a token: ambient CI, or a token file
    assert "ambient CI identity token" in result.output
    assert "SIGSTORE_ID_TOKEN_FILE" in result.output
    assert "Traceback" not in result.output
