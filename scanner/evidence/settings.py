"""What an auditor-grade bundle needs beyond the scan result, as one frozen value.

Parameters in force and the RCM name (for ``rules.json`` and ``controls.json``), the
time-stamping authority, retention, and the previous bundle of the series. Built from
``ledgergate.yaml`` (``evidence:``) and the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Seven years: what SOX workpaper retention asks; PCI DSS 10.5.1 asks for one year.
DEFAULT_RETENTION_DAYS = 2557


@dataclass(frozen=True)
class TsaSettings:
    """An RFC 3161 time-stamping authority."""

    url: str
    ca_bundle: Path | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class AuditSettings:
    """Auditor-facing inputs of one bundle."""

    params: Mapping[str, Any] = field(default_factory=dict)
    rcm_name: str = ""
    tsa: TsaSettings | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    #: The previous bundle of the same target (``--previous``), or None to search the folder.
    previous: Path | None = None
    #: Identity claims an authenticated source proved (e.g. the cluster's SelfSubjectReview).
    authenticated: Mapping[str, Any] = field(default_factory=dict)


def from_config(
    params: Mapping[str, Any],
    rcm_name: str,
    evidence: Mapping[str, Any],
    base: Path | None,
    previous: Path | None = None,
) -> AuditSettings:
    """Settings from a config's ``evidence:`` section (paths relative to the config file)."""
    tsa = None
    raw = evidence.get("tsa")
    if isinstance(raw, Mapping) and raw.get("url"):
        ca = raw.get("caBundle")
        tsa = TsaSettings(
            url=str(raw["url"]),
            ca_bundle=((base or Path.cwd()) / str(ca)) if ca else None,
            timeout=float(raw.get("timeoutSeconds", 30.0)),
        )
    return AuditSettings(
        params=dict(params),
        rcm_name=rcm_name,
        tsa=tsa,
        retention_days=int(evidence.get("retentionDays", DEFAULT_RETENTION_DAYS)),
        previous=previous,
    )
