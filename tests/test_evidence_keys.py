"""Signing keys outside the operator's reach: a SoftHSM2 token (PKCS#11) and encrypted PKCS#8."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.cli import cli

from .conftest import FIXTURE_REPOS, missing_tool, tool

MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
MODULE = next((m for m in MODULES if Path(m).is_file()), "")
PIN = "204913"


@dataclass(frozen=True)
class Token:
    """A SoftHSM2 token holding an EC key generated inside it."""

    uri: str
    public_pem: Path
    pin_file: Path


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    tool("softhsm2-util", "Debian softhsm2")
    if not MODULE:
        missing_tool("softhsm2-util", "no libsofthsm2.so PKCS#11 module found")
    pkcs11 = pytest.importorskip("pkcs11")
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    init = subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "ledgergate",
            "--pin",
            PIN,
            "--so-pin",
            "1029384756",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    lib = pkcs11.lib(MODULE)
    # one loaded module per process: a token made after another file's (another xdist
    # order) is seen only after SoftHSM2 re-reads SOFTHSM2_CONF
    lib.reinitialize()
    with lib.get_token(token_label="ledgergate").open(rw=True, user_pin=PIN) as session:
        params = session.create_domain_parameters(
            pkcs11.KeyType.EC,
            {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, private = params.generate_keypair(store=True, label="evidence-signer")
        assert private[pkcs11.Attribute.SENSITIVE] and not private[pkcs11.Attribute.EXTRACTABLE]
        der = encode_ec_public_key(public)
    public_pem = folder / "signer.pub"
    public_pem.write_bytes(
        serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pin_file = folder / "pin"
    pin_file.write_text(PIN + "\n")
    uri = f"pkcs11:token=ledgergate;object=evidence-signer?module-path={MODULE}"
    yield Token(uri, public_pem, pin_file)
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", target)
    return target


def _scan(repo: Path, out: Path, key: str) -> Result:
    return CliRunner().invoke(
        cli, ["scan", "repo", str(repo), "--evidence", str(out), "--sign-key", key]
    )


def _verify(bundle: Path, public: Path) -> Result:
    return CliRunner().invoke(cli, ["evidence", "verify", str(bundle), "--key", str(public)])


def test_a_key_in_a_pkcs11_token_signs_the_bundle(token: Token, repo: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    done = _scan(repo, bundle, f"{token.uri}&pin-source=file:{token.pin_file}")
    assert done.exit_code == 0, done.output
    result = _verify(bundle, token.public_pem)
    assert result.exit_code == 0 and "signature: valid" in result.output, result.output
    other = tmp_path / "other.pub"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert _verify(bundle, other).exit_code == 1


def test_pkcs11_pin_from_the_environment_and_bad_uris(
    token: Token, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERGATE_PKCS11_PIN", PIN)
    assert _scan(repo, tmp_path / "a", token.uri).exit_code == 0
    assert _verify(tmp_path / "a", token.public_pem).exit_code == 0
    leaked = _scan(repo, tmp_path / "b", f"{token.uri}&pin-value={PIN}")
    assert leaked.exit_code == 2 and "pin-value is refused" in leaked.output
    assert PIN not in leaked.output
    missing = _scan(repo, tmp_path / "c", token.uri.replace("evidence-signer", "nope"))
    assert missing.exit_code == 2 and "0 public keys match" in missing.output
    monkeypatch.setenv("LEDGERGATE_PKCS11_PIN", "000000")
    wrong = _scan(repo, tmp_path / "d", token.uri)
    assert wrong.exit_code == 2 and "PinIncorrect" in wrong.output
    assert not (tmp_path / "d").exists()


def _encrypted_key(folder: Path, passphrase: bytes) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / "signer.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    public = folder / "signer.pub"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_encrypted_pkcs8_keys_take_their_passphrase_from_env_or_file(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = _encrypted_key(tmp_path, b"correct horse battery")
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    monkeypatch.delenv("LEDGERGATE_SIGN_KEY_PASSPHRASE", raising=False)
    locked = _scan(repo, tmp_path / "a", str(private))
    assert locked.exit_code == 2 and "encrypted: give its passphrase" in locked.output
    monkeypatch.setenv("LEDGERGATE_SIGN_KEY_PASSPHRASE", "wrong")
    wrong = _scan(repo, tmp_path / "b", str(private))
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.output
    monkeypatch.setenv("LEDGERGATE_SIGN_KEY_PASSPHRASE", "correct horse battery")
    assert _scan(repo, tmp_path / "c", str(private)).exit_code == 0
    assert _verify(tmp_path / "c", public).exit_code == 0
    monkeypatch.delenv("LEDGERGATE_SIGN_KEY_PASSPHRASE")
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery\n")
    monkeypatch.setenv("LEDGERGATE_SIGN_KEY_PASSPHRASE_FILE", str(secret))
    assert _scan(repo, tmp_path / "d", str(private)).exit_code == 0
    assert _verify(tmp_path / "d", public).exit_code == 0
