"""PKCS#11 signing beyond ECDSA P-256: RSA 2048 and 3072 (PKCS#1 v1.5, SHA-256) and ECDSA
P-384 (SHA-384), with keys generated inside a real SoftHSM2 token and each bundle
signature checked by ``evidence verify`` and by the openssl CLI (#14)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from scanner.cli import cli

from .conftest import FIXTURE_REPOS
from .softhsm import MODULE, PIN, softhsm_token

KEYS = {"rsa-2048": ("rsa", 2048), "rsa-3072": ("rsa", 3072), "ec-p384": ("ec", "secp384r1")}


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One SoftHSM2 token holding each key type, generated in the token; label -> public PEM."""
    pkcs11 = pytest.importorskip("pkcs11")
    folder = tmp_path_factory.mktemp("softhsm-algs")
    with softhsm_token(folder, "algs"):
        yield _generate(pkcs11, folder)


def _generate(pkcs11: Any, folder: Path) -> dict[str, Path]:
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    publics: dict[str, Path] = {}
    with pkcs11.lib(MODULE).get_token(token_label="algs").open(rw=True, user_pin=PIN) as session:
        for label, (kind, size) in KEYS.items():
            if kind == "rsa":
                public, private = session.generate_keypair(
                    pkcs11.KeyType.RSA, size, store=True, label=label
                )
                attr = pkcs11.Attribute
                key = rsa.RSAPublicNumbers(
                    int.from_bytes(public[attr.PUBLIC_EXPONENT]),
                    int.from_bytes(public[attr.MODULUS]),
                ).public_key()
            else:
                params = session.create_domain_parameters(
                    pkcs11.KeyType.EC,
                    {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(str(size))},
                    local=True,
                )
                public, private = params.generate_keypair(store=True, label=label)
                key = serialization.load_der_public_key(encode_ec_public_key(public))
            assert not private[pkcs11.Attribute.EXTRACTABLE]
            pem = folder / f"{label}.pub"
            pem.write_bytes(
                key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            publics[label] = pem
    (folder / "pin").write_text(PIN + "\n")
    publics["pin"] = folder / "pin"
    return publics


def _openssl_verifies(bundle: Path, public: Path, digest: str, work: Path) -> bool:
    envelope = json.loads((bundle / "manifest.sig.json").read_text())
    payload = base64.b64decode(envelope["payload"])
    ptype = envelope["payloadType"].encode()
    (work / "pae.bin").write_bytes(
        b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    )
    (work / "sig.bin").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    command = ["openssl", "dgst", f"-{digest}", "-verify", str(public)]
    command += ["-signature", str(work / "sig.bin"), str(work / "pae.bin")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return done.returncode == 0 and "Verified OK" in done.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
@pytest.mark.parametrize(
    ("label", "digest"), [("rsa-2048", "sha256"), ("rsa-3072", "sha256"), ("ec-p384", "sha384")]
)
def test_token_keys_of_each_type_sign_bundles_openssl_verifies(
    token: dict[str, Path], label: str, digest: str, tmp_path: Path
) -> None:
    uri = f"pkcs11:token=algs;object={label}?module-path={MODULE}&pin-source=file:{token['pin']}"
    repo = FIXTURE_REPOS / "odoo-finance-compliant"
    bundles = []
    for name in ("a", "b"):
        out = tmp_path / name / "bundle"
        done = CliRunner().invoke(
            cli,
            ["scan", "repo", str(repo), "--evidence", str(out), "--sign-key", uri],
            env={"SOURCE_DATE_EPOCH": "1767225600"},
        )
        assert done.exit_code == 0, done.output
        bundles.append(out)
    verified = CliRunner().invoke(
        cli, ["evidence", "verify", str(bundles[0]), "--key", str(token[label])]
    )
    assert verified.exit_code == 0 and "signature: valid" in verified.output, verified.output
    assert _openssl_verifies(bundles[0], token[label], digest, tmp_path)
    if label.startswith("rsa"):  # PKCS#1 v1.5 is deterministic: the same bundle twice
        first, second = ((b / "manifest.sig.json").read_bytes() for b in bundles)
        assert first == second
    other = tmp_path / "other.pub"
    other.write_bytes(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert (
        CliRunner()
        .invoke(cli, ["evidence", "verify", str(bundles[0]), "--key", str(other)])
        .exit_code
        == 1
    )


def test_key_files_of_the_new_types_sign_too_and_small_rsa_is_refused(tmp_path: Path) -> None:
    from scanner.errors import ConfigError
    from scanner.evidence import signing

    for key in (rsa.generate_private_key(65537, 3072), ec.generate_private_key(ec.SECP384R1())):
        path = tmp_path / "k.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        loaded = signing.load_private_key(path)
        envelope = signing.sign_envelope(loaded, signing.statement("manifest.json", "0" * 64, {}))
        signing.verify_envelope(envelope, loaded.public_key())
    weak = tmp_path / "weak.pem"
    weak.write_bytes(
        rsa.generate_private_key(65537, 1024).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigError, match="RSA of 2048 bits or more"):
        signing.load_private_key(weak)
