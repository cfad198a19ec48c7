"""Operating effectiveness of backups: what the backup and restore runs a cluster recorded show.

Configuration says backups *should* run; the run history says whether they *did* and whether
a restore was ever tried. From Velero ``Backup``/``Restore``/``Schedule`` and CloudNativePG
``Backup`` objects (status included) this derives, at an injectable "now":

- ``backupRuns`` on every Namespace: the newest Velero backup that completed and includes
  the namespace, and its age (``judgedBy: cnpg`` when only CloudNativePG schedules back it up,
  so the per-database fact decides);
- ``databaseBackupRuns`` on every CloudNativePG Cluster: its newest completed Backup;
- ``backupRun`` on every Velero or CloudNativePG Backup: failed or not, inside
  ``params.backupLookbackDays``, production, and explained by a ticket annotation;
- ``restoreDrill`` on every Namespace: the newest completed Velero Restore of a backup of it
  into a non-production namespace (the restore drill) and its age in days.

These are observed state: the rules reading them run on cluster scans only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from scanner import clock
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.environment import EnvStatus, classify, is_production
from scanner.inventory import Inventory
from scanner.model import Resource

VELERO = ("velero.io",)
CNPG = ("postgresql.cnpg.io",)
#: Annotation that explains a failed backup: the ticket of the incident that dealt with it.
TICKET_ANNOTATION = "ledgergate.io/failure-ticket"
TICKET = re.compile(r"^[A-Z][A-Z0-9]+-[0-9]+$")
VELERO_FAILED = ("Failed", "PartiallyFailed", "FailedValidation")
CNPG_FAILED = ("failed",)
DEFAULT_LOOKBACK_DAYS = 7


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _status(resource: Resource) -> Mapping[str, Any]:
    return _mapping(resource.body.get("status"))


def _spec(resource: Resource) -> Mapping[str, Any]:
    return _mapping(resource.body.get("spec"))


@dataclass(frozen=True)
class _Run:
    """One Velero or CloudNativePG backup run, as its status reports it."""

    name: str
    phase: str
    finished: datetime | None
    included: tuple[str, ...]
    excluded: tuple[str, ...]

    def covers(self, namespace: str) -> bool:
        """Velero semantics: no includes (or ``*``) mean every namespace; excludes win."""
        if any(fnmatchcase(namespace, p) for p in self.excluded):
            return False
        return any(fnmatchcase(namespace, p) for p in self.included or ("*",))

    @classmethod
    def velero(cls, resource: Resource) -> _Run:
        spec, status = _spec(resource), _status(resource)
        return cls(
            name=resource.ref.name,
            phase=str(status.get("phase") or ""),
            finished=clock.parse(status.get("completionTimestamp")),
            included=_strings(spec.get("includedNamespaces")),
            excluded=_strings(spec.get("excludedNamespaces")),
        )

    @classmethod
    def schedule(cls, resource: Resource) -> _Run:
        """A Velero Schedule as the namespaces its backups include (paused: none)."""
        spec = _spec(resource)
        template = _mapping(spec.get("template"))
        included = _strings(template.get("includedNamespaces"))
        if spec.get("paused") is True or not isinstance(spec.get("template"), Mapping):
            included = ("\x00none",)  # matches no namespace: paused or unreadable
        excluded = _strings(template.get("excludedNamespaces"))
        return cls(resource.ref.name, "", None, included, excluded)


def _hours(now: datetime, then: datetime | None) -> float:
    """Age in hours (one decimal), -1 when unknown."""
    return -1.0 if then is None else round((now - then).total_seconds() / 3600, 1)


def _newest(runs: Iterable[_Run]) -> _Run | None:
    done = [(r.finished, r.name, r) for r in runs if r.finished is not None]
    return max(done, key=lambda t: (t[0], t[1]))[2] if done else None


class BackupRunsAnalyzer(Analyzer):
    """Last successful backups, unexplained failures and restore drills, at ``now``."""

    name = "backup-runs"
    provides = ("backupRuns", "databaseBackupRuns", "backupRun", "restoreDrill")
    _reads: Mapping[str, tuple[tuple[str, str], ...]] = {
        # Schedules and database clusters decide whether Velero or CloudNativePG judges it
        "backupRuns": (
            ("velero.io", "Backup"),
            ("velero.io", "Schedule"),
            ("postgresql.cnpg.io", "Cluster"),
        ),
        "databaseBackupRuns": (("postgresql.cnpg.io", "Backup"), ("postgresql.cnpg.io", "Cluster")),
        "backupRun": (("velero.io", "Backup"), ("postgresql.cnpg.io", "Backup")),
        "restoreDrill": (("velero.io", "Restore"), ("velero.io", "Backup")),
    }
    reads = tuple(sorted({pair for pairs in _reads.values() for pair in pairs}))

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now

    def reads_for(self, fact: str) -> tuple[tuple[str, str], ...]:
        """Only the kinds that fact rests on: unread Restores do not stop backup judgments."""
        return self._reads.get(fact, self.reads)

    def for_fixture(self, facts: Mapping[str, Any]) -> Analyzer:
        """A rule fixture pins "now" in its sidecar (``now: 2026-12-01T06:00:00Z``)."""
        pinned = clock.parse(facts.get("now"))
        return BackupRunsAnalyzer(pinned) if pinned else self

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Facts for Namespaces, CloudNativePG Clusters and every Backup."""
        now = self._now or clock.now()
        result = AnalyzerResult()
        velero = {i: _Run.velero(inventory.resources[i]) for i in _of(inventory, "Backup")}
        production_ns = [n for n in inventory.namespace_names() if _declared_production(n, params)]
        self._namespaces(inventory, params, now, velero, result)
        self._databases(inventory, now, result)
        lookback = float(params.get("backupLookbackDays", DEFAULT_LOOKBACK_DAYS)) * 24
        for index, run in velero.items():
            production = any(run.covers(n) for n in production_ns) or any(
                n != "*" and _declared_production(n, params) for n in run.included
            )
            result.facts[index] = {
                "backupRun": _run_fact(
                    inventory.resources[index], run, VELERO_FAILED, now, lookback, production
                )
            }
        for index in _of(inventory, "Backup", CNPG):
            resource = inventory.resources[index]
            run = _cnpg_run(resource)
            production = _declared_production(resource.ref.namespace, params)
            result.facts[index] = {
                "backupRun": _run_fact(resource, run, CNPG_FAILED, now, lookback, production)
            }
        return result

    def _namespaces(
        self,
        inventory: Inventory,
        params: Mapping[str, Any],
        now: datetime,
        velero: Mapping[int, _Run],
        result: AnalyzerResult,
    ) -> None:
        completed = [r for r in velero.values() if r.phase == "Completed"]
        by_name = {inventory.resources[i].ref.name: r for i, r in velero.items()}
        restores = [_Restore.of(inventory.resources[i], by_name) for i in _of(inventory, "Restore")]
        schedules = [_Run.schedule(inventory.resources[i]) for i in _of(inventory, "Schedule")]
        databases = {inventory.resources[i].ref.namespace for i in _of(inventory, "Cluster", CNPG)}
        for index in inventory.of_kind("Namespace"):
            if inventory.resources[index].ref.group:
                continue
            namespace = inventory.resources[index].ref.name
            last = _newest(r for r in completed if r.covers(namespace))
            by_velero = any(s.covers(namespace) for s in schedules) or last is not None
            runs = {
                "judgedBy": "velero" if by_velero or namespace not in databases else "cnpg",
                "lastSuccessful": last.name if last else "",
                "completed": clock.iso(last.finished) if last and last.finished else "",
                "ageHours": _hours(now, last.finished if last else None),
            }
            drill = _newest_drill(restores, namespace, params)
            ages = _hours(now, drill.finished if drill else None)
            result.facts[index] = {
                "backupRuns": runs,
                "restoreDrill": {
                    "restore": drill.name if drill else "",
                    "backup": drill.backup if drill else "",
                    "target": drill.target(namespace) if drill else "",
                    "completed": clock.iso(drill.finished) if drill and drill.finished else "",
                    "ageDays": -1.0 if ages < 0 else round(ages / 24, 1),
                },
            }

    @staticmethod
    def _databases(inventory: Inventory, now: datetime, result: AnalyzerResult) -> None:
        runs: dict[tuple[str, str], list[_Run]] = {}
        for index in _of(inventory, "Backup", CNPG):
            resource = inventory.resources[index]
            cluster = str(_mapping(_spec(resource).get("cluster")).get("name") or "")
            run = _cnpg_run(resource)
            if run.phase == "completed":
                runs.setdefault((resource.ref.namespace, cluster), []).append(run)
        for index in _of(inventory, "Cluster", CNPG):
            ref = inventory.resources[index].ref
            last = _newest(runs.get((ref.namespace, ref.name), ()))
            result.facts[index] = {
                "databaseBackupRuns": {
                    "lastSuccessful": last.name if last else "",
                    "completed": clock.iso(last.finished) if last and last.finished else "",
                    "ageHours": _hours(now, last.finished if last else None),
                }
            }


def _cnpg_run(resource: Resource) -> _Run:
    status = _status(resource)
    finished = clock.parse(status.get("stoppedAt")) or clock.parse(status.get("completedAt"))
    return _Run(resource.ref.name, str(status.get("phase") or ""), finished, (), ())


def _run_fact(
    resource: Resource,
    run: _Run,
    failed_phases: tuple[str, ...],
    now: datetime,
    lookback_hours: float,
    production: bool,
) -> dict[str, Any]:
    """One backup run: did it fail recently in production, and does a ticket explain it?"""
    meta = _mapping(resource.body.get("metadata"))
    status = _status(resource)
    when = (
        run.finished
        or clock.parse(status.get("startTimestamp"))
        or clock.parse(status.get("startedAt"))
        or clock.parse(meta.get("creationTimestamp"))
    )
    age = _hours(now, when)
    ticket = str(_mapping(meta.get("annotations")).get(TICKET_ANNOTATION) or "").strip()
    failed = run.phase in failed_phases
    in_lookback = 0 <= age <= lookback_hours if when else True  # unknown time: judge it
    explained = bool(TICKET.match(ticket))
    return {
        "phase": run.phase,
        "failed": failed,
        "ageHours": age,
        "inLookback": in_lookback,
        "production": production,
        "ticket": ticket,
        "explained": explained,
        "needsExplanation": failed and in_lookback and production,
        "message": str(status.get("failureReason") or status.get("error") or ""),
    }


@dataclass(frozen=True)
class _Restore:
    """A Velero Restore: which namespaces of which backup it restored, and where to."""

    name: str
    backup: str
    phase: str
    finished: datetime | None
    restored: _Run | None
    included: tuple[str, ...]
    excluded: tuple[str, ...]
    mapping: Mapping[str, str]

    @classmethod
    def of(cls, resource: Resource, backups: Mapping[str, _Run]) -> _Restore:
        spec, status = _spec(resource), _status(resource)
        backup = str(spec.get("backupName") or "")
        return cls(
            name=resource.ref.name,
            backup=backup,
            phase=str(status.get("phase") or ""),
            finished=clock.parse(status.get("completionTimestamp")),
            restored=backups.get(backup),
            included=_strings(spec.get("includedNamespaces")),
            excluded=_strings(spec.get("excludedNamespaces")),
            mapping={str(k): str(v) for k, v in _mapping(spec.get("namespaceMapping")).items()},
        )

    def restores(self, namespace: str) -> bool:
        """The namespace was in the backup and selected by the restore.

        Without the Backup object (expired by its TTL), only a namespace the restore names
        explicitly counts: the backup's contents are unknown.
        """
        if self.phase != "Completed" or any(fnmatchcase(namespace, p) for p in self.excluded):
            return False
        if self.restored is None:
            return namespace in self.included or namespace in self.mapping
        if not self.restored.covers(namespace):
            return False
        return any(fnmatchcase(namespace, p) for p in self.included or ("*",))

    def target(self, namespace: str) -> str:
        """Where the namespace's objects were restored to."""
        return self.mapping.get(namespace, namespace)


def _newest_drill(
    restores: Iterable[_Restore], namespace: str, params: Mapping[str, Any]
) -> _Restore | None:
    """The newest completed restore of ``namespace`` into a non-production namespace."""
    drills = [
        (r.finished, r.name, r)
        for r in restores
        if r.finished is not None
        and r.restores(namespace)
        and not is_production(r.target(namespace), params)
    ]
    return max(drills, key=lambda t: (t[0], t[1]))[2] if drills else None


def _of(inventory: Inventory, kind: str, groups: tuple[str, ...] = VELERO) -> list[int]:
    return list(inventory.of_kind(kind, groups=groups))


def _declared_production(namespace: str, params: Mapping[str, Any]) -> bool:
    """Namespaces classified production by name or label: their backups are judged (as for
    LG-BAK-002, platform namespaces that are merely unclassified are not required to have
    backups). A restore drill's target, by contrast, must be positively non-production."""
    return classify(namespace, params).status is EnvStatus.PRODUCTION
