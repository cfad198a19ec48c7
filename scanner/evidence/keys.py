"""Resolve ``--sign-key``: a PEM file (encrypted PKCS#8 allowed) or a PKCS#11 URI (an HSM).

A key file's passphrase comes from ``LEDGERGATE_SIGN_KEY_PASSPHRASE`` or from the file
named by ``LEDGERGATE_SIGN_KEY_PASSPHRASE_FILE`` (e.g. a mounted Secret), never from a
flag value, which would show in process lists and shell history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from scanner.errors import ConfigError
from scanner.evidence import signing
from scanner.evidence.pkcs11key import SCHEME

PASSPHRASE_ENV = "LEDGERGATE_SIGN_KEY_PASSPHRASE"
PASSPHRASE_FILE_ENV = "LEDGERGATE_SIGN_KEY_PASSPHRASE_FILE"


def passphrase(env: Mapping[str, str] | None = None) -> bytes | None:
    """The key file's passphrase from the environment, or None."""
    env = os.environ if env is None else env
    if env.get(PASSPHRASE_FILE_ENV):
        path = Path(env[PASSPHRASE_FILE_ENV])
        try:
            return path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise ConfigError(f"{PASSPHRASE_FILE_ENV}={path}: {exc.strerror}") from exc
    value = env.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def is_pkcs11(spec: str | Path) -> bool:
    """Whether ``--sign-key`` names a token key rather than a file."""
    return str(spec).startswith(SCHEME)


def load_signer(spec: str | Path) -> signing.Signer:
    """The signing key ``spec`` names; ConfigError when it cannot be used."""
    if is_pkcs11(spec):
        from scanner.evidence.pkcs11key import Pkcs11Key

        return Pkcs11Key(str(spec))
    return signing.load_private_key(Path(spec), passphrase())
