"""Sigstore bundle verification: ``sigstore`` 4.x against a trusted root file, no network.

``verify_dsse`` does not look at the in-toto subject, so the subject's digest is compared
with the signed object's digest here: a bundle for another image or manifest is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from scanner.signatures.identity import Identity

COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
IN_TOTO = "application/vnd.in-toto+json"


def _sans(cert: Any) -> list[str]:
    """Email, URI and Sigstore other-name SANs of a certificate."""
    from cryptography.x509 import (
        ExtensionNotFound,
        OtherName,
        RFC822Name,
        SubjectAlternativeName,
        UniformResourceIdentifier,
    )

    try:
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except ExtensionNotFound:
        return []
    names = [*san.get_values_for_type(RFC822Name)]
    names += san.get_values_for_type(UniformResourceIdentifier)
    names += [o.value.decode(errors="replace") for o in san.get_values_for_type(OtherName)]
    return [str(n) for n in names]


class _RegexpIdentity:
    """A SAN matching a regular expression (Go ``MatchString`` semantics) from one issuer."""

    def __init__(self, pattern: str, issuer: str) -> None:
        self.pattern = re.compile(pattern)
        self.issuer = issuer

    def verify(self, cert: Any) -> None:
        """Raise ``VerificationError`` unless issuer and a SAN match (sigstore's policy API)."""
        from sigstore.errors import VerificationError
        from sigstore.verify import policy

        policy.AnyOf([policy.OIDCIssuer(self.issuer), policy.OIDCIssuerV2(self.issuer)]).verify(
            cert
        )
        names = _sans(cert)
        if not any(self.pattern.search(n) for n in names):
            raise VerificationError(
                f"certificate identity {names} does not match /{self.pattern.pattern}/"
            )


def policy_for(identity: Identity) -> Any:
    """The sigstore verification policy for one trusted identity."""
    from sigstore.verify import policy

    if identity.subject:
        return policy.Identity(identity=identity.subject, issuer=identity.issuer)
    return _RegexpIdentity(identity.subject_regexp, identity.issuer)


def make_verifier(trusted_root: str | None) -> Any:
    """A sigstore ``Verifier``: the given trusted root, else the embedded production root."""
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if trusted_root:
        return Verifier(trusted_root=TrustedRoot.from_file(trusted_root))
    return Verifier.production(offline=True)


def subject_problem(
    payload_type: str, payload: bytes, digest: str, predicates: Sequence[str]
) -> str:
    """Why a verified DSSE payload does not vouch for ``digest`` (empty when it does)."""
    if payload_type != IN_TOTO:
        return f"DSSE payload type {payload_type!r} is not in-toto"
    try:
        statement = json.loads(payload)
        subjects = statement.get("subject") or []
        predicate = statement.get("predicateType", "")
    except (ValueError, AttributeError):
        return "DSSE payload is not an in-toto statement"
    if predicates and predicate not in predicates:
        return f"predicate {predicate!r} is not a signature ({', '.join(predicates)})"
    algorithm, _, hexdigest = digest.partition(":")
    named = {
        str((s.get("digest") or {}).get(algorithm, "")) for s in subjects if isinstance(s, dict)
    }
    if hexdigest not in named:
        return f"in-toto subject is {', '.join(sorted(named)) or 'empty'}, not {digest}"
    return ""


def verify_bundle(
    raw: bytes,
    digest: str,
    identities: Sequence[Identity],
    verifier: Any,
    predicates: Sequence[str] = (COSIGN_SIGN_PREDICATE,),
) -> tuple[str, str]:
    """(signer identity, "") when the bundle is valid for ``digest``, else ("", reason)."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore_models.common.v1 import HashAlgorithm

    try:
        bundle = Bundle.from_json(raw)
    except (SigstoreError, ValueError) as exc:
        return "", f"invalid Sigstore bundle: {exc}"
    reasons: list[str] = []
    for identity in identities:
        try:
            if bundle._dsse_envelope is not None:
                payload_type, payload = verifier.verify_dsse(bundle, policy_for(identity))
                problem = subject_problem(payload_type, payload, digest, predicates)
                if problem:
                    return "", problem
            else:
                algorithm, _, hexdigest = digest.partition(":")
                if algorithm != "sha256":
                    return "", f"unsupported digest algorithm {algorithm}"
                hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(hexdigest))
                verifier.verify_artifact(hashed, bundle, policy_for(identity))
        except SigstoreError as exc:
            reasons.append(f"{identity.display()}: {exc}")
            continue
        sans = _sans(bundle.signing_certificate)
        return f"{sans[0] if sans else identity.display()} ({identity.issuer})", ""
    return "", "; ".join(reasons) or "no trusted identity"
