"""The manifest entries that make a bundle auditable over time: time, identity, series, retention.

Kept apart from :mod:`scanner.evidence.manifest` (what ran, file hashes) so each can
change alone; :func:`manifest_extras` is merged into every manifest a bundle writes.
"""

from __future__ import annotations

from typing import Any

from scanner.evidence.identity import identity_doc
from scanner.evidence.series import PreviousBundle, retain_until, series_entry
from scanner.evidence.settings import AuditSettings
from scanner.evidence.timestamp import time_claim
from scanner.findings import ScanResult


def manifest_extras(
    result: ScanResult, audit: AuditSettings, previous: PreviousBundle | None
) -> dict[str, Any]:
    """``time``, ``identity``, ``series`` and ``retainUntil`` for one bundle."""
    return {
        "time": time_claim(audit.tsa),
        "identity": identity_doc(audit.authenticated),
        "series": series_entry(result.target, previous),
        "retainUntil": retain_until(result.finished, audit.retention_days),
    }
