"""Sigstore bundles attached to images as OCI 1.1 referrers (cosign v3's default layout).

Discovery: the referrers API (``/v2/<repo>/referrers/<digest>``), falling back to the
``sha256-<hex>`` tag index when the registry has none (``docker-registry`` 2.8 has
none). Verification is :mod:`scanner.signatures.bundles`, which evidence bundles share.
"""

from __future__ import annotations

import threading
from typing import Any

from scanner.images.checks import Verifier
from scanner.images.registry import NotFound, RegistryClient, RegistryError
from scanner.images.trust import TrustPolicy
from scanner.images.verdict import SignatureVerdict
from scanner.signatures.bundles import make_verifier, verify_bundle

BUNDLE_PREFIX = "application/vnd.dev.sigstore.bundle"
MAX_BUNDLE_BYTES = 1024 * 1024


def find_bundles(client: RegistryClient, host: str, repository: str, digest: str) -> list[bytes]:
    """Bundle blobs whose referrer manifest has ``subject`` = ``digest``."""
    referrers = client.referrers(host, repository, digest)
    if referrers is None:
        try:
            index = client.manifest(host, repository, digest.replace(":", "-"))
        except NotFound:
            return []
        referrers = [m for m in index.data.get("manifests") or [] if isinstance(m, dict)]
    found: list[bytes] = []
    for entry in referrers:
        if not str(entry.get("artifactType", "")).startswith(BUNDLE_PREFIX):
            continue
        if not isinstance(entry.get("digest"), str):
            continue
        manifest = client.manifest(host, repository, entry["digest"]).data
        if (manifest.get("subject") or {}).get("digest") != digest:
            continue
        for layer in manifest.get("layers") or []:
            media = str(layer.get("mediaType", "")) if isinstance(layer, dict) else ""
            if media.startswith(BUNDLE_PREFIX) and isinstance(layer.get("digest"), str):
                found.append(client.blob(host, repository, layer["digest"], MAX_BUNDLE_BYTES))
    return found


def verifier_for(trust: TrustPolicy) -> Verifier | None:
    """A bundle verifier over the trusted identities, or None when none is configured."""
    if not trust.identities:
        return None
    state: dict[str, Any] = {}
    lock = threading.Lock()

    def verify(client: RegistryClient, host: str, repository: str, digest: str) -> SignatureVerdict:
        """Find the image's bundles and accept the first one a trusted identity signed."""
        try:
            bundles = find_bundles(client, host, repository, digest)
        except RegistryError as exc:
            return SignatureVerdict("error", reason=f"Sigstore bundle lookup failed: {exc}")
        if not bundles:
            return SignatureVerdict("unsigned", reason="no Sigstore bundle attached")
        with lock:  # one verifier per run, built on first use; sigstore calls serialised
            if "verifier" not in state:
                try:
                    state["verifier"] = make_verifier(trust.trusted_root)
                except Exception as exc:  # noqa: BLE001 - an error verdict, never a pass
                    state["verifier"] = None
                    state["error"] = f"trusted root not usable: {type(exc).__name__}: {exc}"
            if state["verifier"] is None:
                return SignatureVerdict("error", reason=state["error"])
            results = [
                verify_bundle(raw, digest, trust.identities, state["verifier"]) for raw in bundles
            ]
        reasons = []
        for signer, reason in results:
            if signer:
                return SignatureVerdict("trusted", signer=signer, method="sigstore-bundle")
            reasons.append(reason)
        return SignatureVerdict("untrusted", reason="; ".join(reasons))

    return verify
