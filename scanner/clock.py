"""The one clock every age judgment reads, so runs are reproducible and tests deterministic.

``SOURCE_DATE_EPOCH`` (seconds since the epoch), when set, is "now" for report timestamps,
image vulnerability ages and backup/restore ages alike. Waiver expiry is the exception
(:func:`today`): it never follows ``SOURCE_DATE_EPOCH``.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from scanner.errors import ConfigError

#: Environment variable that sets "today" (YYYY-MM-DD) for tests; SOURCE_DATE_EPOCH never does.
TODAY_ENV = "LEDGERGATE_TODAY"


def now() -> datetime:
    """Current UTC time, or ``SOURCE_DATE_EPOCH`` when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with seconds, as Kubernetes writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: object) -> datetime | None:
    """A Kubernetes timestamp (``2026-11-30T01:12:00Z``, offsets allowed) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def today() -> date:
    """Today (UTC) for waiver expiry: the real clock, or ``LEDGERGATE_TODAY`` (YYYY-MM-DD).

    Never ``SOURCE_DATE_EPOCH``: it makes outputs reproducible, and a pull request's
    commit date can set it, which would keep an expired waiver alive.
    """
    given = os.environ.get(TODAY_ENV)
    if given:
        try:
            return date.fromisoformat(given)
        except ValueError as exc:
            raise ConfigError(f"{TODAY_ENV}={given!r} is not a YYYY-MM-DD date") from exc
    return datetime.now(UTC).date()
