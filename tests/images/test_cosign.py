"""Key-based cosign verification against a real registry and cosign's own bytes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.images import cosign
from scanner.images.registry import RegistryClient, RegistryOptions

from .conftest import Registry, free_port


def _client(registry: Registry) -> RegistryClient:
    return RegistryClient(RegistryOptions(insecure=frozenset({registry.host}), retries=0))


def _verify(registry: Registry, repo: str, digest: str, *pubs: Path) -> cosign.SignatureVerdict:
    keys = [cosign.load_key(p) for p in pubs]
    return cosign.verify_image(_client(registry), registry.host, repo, digest, keys)


def test_signed_image_is_trusted(registry: Registry, keys) -> None:  # type: ignore[no-untyped-def]
    key, pub = keys["release"]
    digest = registry.pusher.image("cosign/signed", "v1", user="101")
    registry.pusher.cosign_sign(
        "cosign/signed", digest, key, reference=f"{registry.host}/cosign/signed"
    )
    verdict = _verify(registry, "cosign/signed", digest, pub)
    assert (verdict.status, verdict.signer) == ("trusted", "key:release.pub")


def test_unsigned_other_key_and_retag(registry: Registry, keys) -> None:  # type: ignore[no-untyped-def]
    release, pub = keys["release"]
    other, _ = keys["other"]
    p = registry.pusher
    unsigned = p.image("cosign/app", "unsigned")
    assert _verify(registry, "cosign/app", unsigned, pub).status == "unsigned"

    by_other = p.image("cosign/app", "other")
    p.cosign_sign("cosign/app", by_other, other, reference=f"{registry.host}/cosign/app")
    verdict = _verify(registry, "cosign/app", by_other, pub)
    assert (verdict.status, verdict.reason) == (
        "untrusted",
        "signature does not verify with any trusted key",
    )

    # the tag v1 was signed, then moved to new content: the new digest has no signature
    signed = p.image("cosign/app", "v1", files={"a": b"1"})
    p.cosign_sign("cosign/app", signed, release, reference=f"{registry.host}/cosign/app")
    moved = p.image("cosign/app", "v1", files={"a": b"2"})
    client = _client(registry)
    from scanner.imageref import parse

    assert client.resolve(parse(f"{registry.host}/cosign/app:v1")) == moved
    assert _verify(registry, "cosign/app", moved, pub).status == "unsigned"
    assert _verify(registry, "cosign/app", signed, pub).status == "trusted"


def test_copied_and_tampered_signatures_fail(registry: Registry, keys) -> None:  # type: ignore[no-untyped-def]
    key, pub = keys["release"]
    p = registry.pusher
    ref = f"{registry.host}/cosign/tamper"
    a = p.image("cosign/tamper", "a", files={"x": b"a"})
    b = p.image("cosign/tamper", "b", files={"x": b"b"})
    # a valid signature for A copied under B's signature tag: payload names A, not B
    p.cosign_sign("cosign/tamper", a, key, reference=ref, at=b.replace(":", "-") + ".sig")
    verdict = _verify(registry, "cosign/tamper", b, pub)
    assert (verdict.status, verdict.reason) == ("untrusted", f"payload signs {a}, not {b}")

    c = p.image("cosign/tamper", "c", files={"x": b"c"})
    good = cosign.simple_signing_payload(ref, c)
    sig = key.sign(good, ec.ECDSA(hashes.SHA256()))
    # payload changed after signing (optional annotations added)
    tampered = good.replace(b'"optional":null', b'"optional":{"x":"y"}')
    p.cosign_sign("cosign/tamper", c, key, reference=ref, payload=tampered, signature=sig)
    assert _verify(registry, "cosign/tamper", c, pub).status == "untrusted"
    # signature bytes flipped
    bad = bytes([sig[0], sig[1], sig[2], sig[3] ^ 1]) + sig[4:]
    p.cosign_sign("cosign/tamper", c, key, reference=ref, signature=bad)
    assert _verify(registry, "cosign/tamper", c, pub).status == "untrusted"
    # wrong payload type, validly signed
    odd = good.replace(b"cosign container image signature", b"something else")
    p.cosign_sign("cosign/tamper", c, key, reference=ref, payload=odd)
    verdict = _verify(registry, "cosign/tamper", c, pub)
    assert verdict.status == "untrusted" and "payload type" in verdict.reason


def test_registry_down_is_an_error(keys) -> None:  # type: ignore[no-untyped-def]
    _, pub = keys["release"]
    host = f"127.0.0.1:{free_port()}"
    client = RegistryClient(RegistryOptions(insecure=frozenset({host}), retries=1, backoff=0.01))
    verdict = cosign.verify_image(client, host, "x/y", "sha256:" + "0" * 64, [cosign.load_key(pub)])
    assert verdict.status == "error"
    assert "registry unreachable" in verdict.reason


def test_real_cosign_signature_verifies(testdata: Path) -> None:
    folder = testdata / "cosign" / "containers-image-valid"
    raw = (folder / "signature-1").read_bytes()
    doc = json.loads(raw[raw.index(b"{") :])
    payload = base64.b64decode(doc["payload"])
    signature = doc["annotations"][cosign.SIGNATURE_ANNOTATION]
    digest = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"
    key = cosign.load_key(folder / "cosign.pub")
    assert cosign.check_layer(payload, signature, digest, [key]) == ("cosign.pub", "")
    reference = json.loads(payload)["critical"]["identity"]["docker-reference"]
    assert cosign.simple_signing_payload(reference, digest) == payload
    # the same signature does not vouch for another digest
    other = "sha256:" + "1" * 64
    assert cosign.check_layer(payload, signature, other, [key])[0] is None
    with pytest.raises(cosign.KeyFileError):
        cosign.load_key(folder / "manifest.json")
