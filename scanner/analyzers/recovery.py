"""The recovery point of a namespace, judged per protected scope from every schedule covering it.

A scope is what one restore brings back: the whole namespace, the objects a Velero label
selector picks, or one CloudNativePG database. Its recovery point objective is the
interval of the most frequent active schedule that covers it, so a weekly off-site copy
beside a daily backup does not lengthen it; a schedule covering the whole namespace
(Velero without a selector, k8up) covers every narrower scope too, except that k8up's
file-level copies do not count for a database (a live data directory copied file by file
is no consistent restore point; a CSI snapshot through Velero is crash-consistent). The namespace's
recovery point is that of its worst scope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Scope name of the whole namespace.
WHOLE = "namespace"


@dataclass(frozen=True)
class Cover:
    """One active schedule covering (part of) a namespace.

    ``scope`` is WHOLE, ``selector <json>`` or ``database <name>``; ``hours`` is the
    longest gap between its runs, None with ``why`` when that cannot be judged.
    """

    schedule: str
    scope: str
    hours: float | None
    why: str = ""
    #: False for a schedule that never fires (a 6-field Velero cron): it covers nothing.
    runs: bool = True
    #: False for file-level copies (k8up/restic) of volumes: a copy of a live PostgreSQL
    #: data directory is no consistent restore point, so it does not cover a database scope.
    databases: bool = True

    def text(self) -> str:
        """How the schedule appears in the evidence."""
        if self.hours is None:
            return f"{self.schedule} ({self.why})"
        return f"{self.schedule} ({self.hours:g}h)"


def selector_scope(template: Mapping[str, Any]) -> str:
    """The scope a Velero backup template selects: WHOLE, or its selectors in canonical form."""
    chosen = {k: template[k] for k in ("labelSelector", "orLabelSelectors") if template.get(k)}
    return f"selector {json.dumps(chosen, sort_keys=True)}" if chosen else WHOLE


def recovery_point(covers: Sequence[Cover], databases: Iterable[str]) -> dict[str, Any]:
    """The ``recoveryPoint`` fact of one namespace from the schedules covering it."""
    whole = [c for c in covers if c.scope == WHOLE]
    scopes = {c.scope for c in covers if c.scope != WHOLE}
    scopes.update(f"database {d}" for d in databases)
    judged: list[dict[str, Any]] = []
    for scope in ([WHOLE] if whole or not scopes else []) + sorted(scopes):
        wider = [c for c in whole if c.databases or not scope.startswith("database ")]
        mine = sorted({*wider, *(c for c in covers if c.scope == scope)}, key=_order)
        known = [c.hours for c in mine if c.hours is not None]
        entry: dict[str, Any] = {"scope": scope, "schedules": [c.text() for c in mine]}
        unjudged = [f"{c.schedule}: {c.why}" for c in mine if c.hours is None and c.runs]
        if known:
            entry["hours"] = min(known)
        if unjudged:
            entry["unjudged"] = unjudged
        judged.append(entry)
    fact: dict[str, Any] = {
        "applies": bool(covers),
        "scopes": judged,
        "considered": [c.text() for c in sorted(covers, key=_order)],
    }
    # The worst scope decides; a scope no running schedule judges is worst of all.
    worst = max(judged, key=lambda e: e.get("hours", float("inf")), default=None)
    if worst is not None:
        fact["worstScope"] = worst["scope"]
        fact["worstSchedules"] = worst["schedules"] or ["(none)"]
        fact["unjudged"] = worst.get("unjudged", [])
        if "hours" in worst:
            fact["hours"] = worst["hours"]
    return fact


def _order(cover: Cover) -> tuple[str, str]:
    return (cover.schedule, cover.scope)
