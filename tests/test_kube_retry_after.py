"""Retry-After as RFC 9110 defines it: delay-seconds or an HTTP-date, capped."""

from __future__ import annotations

import time
from email.utils import formatdate

from scanner.sources.kubeclient import MAX_RETRY_AFTER_S, _retry_after


def test_delay_seconds_are_honoured_and_capped() -> None:
    assert _retry_after("3") == 3.0
    assert _retry_after("3600") == MAX_RETRY_AFTER_S


def test_an_http_date_is_honoured() -> None:
    """The hand-written parser read only numbers: a date fell back to blind backoff."""
    waited = _retry_after(formatdate(time.time() + 20, usegmt=True))
    assert waited is not None
    assert 15 <= waited <= 20


def test_an_unreadable_or_absent_header_falls_back_to_backoff() -> None:
    assert _retry_after("soon") is None
    assert _retry_after(None) is None
    assert _retry_after("") is None
