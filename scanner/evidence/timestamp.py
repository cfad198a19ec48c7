"""Trusted time: an RFC 3161 timestamp over ``manifest.json`` from a time-stamping authority.

The operator's clock (and ``SOURCE_DATE_EPOCH``) can say anything; a token signed by a
TSA the auditor trusts proves the manifest existed at the token's ``genTime``. The
token (a DER ``TimeStampResp``) is stored as ``manifest.tsr``; the manifest records
whether one was requested, so removing it is detected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError, SignatureError
from scanner.evidence.settings import TsaSettings

TOKEN = "manifest.tsr"
ASSERTED = "asserted"
RFC3161 = "rfc3161"
#: How far the manifest's finish time may lie after the TSA's time (clock skew).
SKEW = timedelta(minutes=5)


def time_claim(tsa: TsaSettings | None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The manifest's ``time`` entry: how far its times can be trusted, and why."""
    env = os.environ if env is None else env
    if env.get("SOURCE_DATE_EPOCH"):
        reason = "SOURCE_DATE_EPOCH is set: the scan times were pinned by the operator"
        source = ASSERTED
    elif tsa is None:
        reason = "no time-stamping authority configured: times come from the scanning machine"
        source = ASSERTED
    else:
        reason = "the manifest digest is timestamped by an RFC 3161 time-stamping authority"
        source = RFC3161
    return {
        "source": source,
        "reason": reason,
        "tsa": tsa.url if tsa else None,
        "token": TOKEN if tsa else None,
    }


def load_certificates(path: Path) -> list[Any]:
    """Every PEM certificate in a file; ConfigError when there is none."""
    from cryptography import x509

    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a PEM certificate bundle: {exc}") from exc
    return certs


def request_token(manifest: bytes, tsa: TsaSettings) -> bytes:
    """Ask the TSA to timestamp ``manifest`` (sha256); the DER response, checked.

    Fails closed: an unreachable TSA, a refusal or a token that does not verify against
    the configured CA bundle stops the bundle, rather than writing one that claims
    trusted time it does not have.
    """
    import requests
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response

    request = TimestampRequestBuilder().data(manifest).hash_algorithm(HashAlgorithm.SHA256).build()
    verify: bool | str = str(tsa.ca_bundle) if tsa.ca_bundle else True
    try:
        reply = requests.post(
            tsa.url,
            data=request.as_bytes(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=tsa.timeout,
            verify=verify,
        )
    except requests.RequestException as exc:
        raise SignatureError(f"time-stamping authority {tsa.url} unreachable: {exc}") from exc
    if reply.status_code != 200:
        raise SignatureError(f"time-stamping authority {tsa.url} answered HTTP {reply.status_code}")
    try:
        response = decode_timestamp_response(reply.content)
    except ValueError as exc:
        message = f"time-stamping authority {tsa.url}: not an RFC 3161 reply: {exc}"
        raise SignatureError(message) from exc
    if response.tst_info.nonce != request.nonce:
        raise SignatureError(f"time-stamping authority {tsa.url}: nonce mismatch")
    if tsa.ca_bundle is not None:
        check_token(reply.content, manifest, load_certificates(tsa.ca_bundle))
    return bytes(reply.content)


@dataclass(frozen=True)
class TokenInfo:
    """What a verified token attests."""

    gen_time: datetime
    tsa: str
    serial: int


def check_token(token: bytes, manifest: bytes, trusted: list[Any]) -> TokenInfo:
    """Verify ``token`` covers ``manifest`` and chains to ``trusted``; SignatureError if not."""
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    try:
        response = decode_timestamp_response(token)
    except ValueError as exc:
        raise SignatureError(f"not an RFC 3161 timestamp response: {exc}") from exc
    if not trusted:
        raise SignatureError("no trusted TSA or CA certificate given")
    builder = VerifierBuilder()
    for cert in trusted:  # each given certificate is a trust anchor (CA or the TSA itself)
        builder = builder.add_root_certificate(cert)
    try:
        builder.build().verify_message(response, manifest)
    except (VerificationError, ValueError) as exc:
        raise SignatureError(f"timestamp does not verify: {exc}") from exc
    info = response.tst_info
    return TokenInfo(_when(info.gen_time), _signer_name(response), int(info.serial_number))


def _when(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _signer_name(response: Any) -> str:
    """Subject of the certificate that signed the token (the TSA)."""
    from cryptography import x509

    infos = list(response.signed_data.signer_infos)
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if infos and (cert.issuer, cert.serial_number) == (infos[0].issuer, infos[0].serial_number):
            return cert.subject.rfc4514_string()
    return infos[0].issuer.rfc4514_string() if infos else ""


def check_time(
    files: Mapping[str, bytes], manifest: Mapping[str, Any] | None, trusted: list[Any] | None
) -> tuple[str, list[tuple[str, str]]]:
    """The bundle's time status in words, and problems as (file, message) pairs.

    A manifest that asked for a timestamp must have a token; a token must cover the
    manifest, chain to ``trusted`` and not predate the time the scan claims to end.
    """
    claim = (manifest or {}).get("time") or {}
    wanted = isinstance(claim, Mapping) and claim.get("source") == RFC3161
    asserted = str(claim.get("reason", "no time claim")) if isinstance(claim, Mapping) else ""
    if TOKEN not in files:
        if wanted:
            return "missing", [(TOKEN, "the manifest asks for an RFC 3161 timestamp; none present")]
        return f"asserted ({asserted})", []
    if trusted is None:
        return "present, not checked (pass --tsa-ca to verify it)", []
    if manifest is None or "manifest.json" not in files:
        return "not checked (no manifest)", []
    try:
        info = check_token(files[TOKEN], files["manifest.json"], trusted)
    except SignatureError as exc:
        return "invalid", [(TOKEN, str(exc))]
    stamped = info.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    finished = str((manifest.get("scan") or {}).get("finished", ""))
    problems = []
    try:
        claimed = datetime.strptime(finished, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if claimed > info.gen_time + SKEW:
            problems.append(
                (
                    "manifest.json",
                    f"claims the scan finished at {finished}, after the "
                    f"trusted timestamp {stamped}",
                )
            )
    except ValueError:
        pass
    status = f"trusted: manifest existed at {stamped} (RFC 3161, {info.tsa}, serial {info.serial})"
    if not wanted:
        status += f"; scan times themselves are asserted ({asserted})"
    return status, problems
