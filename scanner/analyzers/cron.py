"""The longest gap between two runs of a backup cron schedule, or why it cannot be judged.

Velero schedules use five-field cron (or ``@every <duration>`` and descriptors such as
``@daily``); CloudNativePG ScheduledBackups use six fields with seconds first. The
gap is found by walking a fixed four-year calendar (leap day included), so a form
that fires on the 31st or on 29 February is judged by its real worst case.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable

from scanner.errors import AnalyzerError

#: Window walked to find the longest gap: four years starting on a fixed date (deterministic).
_START = dt.date(2024, 1, 1)
_DAYS = 4 * 365 + 1

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_WEEKDAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


class CronError(AnalyzerError, ValueError):
    """A schedule this module cannot judge; the message says which part and why."""


def _value(token: str, names: dict[str, int], low: int, high: int, what: str) -> int:
    upper = token.upper()
    if upper in names:
        return names[upper]
    if not token.isdigit():
        raise CronError(f"{what} field: {token!r} is not a number or a known name")
    number = int(token)
    if what == "day-of-week" and number == 7:
        return 0
    if not low <= number <= high:
        raise CronError(f"{what} field: {number} is outside {low}-{high}")
    return number


def _field(text: str, low: int, high: int, what: str, names: dict[str, int]) -> set[int]:
    """Values of one field: ``*``, ``?``, ``N``, ``A-B``, ``*/S``, ``A-B/S``, ``A/S`` and lists."""
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{what} field: step {step_text!r} is not a positive number")
            step = int(step_text)
        if base in {"*", "?"}:
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _value(first, names, low, high, what)
            end = _value(last, names, low, high, what)
            if end < start:
                raise CronError(f"{what} field: range {base!r} wraps around")
        else:
            start = _value(base, names, low, high, what)
            end = high if step_text else start
        found.update(range(start, end + 1, step))
    return found


def _every_hours(duration: str) -> float:
    match = _DURATION.match(duration.strip())
    if not duration.strip() or match is None:
        raise CronError(f"@every {duration!r}: not a duration like 6h or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours + minutes / 60 + seconds / 3600
    if total <= 0:
        raise CronError(f"@every {duration!r}: the interval must be positive")
    return total


@functools.cache  # schedules repeat across an estate; errors are not cached
def max_interval_hours(schedule: str, *, seconds_field: bool = False) -> float:
    """Longest gap in hours between two runs; raises :class:`CronError` when not judgeable.

    ``seconds_field`` is for CloudNativePG, whose cron has six fields, seconds first (five
    fields are read as standard cron there too).
    """
    text = schedule.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        text = text.split(None, 1)[1] if " " in text else ""
    if text.startswith("@every"):
        return _every_hours(text[len("@every") :])
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise CronError(f"unknown descriptor {text!r}")
        text = ("0 " if seconds_field else "") + _DESCRIPTORS[text]
    fields = text.split()
    if seconds_field and len(fields) == 5:
        # CloudNativePG (robfig/cron with seconds) also accepts the standard 5-field form.
        seconds_field = False
    expected = 6 if seconds_field else 5
    if len(fields) != expected:
        raise CronError(f"expected {expected} fields, got {len(fields)} in {schedule!r}")
    if seconds_field:
        _field(fields[0], 0, 59, "second", {})
        fields = fields[1:]
    minutes = _field(fields[0], 0, 59, "minute", {})
    hours = _field(fields[1], 0, 23, "hour", {})
    days = _field(fields[2], 1, 31, "day-of-month", {})
    months = _field(fields[3], 1, 12, "month", _MONTHS)
    weekdays = _field(fields[4], 0, 6, "day-of-week", _WEEKDAYS)
    dom_any = fields[2] in {"*", "?"}
    dow_any = fields[4] in {"*", "?"}
    return _walk(
        sorted(h * 60 + m for h in hours for m in minutes),
        lambda d: _runs_on(d, days, months, weekdays, dom_any, dow_any),
        schedule,
    )


def _runs_on(
    day: dt.date, days: set[int], months: set[int], weekdays: set[int], dom_any: bool, dow_any: bool
) -> bool:
    """Cron day matching: when both day fields are restricted, either may match."""
    if day.month not in months:
        return False
    dom_ok = day.day in days
    dow_ok = (day.isoweekday() % 7) in weekdays
    if dom_any or dow_any:
        return dom_ok and dow_ok
    return dom_ok or dow_ok


def _walk(times: list[int], runs_on: Callable[[dt.date], bool], schedule: str) -> float:
    """Largest gap (hours) between consecutive runs inside the window."""
    within = max((b - a for a, b in itertools.pairwise(times)), default=0)
    run_days = [i for i in range(_DAYS) if runs_on(_START + dt.timedelta(days=i))]
    if not run_days:
        raise CronError(f"{schedule!r} never fires")
    day_minutes = 24 * 60
    if len(run_days) == 1:
        return _DAYS * 24.0  # fires once in four years: at least that long
    gap = within
    for prev, nxt in itertools.pairwise(run_days):
        gap = max(gap, (nxt - prev) * day_minutes + times[0] - times[-1])
    return gap / 60
