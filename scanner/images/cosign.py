"""Key-based cosign signatures in the legacy tag layout (``sha256-<hex>.sig``).

Format: cosign ``specs/SIGNATURE_SPEC.md``. The signature tag holds an OCI manifest
whose layers are simple-signing payloads; each layer's annotation carries a base64
DER signature over the payload bytes. A signature counts only when it verifies
with a trusted key *and* its payload names the resolved digest, so a signature
copied onto another image (or a re-tagged image) is not accepted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from scanner.errors import ScannerError
from scanner.images.registry import NotFound, RegistryClient, RegistryError
from scanner.images.verdict import SignatureVerdict

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class KeyFileError(ScannerError):
    """A trusted key file that cannot be read or is not a supported public key."""


@dataclass(frozen=True)
class TrustedKey:
    """A public key and the name it is reported under (its file name)."""

    name: str
    key: PublicKey


def load_key(path: str | Path) -> TrustedKey:
    """Load a PEM SubjectPublicKeyInfo (``cosign.pub``): ECDSA, RSA or Ed25519."""
    try:
        loaded = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot load public key {path}: {exc}") from exc
    if not isinstance(
        loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    ):
        raise KeyFileError(f"{path}: unsupported key type {type(loaded).__name__}")
    return TrustedKey(Path(path).name, loaded)


def signature_tag(digest: str) -> str:
    """``sha256:<hex>`` -> ``sha256-<hex>.sig``."""
    return digest.replace(":", "-") + ".sig"


def simple_signing_payload(docker_reference: str, digest: str) -> bytes:
    """The payload cosign signs, byte for byte (compact JSON, cosign's key order)."""
    body = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": None,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def verify_signature(key: PublicKey, payload: bytes, signature: bytes) -> bool:
    """True when ``signature`` is valid for ``payload`` under ``key`` (SHA-256)."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def payload_problem(payload: bytes, digest: str) -> str | None:
    """Why a (validly signed) payload does not vouch for ``digest``, or None."""
    try:
        data: Any = json.loads(payload)
        critical = data["critical"]
        kind = critical["type"]
        named = critical["image"]["docker-manifest-digest"]
    except (ValueError, KeyError, TypeError):
        return "payload is not a simple-signing document"
    if kind != PAYLOAD_TYPE:
        return f"payload type is {kind!r}, not {PAYLOAD_TYPE!r}"
    if named != digest:
        return f"payload signs {named}, not {digest}"
    return None


def check_layer(
    payload: bytes, signature_b64: str, digest: str, keys: Sequence[TrustedKey]
) -> tuple[str | None, str]:
    """(signer key name, "") when one layer is valid, else (None, reason)."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return None, "signature annotation is not base64"
    signer = next((k.name for k in keys if verify_signature(k.key, payload, signature)), None)
    if signer is None:
        return None, "signature does not verify with any trusted key"
    problem = payload_problem(payload, digest)
    if problem:
        return None, problem
    return signer, ""


def verify_image(
    client: RegistryClient, host: str, repository: str, digest: str, keys: Sequence[TrustedKey]
) -> SignatureVerdict:
    """Look for ``sha256-<hex>.sig`` beside the image and check every signature in it."""
    try:
        sig_manifest = client.manifest(host, repository, signature_tag(digest))
    except NotFound:
        return SignatureVerdict("unsigned", reason=f"no cosign signature ({signature_tag(digest)})")
    except RegistryError as exc:
        return SignatureVerdict("error", reason=f"cosign signature lookup failed: {exc}")
    layers = [
        layer
        for layer in sig_manifest.data.get("layers") or []
        if isinstance(layer, dict) and layer.get("mediaType") == SIMPLE_SIGNING
    ]
    if not layers:
        return SignatureVerdict("unsigned", reason="signature manifest has no signature layers")
    reasons: list[str] = []
    for layer in layers:
        annotation = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if not isinstance(annotation, str) or not isinstance(layer.get("digest"), str):
            reasons.append("layer without signature annotation")
            continue
        try:
            payload = client.blob(host, repository, layer["digest"], limit=1024 * 1024)
        except RegistryError as exc:
            return SignatureVerdict("error", reason=f"cosign payload fetch failed: {exc}")
        signer, reason = check_layer(payload, annotation, digest, keys)
        if signer:
            return SignatureVerdict("trusted", signer=f"key:{signer}", method="cosign-key")
        reasons.append(reason)
    return SignatureVerdict("untrusted", reason="; ".join(sorted(set(reasons))))
