"""Commit signatures judged against a trust set, with ``git verify-commit`` semantics.

The trust set is exactly what the auditor configured: OpenPGP public keys (imported into
a throwaway ``GNUPGHOME`` that holds nothing else) and an SSH allowed-signers file. git
itself verifies; a key outside the set does not verify, an unsigned commit is unsigned.
Nothing configured makes every verdict ``error``: no trust set, no trusted change.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from scanner.changes.gitcmd import Git, GitError, run_tool

GPG_TIMEOUT_S = 60
#: %G? letters (git pretty formats) and what they mean to an auditor.
_STATUS_TEXT = {
    "G": "good signature",
    "U": "good signature, key of unknown validity",
    "B": "bad signature (the commit was altered after signing)",
    "X": "good signature that has expired",
    "Y": "good signature by an expired key",
    "R": "good signature by a revoked key",
    "E": "signature cannot be checked (key not in the trust set)",
    "N": "no signature",
}


#: What ``git verify-commit`` answers for a ``%G?`` letter under this verifier's settings
#: (only the trusted keys present, ``gpg.minTrustLevel=undefined``): a key in the keyring
#: is trusted whatever its OpenPGP validity, an SSH key must be in the allowed-signers file
#: (``U`` means it is not). tests/test_changes.py checks this table against git itself.
_KNOWN_OUTCOME = {
    ("G", "openpgp"): True,
    ("G", "ssh"): True,
    ("U", "openpgp"): True,
    ("U", "ssh"): False,
    ("E", "openpgp"): False,
    ("E", "ssh"): False,
    ("B", "openpgp"): False,
    ("B", "ssh"): False,
}


@dataclass(frozen=True)
class TrustSet:
    """OpenPGP keyring files and an SSH allowed-signers file (paths from trusted input)."""

    keyrings: tuple[Path, ...] = ()
    allowed_signers: Path | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is trusted (every signature verdict is then ``error``)."""
        return not self.keyrings and self.allowed_signers is None


@dataclass(frozen=True)
class Verdict:
    """One commit's signature: ``trusted``, ``untrusted``, ``unsigned`` or ``error``."""

    status: str
    format: str = ""
    key: str = ""
    signer: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        """The ``signature`` field of a Change."""
        return {
            "status": self.status,
            "format": self.format,
            "key": self.key,
            "signer": self.signer,
            "reason": self.reason,
        }


class Verifier:
    """Verifies commits of one repository against one trust set (use :func:`verifier`)."""

    def __init__(self, git: Git, trust: TrustSet, gnupg_home: Path, signers: Path) -> None:
        self.git = git
        self.trust = trust
        self.env = {"GNUPGHOME": str(gnupg_home)}
        self.config = (
            f"gpg.ssh.allowedSignersFile={signers}",
            "gpg.minTrustLevel=undefined",
        )

    def verify(self, commit: str, letter: str, key: str, signer: str) -> Verdict:
        """Judge one commit given its ``%G?``, ``%GK`` and ``%GS`` from the log."""
        fmt = _format_of(letter, key)
        if letter == "N":
            return Verdict("unsigned", reason=_STATUS_TEXT["N"])
        if self.trust.empty:
            return Verdict(
                "error",
                fmt,
                key,
                signer,
                "no trust set configured (--keyring / --allowed-signers): "
                "a signature cannot be judged",
            )
        text = _STATUS_TEXT.get(letter, f"git reported {letter!r}")
        known = _KNOWN_OUTCOME.get((letter, fmt))
        if known is None:  # rare letters (expired, revoked): ask git itself
            done = self.git.run(
                "verify-commit", "--raw", commit, config=self.config, env=self.env, check=False
            )
            known = done.returncode == 0 and letter in ("G", "U")
        if letter == "U" and fmt == "ssh":
            text = "good signature by a key that is not in the allowed-signers file"
        return Verdict("trusted" if known else "untrusted", fmt, key, signer, text)

    def log_config(self) -> tuple[tuple[str, ...], dict[str, str]]:
        """The ``-c`` settings and environment under which ``%G?`` means this trust set."""
        return self.config, self.env


def _format_of(letter: str, key: str) -> str:
    """git prints SSH key fingerprints as ``SHA256:...`` and OpenPGP key ids in hex."""
    if letter == "N":
        return ""
    if key.startswith("SHA256:"):
        return "ssh"
    return "openpgp"


@contextmanager
def verifier(git: Git, trust: TrustSet) -> Iterator[Verifier]:
    """A verifier with a private GNUPGHOME holding only the trusted keys; removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="lg-gpg-"))
    home.chmod(0o700)
    try:
        for keyring in trust.keyrings:
            _import_keys(home, keyring)
        signers = trust.allowed_signers
        if signers is None:
            signers = home / "no-allowed-signers"
            signers.write_text("")
        elif not signers.is_file():
            raise GitError(f"allowed-signers file {signers} does not exist")
        yield Verifier(git, trust, home, signers.resolve())
    finally:
        _stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


def _import_keys(home: Path, keyring: Path) -> None:
    if not keyring.is_file():
        raise GitError(f"OpenPGP keyring {keyring} does not exist")
    done = _gpg(home, ["--import", str(keyring)])
    if done.returncode != 0:
        raise GitError(f"OpenPGP keyring {keyring} does not import (not a public key file?)")


def _gpg(home: Path, args: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    return run_tool(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet", *args],
        timeout_s=GPG_TIMEOUT_S,
        why="to verify OpenPGP signatures",
    )


def _stop_agent(home: Path) -> None:
    with suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"],
            capture_output=True,
            timeout=10,
            check=False,
        )
