"""Who is trusted to sign images: ``params.imageTrust`` (keys, identities, trusted root)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError
from scanner.images.cosign import TrustedKey, load_key
from scanner.signatures.identity import Identity


@dataclass(frozen=True)
class TrustPolicy:
    """Trusted keys and identities; empty means nothing can be trusted (fail closed)."""

    keys: tuple[TrustedKey, ...] = ()
    identities: tuple[Identity, ...] = ()
    trusted_root: str | None = None

    @property
    def empty(self) -> bool:
        """True when no key and no identity is configured."""
        return not self.keys and not self.identities


def _resolve(path: str, base: Path | None) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or base is None else base / p)


def policy_from(params: Mapping[str, Any], base: Path | None = None) -> TrustPolicy:
    """Build the trust policy; raises :class:`ConfigError` for unreadable keys or bad entries."""
    trust = params.get("imageTrust") or {}
    if not isinstance(trust, Mapping):
        raise ConfigError("params.imageTrust must be a mapping")
    try:
        keys = tuple(load_key(_resolve(str(p), base)) for p in trust.get("keys") or ())
    except Exception as exc:  # KeyError_ and friends: a bad key is a config error
        raise ConfigError(f"params.imageTrust.keys: {exc}") from exc
    identities: list[Identity] = []
    for i, entry in enumerate(trust.get("identities") or ()):
        if not isinstance(entry, Mapping) or not entry.get("issuer"):
            raise ConfigError(f"params.imageTrust.identities[{i}]: needs an issuer")
        subject, regexp = str(entry.get("subject") or ""), str(entry.get("subjectRegExp") or "")
        if bool(subject) == bool(regexp):
            raise ConfigError(
                f"params.imageTrust.identities[{i}]: give exactly one of subject, subjectRegExp"
            )
        if regexp:
            try:
                re.compile(regexp)
            except re.error as exc:
                raise ConfigError(
                    f"params.imageTrust.identities[{i}].subjectRegExp: bad regexp: {exc}"
                ) from exc
        identities.append(Identity(str(entry["issuer"]), subject, regexp))
    root = trust.get("trustedRoot")
    return TrustPolicy(keys, tuple(identities), _resolve(str(root), base) if root else None)
