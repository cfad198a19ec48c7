"""Backup retention as facts: each tool's retention string read once, outside CEL.

``facts.backupRetention`` holds ``{text, state, days}``; ``state`` is ``ok`` (``days``
computed), ``unset`` or ``invalid`` (``text`` is not a form the tool accepts), and
``missing`` (the retention lives in an object the scan does not hold):

- Velero ``Schedule`` (``spec.template.ttl``) and one-off ``Backup`` (``spec.ttl``): a Go
  duration (``2160h0m0s``); ``text`` stays a duration CEL's ``duration()`` reads;
- CloudNativePG ``Cluster``: ``spec.backup.retentionPolicy`` (``30d``, ``4w``, ``3m`` =
  90 days), or, for a cluster that backs up through the Barman Cloud plugin
  (``spec.plugins[].parameters.barmanObjectName``), the referenced ``ObjectStore``'s
  ``spec.retentionPolicy``; ``via`` names where it was read;
- Barman Cloud plugin ``ObjectStore``: its own ``spec.retentionPolicy``;
- k8up ``Schedule``: a count-based keep policy (``spec.prune.retention``), whose oldest
  restore point is the longest of count x period (``keepDaily: 30`` is 30 days,
  ``keepWeekly: 8`` 56 days; ``keepLast`` counts backups, so it is count x the backup
  schedule's longest interval).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.analyzers.cron import CronError, max_interval_hours
from scanner.inventory import Inventory
from scanner.model import Resource

VELERO = "velero.io"
CNPG = "postgresql.cnpg.io"
BARMAN_CLOUD = "barmancloud.cnpg.io"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
K8UP = "k8up.io"
#: k8up's API group before 1.0 (``backup.appuio.ch/v1alpha1``), same Schedule schema.
K8UP_LEGACY = "backup.appuio.ch"
#: A Go duration as Velero parses it.
GO_DURATION = re.compile(r"^([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+$")
_GO_PART = re.compile(r"([0-9]+(?:[.][0-9]+)?)(h|ms|us|ns|m|s)")
_GO_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: Barman's retention policy (``RECOVERY WINDOW OF 30 DAYS``), as CloudNativePG writes it.
BARMAN_POLICY = re.compile(r"^([1-9][0-9]*)([dwm])$")
_BARMAN_DAYS = {"d": 1, "w": 7, "m": 30}
#: k8up / restic keep policies and the days one kept snapshot of each stands for.
KEEP_PERIOD_DAYS = {
    "keepHourly": 1 / 24,
    "keepDaily": 1.0,
    "keepWeekly": 7.0,
    "keepMonthly": 30.0,
    "keepYearly": 365.0,
}


def _fact(text: str, state: str, days: float | None = None, via: str = "") -> dict[str, Any]:
    return {"text": text, "state": state, "days": days if days is not None else 0.0, "via": via}


def go_duration_days(text: str) -> float:
    """Days in a Go duration that matches :data:`GO_DURATION`."""
    seconds = sum(float(n) * _GO_SECONDS[unit] for n, unit in _GO_PART.findall(text))
    return seconds / 86400


def velero(resource: Resource) -> dict[str, Any]:
    """The ttl of a Schedule's backups or of a one-off Backup."""
    spec = _spec(resource.body)
    holder = _map(spec.get("template")) if resource.ref.kind == "Schedule" else spec
    raw = holder.get("ttl")
    text = "" if raw is None else str(raw)
    if text == "":
        return _fact("", "unset")
    if not GO_DURATION.match(text):
        return _fact(text, "invalid")
    return _fact(text, "ok", go_duration_days(text))


def barman_policy(text: str, via: str = "") -> dict[str, Any]:
    """A CloudNativePG / Barman Cloud ``retentionPolicy`` (``30d``, ``4w``, ``3m``)."""
    if text == "":
        return _fact("", "unset", via=via)
    match = BARMAN_POLICY.match(text)
    if not match:
        return _fact(text, "invalid", via=via)
    return _fact(text, "ok", float(int(match.group(1)) * _BARMAN_DAYS[match.group(2)]), via)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return _map(body.get("spec"))


def _plugin_store(spec: Mapping[str, Any]) -> str:
    for plugin in spec.get("plugins") or ():
        if isinstance(plugin, Mapping) and plugin.get("name") == BARMAN_PLUGIN:
            params = plugin.get("parameters")
            if isinstance(params, Mapping) and params.get("barmanObjectName"):
                return str(params["barmanObjectName"])
    return ""


def cnpg_cluster(resource: Resource, stores: Mapping[tuple[str, str], Resource]) -> dict[str, Any]:
    """A Cluster's retention: its own backup section, else its Barman Cloud ObjectStore's."""
    spec = _spec(resource.body)
    backup = spec.get("backup")
    store = _plugin_store(spec)
    if isinstance(backup, Mapping) or not store:
        raw = backup.get("retentionPolicy") if isinstance(backup, Mapping) else None
        fact = barman_policy("" if raw is None else str(raw), "spec.backup")
        fact["backup"] = isinstance(backup, Mapping)
        return fact
    target = stores.get((resource.ref.namespace, store))
    via = f"ObjectStore {resource.ref.namespace}/{store}"
    if target is None:
        fact = _fact("", "missing", via=via)
    else:
        raw = _spec(target.body).get("retentionPolicy")
        fact = barman_policy("" if raw is None else str(raw), via)
    fact["backup"] = True
    return fact


def k8up_schedule(resource: Resource) -> dict[str, Any]:
    """The oldest restore point a k8up keep policy holds: the longest count x period."""
    spec = _spec(resource.body)
    prune = spec.get("prune")
    retention = prune.get("retention") if isinstance(prune, Mapping) else None
    if not isinstance(retention, Mapping) or not retention:
        return _fact("", "unset")
    spans: list[tuple[float, str]] = []
    for key, period in KEEP_PERIOD_DAYS.items():
        count = retention.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            spans.append((count * period, f"{key}: {count}"))
    last = retention.get("keepLast")
    backup = spec.get("backup")
    cron = backup.get("schedule") if isinstance(backup, Mapping) else None
    if isinstance(last, int) and not isinstance(last, bool) and last > 0:
        try:
            hours = max_interval_hours(str(cron), seconds_field=False) if cron else None
        except CronError:
            hours = None
        if hours is not None:
            spans.append((last * hours / 24, f"keepLast: {last} x {hours:g}h"))
    if not spans:
        return _fact("", "unset")
    days, text = max(spans)
    return _fact(text, "ok", round(days, 4))


class RetentionAnalyzer(Analyzer):
    """``backupRetention`` on Velero, CloudNativePG, Barman Cloud and k8up objects."""

    name = "retention"
    provides = ("backupRetention",)
    #: Context beyond the judged object itself: the ObjectStore a plugin-backed Cluster names.
    reads = ((BARMAN_CLOUD, "ObjectStore"),)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One fact per object that states (or should state) a retention."""
        stores = {
            (r.ref.namespace, r.ref.name): r
            for i in inventory.of_kind("ObjectStore", groups=(BARMAN_CLOUD,))
            for r in (inventory.resources[i],)
        }
        result = AnalyzerResult()
        for index, resource in enumerate(inventory.resources):
            pair = (resource.ref.group, resource.ref.kind)
            if pair in ((VELERO, "Schedule"), (VELERO, "Backup")):
                fact = velero(resource)
            elif pair == (CNPG, "Cluster"):
                fact = cnpg_cluster(resource, stores)
            elif pair == (BARMAN_CLOUD, "ObjectStore"):
                raw = _spec(resource.body).get("retentionPolicy")
                fact = barman_policy("" if raw is None else str(raw), "spec.retentionPolicy")
            elif pair in ((K8UP, "Schedule"), (K8UP_LEGACY, "Schedule")):
                fact = k8up_schedule(resource)
            else:
                continue
            result.facts[index] = {"backupRetention": fact}
        return result
