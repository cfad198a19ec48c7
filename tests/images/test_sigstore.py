"""Sigstore bundle verification: real public-good bundles offline, and bundles on a registry."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
from pathlib import Path

import pytest
import requests

from scanner.images.registry import OCI_INDEX, RegistryClient, RegistryOptions
from scanner.images.sigstore_bundle import verifier_for
from scanner.images.trust import TrustPolicy
from scanner.images.verdict import SignatureVerdict
from scanner.signatures.bundles import make_verifier, subject_problem, verify_bundle
from scanner.signatures.identity import Identity

from .conftest import Registry
from .oci import attach_bundle
from .sigstore_fake import FakeSigstore, cosign_statement

ISSUER = "https://token.actions.githubusercontent.com"
BEACON = Identity(
    ISSUER,
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
)
SLSA = ("https://slsa.dev/provenance/v1",)


@pytest.fixture(scope="module")
def real(testdata: Path) -> dict[str, object]:
    folder = testdata / "sigstore"
    text = (folder / "prod-dsse-intoto-v0.3" / "a.txt").read_bytes()
    return {
        "digest": "sha256:" + hashlib.sha256(text).hexdigest(),
        "prod": make_verifier(str(folder / "prod-trusted_root.json")),
        "private": make_verifier(str(folder / "private-instance-rekor2" / "trusted_root.json")),
        "dsse": (folder / "prod-dsse-intoto-v0.3" / "bundle.sigstore.json").read_bytes(),
        "hashed": (folder / "prod-hashedrekord-v0.3" / "bundle.sigstore.json").read_bytes(),
        "rekor2": (folder / "private-instance-rekor2" / "bundle.sigstore.json").read_bytes(),
    }


def test_real_dsse_bundle_checks_identity_subject_and_predicate(real) -> None:  # type: ignore[no-untyped-def]
    digest, prod, dsse = real["digest"], real["prod"], real["dsse"]
    signer, reason = verify_bundle(dsse, digest, [BEACON], prod, SLSA)
    assert (signer, reason) == (f"{BEACON.subject} ({ISSUER})", "")
    # a provenance attestation is not an image signature by default
    assert verify_bundle(dsse, digest, [BEACON], prod)[1].startswith("predicate ")
    other = "sha256:" + "0" * 64
    assert verify_bundle(dsse, other, [BEACON], prod, SLSA) == (
        "",
        f"in-toto subject is {digest.split(':')[1]}, not {other}",
    )
    wrong_issuer = Identity("https://accounts.google.com", BEACON.subject)
    assert verify_bundle(dsse, digest, [wrong_issuer], prod, SLSA)[0] == ""


def test_real_message_signature_bundle_and_regexp_identity(real) -> None:  # type: ignore[no-untyped-def]
    digest, prod, hashed = real["digest"], real["prod"], real["hashed"]
    regexp = Identity(ISSUER, subject_regexp=r"^https://github\.com/sigstore-conformance/")
    assert verify_bundle(hashed, digest, [regexp], prod)[0].startswith(BEACON.subject)
    elsewhere = Identity(ISSUER, subject_regexp=r"^https://github\.com/ledgergate/")
    signer, reason = verify_bundle(hashed, digest, [elsewhere], prod)
    assert signer == "" and "does not match" in reason
    assert verify_bundle(hashed, "sha256:" + "1" * 64, [BEACON], prod)[0] == ""
    assert verify_bundle(b"{not json", digest, [BEACON], prod)[1].startswith("invalid Sigstore")


def test_private_instance_needs_its_own_root(real) -> None:  # type: ignore[no-untyped-def]
    digest, rekor2 = real["digest"], real["rekor2"]
    assert verify_bundle(rekor2, digest, [BEACON], real["prod"])[0] == ""
    assert verify_bundle(rekor2, digest, [BEACON], real["private"])[0] != ""


def test_subject_problem() -> None:
    statement = b'{"subject":[{"digest":{"sha256":"ab"}}],"predicateType":"p"}'
    assert subject_problem("application/vnd.in-toto+json", statement, "sha256:ab", ["p"]) == ""
    assert "not in-toto" in subject_problem("text/plain", statement, "sha256:ab", ["p"])
    assert "not sha256:cd" in subject_problem(
        "application/vnd.in-toto+json", statement, "sha256:cd", ["p"]
    )


# -- bundles on a registry, signed by a private test instance ------------------------------

RELEASE = Identity("https://issuer.test", "release@finance.example")


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeSigstore, Path]:
    instance = FakeSigstore()
    root = tmp_path_factory.mktemp("sigstore") / "trusted_root.json"
    root.write_text(json.dumps(instance.trusted_root()))
    return instance, root


def _check(registry: Registry, repo: str, digest: str, trust: TrustPolicy) -> SignatureVerdict:
    verify = verifier_for(trust)
    assert verify is not None
    client = RegistryClient(RegistryOptions(insecure=frozenset({registry.host}), retries=0))
    return verify(client, registry.host, repo, digest)


def test_bundle_referrers_on_a_registry(registry: Registry, fake, testdata: Path) -> None:  # type: ignore[no-untyped-def]
    instance, root = fake
    p = registry.pusher
    trust = TrustPolicy(identities=(RELEASE,), trusted_root=str(root))

    signed = p.image("bundles/app", "signed", files={"a": b"1"})
    bundle = instance.dsse_bundle(
        cosign_statement(signed), identity=RELEASE.subject, issuer=RELEASE.issuer
    )
    attach_bundle(p, "bundles/app", signed, bundle)
    verdict = _check(registry, "bundles/app", signed, trust)
    assert (verdict.status, verdict.signer, verdict.method) == (
        "trusted",
        "release@finance.example (https://issuer.test)",
        "sigstore-bundle",
    )

    unsigned = p.image("bundles/app", "unsigned", files={"a": b"2"})
    assert _check(registry, "bundles/app", unsigned, trust).status == "unsigned"

    # signed by someone else
    stranger = p.image("bundles/app", "stranger", files={"a": b"3"})
    attach_bundle(
        p,
        "bundles/app",
        stranger,
        instance.dsse_bundle(
            cosign_statement(stranger), identity="intruder@evil.example", issuer=RELEASE.issuer
        ),
    )
    verdict = _check(registry, "bundles/app", stranger, trust)
    assert verdict.status == "untrusted" and "do not match" in verdict.reason

    # the signed image's bundle attached to another image: the in-toto subject gives it away
    copied = p.image("bundles/app", "copied", files={"a": b"4"})
    attach_bundle(p, "bundles/app", copied, bundle)
    verdict = _check(registry, "bundles/app", copied, trust)
    assert verdict.status == "untrusted" and "in-toto subject is" in verdict.reason

    # the same bundle against the public-good root: its CA is not trusted there
    prod = TrustPolicy(
        identities=(RELEASE,),
        trusted_root=str(testdata / "sigstore" / "prod-trusted_root.json"),
    )
    assert _check(registry, "bundles/app", signed, prod).status == "untrusted"

    # a tampered bundle (payload changed) does not verify
    data = json.loads(bundle)
    statement = cosign_statement(signed)
    statement["predicate"] = {"note": "changed"}
    data["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    tampered = p.image("bundles/app", "tampered", files={"a": b"5"})
    attach_bundle(p, "bundles/app", tampered, json.dumps(data).encode())
    assert _check(registry, "bundles/app", tampered, trust).status == "untrusted"


def test_unusable_trusted_root_is_an_error(registry: Registry, fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    instance, _ = fake
    digest = registry.pusher.image("bundles/root", "v1")
    attach_bundle(
        registry.pusher,
        "bundles/root",
        digest,
        instance.dsse_bundle(
            cosign_statement(digest), identity=RELEASE.subject, issuer=RELEASE.issuer
        ),
    )
    bad = tmp_path / "root.json"
    bad.write_text("{}")
    verdict = _check(
        registry, "bundles/root", digest, TrustPolicy(identities=(RELEASE,), trusted_root=str(bad))
    )
    assert verdict.status == "error" and verdict.reason.startswith("trusted root not usable")


class _ReferrersProxy(http.server.BaseHTTPRequestHandler):
    """A registry front that adds the OCI 1.1 referrers API (which docker-registry 2.8 lacks).

    Referrers are answered from the ``sha256-<hex>`` index the tests write; every other
    request is passed to the real registry unchanged. Requests are recorded.
    """

    upstream = ""
    seen: list[str] = []

    def do_GET(self) -> None:
        self._forward("GET")

    def do_HEAD(self) -> None:
        self._forward("HEAD")

    def _forward(self, method: str) -> None:
        type(self).seen.append(f"{method} {self.path}")
        match = re.fullmatch(r"/v2/(.+)/referrers/(sha256:[0-9a-f]{64})", self.path)
        path = self.path
        if match:
            path = f"/v2/{match.group(1)}/manifests/{match.group(2).replace(':', '-')}"
        resp = requests.request(
            method,
            self.upstream + path,
            headers={"Accept": self.headers.get("Accept", "*/*")},
            timeout=10,
        )
        body = resp.content
        status = resp.status_code
        if match and status == 404:
            status, body = (
                200,
                json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(),
            )
        self.send_response(status)
        for header in ("Content-Type", "Docker-Content-Digest"):
            if header in resp.headers:
                self.send_header(header, resp.headers[header])
        if match:
            self.send_header("Content-Type", OCI_INDEX)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_native_referrers_api_is_used_when_present(registry: Registry, fake) -> None:  # type: ignore[no-untyped-def]
    instance, root = fake
    p = registry.pusher
    digest = p.image("bundles/native", "v1", files={"n": b"1"})
    attach_bundle(
        p,
        "bundles/native",
        digest,
        instance.dsse_bundle(
            cosign_statement(digest), identity=RELEASE.subject, issuer=RELEASE.issuer
        ),
    )
    unsigned = p.image("bundles/native", "v2", files={"n": b"2"})
    _ReferrersProxy.upstream, _ReferrersProxy.seen = registry.base, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ReferrersProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        verify = verifier_for(TrustPolicy(identities=(RELEASE,), trusted_root=str(root)))
        assert verify is not None
        client = RegistryClient(RegistryOptions(insecure=frozenset({host}), retries=0))
        assert verify(client, host, "bundles/native", digest).status == "trusted"
        assert verify(client, host, "bundles/native", unsigned).status == "unsigned"
    finally:
        server.shutdown()
        server.server_close()
    tags = [s for s in _ReferrersProxy.seen if "/manifests/sha256-" in s]
    assert tags == []  # the fallback tag was not needed
    assert f"GET /v2/bundles/native/referrers/{digest}" in _ReferrersProxy.seen
