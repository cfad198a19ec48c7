"""DSSE envelopes over an in-toto v1 statement, signed with ECDSA (P-256 with SHA-256,
P-384 with SHA-384), RSA (PKCS#1 v1.5 with SHA-256, 2048 bits or more; deterministic, as
cosign signs with RSA) or Ed25519.

The statement's subject is ``manifest.json`` with its sha256; the manifest in turn
holds the sha256 of every other file, so one signature covers the whole bundle.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from scanner.errors import ConfigError, SignatureError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://ledgergate.dev/evidence-bundle/v1"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
#: ECDSA curves accepted, and the hash each signs with (the usual pairing, as openssl's).
CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
}
MIN_RSA_BITS = 2048
SUPPORTED = "ECDSA P-256 or P-384, RSA of 2048 bits or more, or Ed25519"


def supported(key: Any) -> bool:
    """Whether a ``cryptography`` key (private or public) is of a type bundles are signed with."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return True
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return key.curve.name in CURVE_HASHES
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return key.key_size >= MIN_RSA_BITS
    return False


def ecdsa_hash(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """The hash an ECDSA key of this curve signs with."""
    return CURVE_HASHES[key.curve.name]()


class ExternalKey(Protocol):
    """A key that signs somewhere else (an HSM): only the public half is here."""

    def public_key(self) -> Any:
        """The public key (ECDSA, RSA or Ed25519, as a ``cryptography`` object)."""

    def sign_message(self, message: bytes) -> bytes:
        """A signature over ``message`` in the encoding ``cryptography`` gives."""


Signer = PrivateKey | ExternalKey


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def load_private_key(path: Path, password: bytes | None = None) -> PrivateKey:
    """A PEM private key (PKCS#8, encrypted when ``password`` is given); ConfigError otherwise."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=password)
    except TypeError as exc:
        hint = "encrypted: give its passphrase" if password is None else "not encrypted"
        raise ConfigError(f"{path}: key is {hint} ({exc})") from exc
    except (OSError, ValueError, UnsupportedAlgorithm) as exc:
        what = "a PEM private key (or wrong passphrase)" if password else "an unencrypted PEM"
        raise ConfigError(f"{path}: not {what} private key: {exc}") from exc
    if supported(key) and isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        return key
    raise ConfigError(f"{path}: key type not supported (use {SUPPORTED})")


def load_public_key(path: Path) -> PublicKey:
    """A PEM public key (or the public half of a private key file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read key: {exc.strerror}") from exc
    try:
        key: Any = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"{path}: not a PEM public key: {exc}") from exc
    if supported(key):
        return key  # type: ignore[no-any-return]
    raise ConfigError(f"{path}: key type not supported (use {SUPPORTED})")


def key_id(public: PublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, as hex."""
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def statement(subject_name: str, digest: str, predicate: Mapping[str, Any]) -> dict[str, Any]:
    """An in-toto v1 statement about one file."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": dict(predicate),
    }


def _sign(key: Signer, message: bytes) -> bytes:
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        return key.sign_message(message)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    try:  # RFC 6979 keeps signed bundles reproducible
        return key.sign(message, ec.ECDSA(ecdsa_hash(key), deterministic_signing=True))
    except UnsupportedAlgorithm:  # pragma: no cover - older OpenSSL
        return key.sign(message, ec.ECDSA(ecdsa_hash(key)))


def sign_envelope(key: Signer, stmt: Mapping[str, Any]) -> dict[str, Any]:
    """A DSSE envelope carrying the statement and one signature."""
    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":")).encode()
    sig = _sign(key, pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }


def open_envelope(envelope: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The payload bytes and the statement; SignatureError if the envelope is malformed."""
    try:
        if envelope["payloadType"] != PAYLOAD_TYPE:
            raise SignatureError(f"payloadType is {envelope['payloadType']!r}, not {PAYLOAD_TYPE}")
        payload = base64.b64decode(envelope["payload"], validate=True)
        stmt = json.loads(payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError(f"malformed DSSE envelope: {exc}") from exc
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise SignatureError("payload is not an in-toto v1 statement")
    return payload, stmt


def verify_envelope(envelope: Mapping[str, Any], public: PublicKey) -> None:
    """Raise SignatureError unless a signature by ``public`` covers the payload."""
    payload, _ = open_envelope(envelope)
    message = pae(PAYLOAD_TYPE, payload)
    wanted = key_id(public)
    for entry in envelope.get("signatures") or []:
        if not isinstance(entry, Mapping) or entry.get("keyid") not in (None, "", wanted):
            continue
        try:
            sig = base64.b64decode(str(entry.get("sig", "")), validate=True)
            if isinstance(public, ed25519.Ed25519PublicKey):
                public.verify(sig, message)
            elif isinstance(public, rsa.RSAPublicKey):
                public.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                public.verify(sig, message, ec.ECDSA(ecdsa_hash(public)))
            return
        except (InvalidSignature, ValueError):
            continue
    raise SignatureError(f"no valid signature by key {wanted[:16]}…")
