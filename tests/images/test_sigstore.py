"""Sigstore bundle verification: real public-good bundles offline, and bundles on a registry."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from scanner.images.sigstore_bundle import make_verifier, subject_problem, verify_bundle
from scanner.images.trust import Identity

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
