"""Keyless (Sigstore) signatures over the evidence manifest.

A CI job with an ambient OIDC identity signs the same in-toto statement the key-based
envelope carries, as a Sigstore bundle (``manifest.sigstore.json``). An auditor checks
it with the signer's identity and issuer, offline against a trusted root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError, SignatureError
from scanner.evidence import signing

SIGSTORE_BUNDLE = "manifest.sigstore.json"
#: Environment variable naming a file that holds the OIDC identity token (a pod's
#: projected ServiceAccount token); checked before sigstore's CI detection.
TOKEN_FILE_ENV = "SIGSTORE_ID_TOKEN_FILE"


def load_trust_config(path: Path | None) -> Any:
    """A private Sigstore instance's ClientTrustConfig JSON, or the public-good one (None)."""
    from sigstore.models import ClientTrustConfig

    if path is None:
        return ClientTrustConfig.production()
    try:
        return ClientTrustConfig.from_json(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except Exception as exc:
        raise ConfigError(
            f"{path}: not a Sigstore client trust configuration: {type(exc).__name__}: {exc}"
        ) from exc


def _token_from_file() -> str | None:
    """The OIDC token in the file ``SIGSTORE_ID_TOKEN_FILE`` names, read at signing time.

    sigstore's ambient detection knows CI providers only; a pod has a projected
    ServiceAccount token instead (kubelet rotates it, so it is read when needed).
    """
    name = os.environ.get(TOKEN_FILE_ENV)
    if not name:
        return None
    try:
        token = Path(name).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{TOKEN_FILE_ENV}={name}: cannot read the token file") from exc
    if not token:
        raise SignatureError(f"{TOKEN_FILE_ENV}={name}: the token file is empty")
    return token


def sign(stmt: Mapping[str, Any], trust_config: Path | None = None) -> bytes:
    """A Sigstore bundle over ``stmt`` with the ambient CI identity; SignatureError without one.

    Uses the Fulcio, Rekor (and TSA) of ``trust_config`` (a private instance's
    ClientTrustConfig), or the public-good instance; needs network access to them.
    """
    config = load_trust_config(trust_config) if trust_config is not None else None
    try:
        from sigstore.dsse import StatementBuilder, Subject
        from sigstore.oidc import IdentityToken, detect_credential
        from sigstore.sign import SigningContext
    except ImportError as exc:  # pragma: no cover - sigstore is a dependency
        raise SignatureError(f"sigstore is not installed: {exc}") from exc
    token = _token_from_file() or detect_credential()
    if not token:
        raise SignatureError(
            "--sign-sigstore needs an ambient CI identity token (e.g. GitHub Actions with "
            f"`id-token: write`) or a token file named by {TOKEN_FILE_ENV} (in a cluster, a "
            "projected ServiceAccount token with audience `sigstore`); none was found. "
            "Sign with --sign-key instead."
        )
    subject = stmt["subject"][0]
    statement = (
        StatementBuilder()
        .subjects([Subject(name=subject["name"], digest=dict(subject["digest"]))])  # type: ignore[arg-type]
        .predicate_type(stmt["predicateType"])
        .predicate(dict(stmt["predicate"]))
        .build()
    )
    try:
        if config is None:  # the public-good instance (refreshes its metadata online)
            config = load_trust_config(None)
        context = SigningContext.from_trust_config(config)
        with context.signer(IdentityToken(token)) as signer:
            bundle = signer.sign_dsse(statement)
    except Exception as exc:
        raise SignatureError(f"Sigstore signing failed: {type(exc).__name__}: {exc}") from exc
    signed: str = bundle.to_json()
    return signed.encode()


def verify(
    raw: bytes,
    manifest_sha256: str,
    *,
    issuer: str,
    identity: str = "",
    identity_regexp: str = "",
    trusted_root: str | None = None,
) -> tuple[str, str]:
    """(signer, "") when the bundle vouches for the manifest, else ("", reason)."""
    from scanner.signatures.bundles import make_verifier, verify_bundle
    from scanner.signatures.identity import Identity

    try:
        verifier = make_verifier(trusted_root)
    except Exception as exc:  # noqa: BLE001 - an unusable root is a failed check, not a pass
        return "", f"trusted root not usable: {type(exc).__name__}: {exc}"
    who = Identity(issuer=issuer, subject=identity, subject_regexp=identity_regexp)
    return verify_bundle(
        raw, f"sha256:{manifest_sha256}", [who], verifier, predicates=(signing.PREDICATE_TYPE,)
    )
