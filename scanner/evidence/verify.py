"""Verify a bundle: every file against the manifest, the manifest against its signature.

Each problem names the file it concerns, so an auditor knows exactly what changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.errors import ReportError
from scanner.evidence import archive, signing
from scanner.evidence.keyless import SIGSTORE_BUNDLE
from scanner.evidence.manifest import MANIFEST, MANIFEST_KIND, SIGNATURE, sha256
from scanner.evidence.timestamp import TOKEN as TIMESTAMP_TOKEN


@dataclass(frozen=True)
class Problem:
    """One verification failure, tied to a bundle file."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class Verification:
    """The outcome: problems (empty means verified) and what was checked."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    signature: str = "absent"
    #: A signature was checked and did not verify (its problem says why, once).
    signature_failed: bool = False
    timestamp: str = "not checked"

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def _manifest(files: Mapping[str, bytes], out: Verification) -> Mapping[str, Any] | None:
    if MANIFEST not in files:
        out.problems.append(Problem(MANIFEST, "missing"))
        return None
    try:
        data = json.loads(files[MANIFEST])
    except (UnicodeDecodeError, ValueError) as exc:
        out.problems.append(Problem(MANIFEST, f"not valid JSON: {exc}"))
        return None
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND:
        out.problems.append(Problem(MANIFEST, "not a ledgergate evidence manifest"))
        return None
    from scanner.evidence.schema import validation_errors

    for message in validation_errors(data):
        out.problems.append(Problem(MANIFEST, f"does not match its schema: {message}"))
    return data


def _check_files(
    files: Mapping[str, bytes], manifest: Mapping[str, Any], out: Verification
) -> None:
    listed: set[str] = set()
    for entry in manifest.get("files", []):
        if not isinstance(entry, Mapping):
            continue
        name = str(entry.get("path", ""))
        listed.add(name)
        if name not in files:
            out.problems.append(Problem(name, "listed in the manifest but missing"))
            continue
        actual = sha256(files[name])
        if actual != entry.get("sha256"):
            out.problems.append(
                Problem(
                    name, f"sha256 {actual} does not match the manifest's {entry.get('sha256')}"
                )
            )
        elif len(files[name]) != entry.get("size"):
            out.problems.append(Problem(name, "size does not match the manifest"))
        else:
            out.checked.append(name)
    unlisted = {MANIFEST, SIGNATURE, SIGSTORE_BUNDLE, TIMESTAMP_TOKEN}
    for name in sorted(set(files) - listed - unlisted):
        out.problems.append(Problem(name, "not listed in the manifest (added after signing?)"))


def _check_signature(
    files: Mapping[str, bytes], key: signing.PublicKey | None, out: Verification
) -> None:
    if SIGNATURE not in files:
        if key is not None:
            out.signature_failed = True
            out.problems.append(Problem(SIGNATURE, "missing, but --key was given: not signed"))
        return
    try:
        envelope = json.loads(files[SIGNATURE])
        if not isinstance(envelope, dict):
            raise ReportError("not a JSON object")
        _, stmt = signing.open_envelope(envelope)
    except (UnicodeDecodeError, ValueError, ReportError) as exc:
        out.problems.append(Problem(SIGNATURE, f"unreadable: {exc}"))
        return
    subjects = {
        s.get("name"): (s.get("digest") or {}).get("sha256")
        for s in stmt.get("subject", [])
        if isinstance(s, Mapping)
    }
    if MANIFEST in files and subjects.get(MANIFEST) != sha256(files[MANIFEST]):
        out.problems.append(
            Problem(MANIFEST, "sha256 does not match the signed statement in manifest.sig.json")
        )
    if key is None:
        out.signature = "present, not checked (pass --key to verify it)"
        return
    try:
        signing.verify_envelope(envelope, key)
        out.signature = f"valid (key {signing.key_id(key)[:16]})"
    except ReportError:
        out.signature_failed = True
        wanted = signing.key_id(key)
        signers = sorted(
            str(e.get("keyid"))
            for e in envelope.get("signatures") or []
            if isinstance(e, Mapping) and e.get("keyid")
        )
        if signers and wanted not in signers:
            message = (
                f"signed by another key ({', '.join(k[:16] for k in signers)}), "
                f"not by --key {wanted[:16]}"
            )
        else:
            message = "signature does not match: manifest.json or the signature was altered"
        out.problems.append(Problem(SIGNATURE, message))


@dataclass(frozen=True)
class SignerIdentity:
    """Who must have signed the manifest keylessly (``--identity``/``--issuer``)."""

    issuer: str
    identity: str = ""
    identity_regexp: str = ""
    trusted_root: str | None = None


def _check_keyless(
    files: Mapping[str, bytes], signer: SignerIdentity | None, out: Verification
) -> None:
    if signer is None:
        if SIGSTORE_BUNDLE in files:
            out.signature += "; Sigstore bundle present, not checked (pass --identity/--issuer)"
        return
    if SIGSTORE_BUNDLE not in files:
        out.problems.append(Problem(SIGSTORE_BUNDLE, "missing, but --identity was given"))
        return
    if MANIFEST not in files:
        return
    from scanner.evidence import keyless

    who, reason = keyless.verify(
        files[SIGSTORE_BUNDLE],
        sha256(files[MANIFEST]),
        issuer=signer.issuer,
        identity=signer.identity,
        identity_regexp=signer.identity_regexp,
        trusted_root=signer.trusted_root,
    )
    if reason:
        out.signature_failed = True
        out.problems.append(Problem(SIGSTORE_BUNDLE, f"keyless signature invalid: {reason}"))
    else:
        out.signature += f"; Sigstore: valid, signed by {who}"


def verify_files(
    files: Mapping[str, bytes],
    key: signing.PublicKey | None = None,
    signer: SignerIdentity | None = None,
    tsa_roots: list[Any] | None = None,
) -> Verification:
    """Check a bundle's files (name -> bytes); ``tsa_roots`` verify its RFC 3161 token."""
    out = Verification()
    manifest = _manifest(files, out)
    if manifest is not None:
        _check_files(files, manifest, out)
    _check_signature(files, key, out)
    _check_keyless(files, signer, out)
    _check_time(files, manifest, tsa_roots, out)
    return out


def _check_time(
    files: Mapping[str, bytes],
    manifest: Mapping[str, Any] | None,
    roots: list[Any] | None,
    out: Verification,
) -> None:
    from scanner.evidence.timestamp import check_time

    out.timestamp, problems = check_time(files, manifest, roots)
    out.problems.extend(Problem(name, message) for name, message in problems)


def verify_bundle(
    path: Path,
    key_path: Path | None = None,
    signer: SignerIdentity | None = None,
    tsa_ca: Path | None = None,
) -> Verification:
    """Read a bundle folder or zip and verify it; ScannerError if it cannot be read."""
    key = signing.load_public_key(key_path) if key_path is not None else None
    roots = None
    if tsa_ca is not None:
        from scanner.evidence.timestamp import load_certificates

        roots = load_certificates(tsa_ca)
    corrupt: dict[str, str] = {}
    outcome = verify_files(archive.read(path, corrupt), key, signer, roots)
    for name, reason in sorted(corrupt.items()):
        outcome.problems.insert(0, Problem(name, f"corrupt zip entry: {reason}"))
    return outcome
