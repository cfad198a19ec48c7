"""Backup facts: which schedules cover each namespace, how often they run, where they write.

Coverage is a cross-resource question (a Velero Schedule in ``velero`` covers
``finance-prod``), so it is answered once here and attached as plain facts:

- ``backupCoverage`` on every Namespace (declared, or synthesised for a namespace
  that resources use without declaring it, located at the first such resource);
- ``backupSchedule`` on Velero Schedules and CloudNativePG ScheduledBackups: the
  longest gap between runs in hours, or why the cron form cannot be judged;
- ``recoveryPoint`` on every Namespace: the recovery point of each protected scope from
  all schedules covering it (``scanner.analyzers.recovery``);
- ``backupLocation`` on Velero BackupStorageLocations: which schedules write to it
  and which other read-write locations share its bucket and prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.analyzers.cron import CronError, max_interval_hours
from scanner.analyzers.recovery import WHOLE, Cover, recovery_point, selector_scope
from scanner.environment import is_production as _is_production
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef

VELERO = ("velero.io",)
CNPG = ("postgresql.cnpg.io",)
#: k8up (and its pre-1.0 group): a Schedule backs up the PVCs of its own namespace.
K8UP = ("k8up.io", "backup.appuio.ch")
#: Marks a Namespace the analyzer made up because resources use it without declaring it.
SYNTHESISED_ANNOTATION = "ledgergate.io/synthesised"


def _spec(resource: Resource) -> Mapping[str, Any]:
    spec = resource.body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _key(resource: Resource) -> str:
    return f"{resource.ref.namespace}/{resource.ref.name}"


@dataclass(frozen=True)
class _Schedule:
    """The parts of a Velero Schedule that decide what it backs up and where."""

    key: str
    included: tuple[str, ...]
    excluded: tuple[str, ...]
    location: str
    paused: bool
    scope: str = WHOLE

    @classmethod
    def of(cls, resource: Resource) -> _Schedule:
        spec = _spec(resource)
        template = spec.get("template")
        readable = isinstance(template, Mapping)
        template = template if isinstance(template, Mapping) else {}
        # An unreadable template covers nothing (fail closed), an empty include list everything.
        default_include = ["*"] if readable else []
        return cls(
            key=_key(resource),
            included=tuple(_strings(template.get("includedNamespaces")) or default_include),
            excluded=tuple(_strings(template.get("excludedNamespaces"))),
            location=str(template.get("storageLocation") or ""),
            paused=spec.get("paused") is True,
            scope=selector_scope(template),
        )

    def covers(self, namespace: str) -> bool:
        """Velero semantics: empty includes mean every namespace; excludes win."""
        if self.paused or any(fnmatchcase(namespace, p) for p in self.excluded):
            return False
        return any(fnmatchcase(namespace, p) for p in self.included)

    def production(self, is_prod: Callable[[str], bool], production_ns: Iterable[str]) -> bool:
        """Names a production namespace (even while paused), or covers one the scan has seen."""
        named = any(n != "*" and is_prod(n) for n in self.included)
        return named or any(self.covers(n) for n in production_ns)

    def explicit_non_production(self, is_prod: Callable[[str], bool]) -> list[str]:
        """Named (not ``*``) included namespaces that are not production."""
        return [n for n in self.included if n != "*" and not is_prod(n)]


class BackupAnalyzer(Analyzer):
    """Per-namespace backup coverage, per-schedule interval, per-location sharing."""

    name = "backup"
    provides = ("backupCoverage", "backupSchedule", "backupLocation", "recoveryPoint")
    reads = (
        ("velero.io", "Schedule"),
        ("velero.io", "BackupStorageLocation"),
        ("postgresql.cnpg.io", "Cluster"),
        ("postgresql.cnpg.io", "ScheduledBackup"),
        ("k8up.io", "Schedule"),
        ("backup.appuio.ch", "Schedule"),
    )

    def reads_for(self, fact: str) -> tuple[tuple[str, str], ...]:
        """A schedule's interval rests on itself alone; locations on schedules and locations."""
        if fact == "backupSchedule":
            return ()
        if fact == "backupLocation":
            return (("velero.io", "Schedule"), ("velero.io", "BackupStorageLocation"))
        return self.reads

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Facts for Namespaces (synthesising undeclared ones), schedules and locations."""
        result = AnalyzerResult()
        schedules = {i: _Schedule.of(inventory.resources[i]) for i in _of(inventory, "Schedule")}
        self._schedule_facts(inventory, result)
        self._coverage(inventory, params, list(schedules.values()), result)
        self._locations(inventory, params, schedules, result)
        return result

    @staticmethod
    def _schedule_facts(inventory: Inventory, result: AnalyzerResult) -> None:
        for index in (*_of(inventory, "Schedule"), *_of(inventory, "ScheduledBackup", CNPG)):
            resource = inventory.resources[index]
            cnpg = resource.ref.group in CNPG
            raw = _spec(resource).get("schedule")
            fact: dict[str, Any] = {"schedule": str(raw or "")}
            if not isinstance(raw, str) or not raw.strip():
                fact["error"] = "spec.schedule is missing or not a string: interval not judged"
            elif (
                not cnpg
                and len(raw.split()) == 6
                and not raw.strip().startswith(("@", "CRON_TZ", "TZ"))
            ):
                # Velero parses standard 5-field cron: it rejects a seconds field and the
                # schedule never runs (a failure of the control, not a rule error).
                fact["neverRuns"] = (
                    f"Velero reads 5-field cron; {raw!r} has 6 fields and never runs"
                )
            else:
                try:
                    fact["intervalHours"] = max_interval_hours(raw, seconds_field=cnpg)
                except CronError as exc:
                    fact["error"] = f"cron schedule {raw!r} cannot be judged: {exc}"
            result.facts[index] = {"backupSchedule": fact}

    def _coverage(
        self,
        inventory: Inventory,
        params: Mapping[str, Any],
        schedules: list[_Schedule],
        result: AnalyzerResult,
    ) -> None:
        declared: dict[str, list[int]] = {}
        for i in inventory.of_kind("Namespace"):
            declared.setdefault(inventory.resources[i].ref.name, []).append(i)
        databases = _by_namespace(inventory, "Cluster")
        backed_up = self._scheduled_clusters(inventory)
        first_use = _first_users(inventory)
        unread = _unread_backup_kinds(inventory)
        hours = _schedule_hours(inventory, result)
        k8up = _k8up_covers(inventory)
        k8up_backups = _k8up_backups(inventory)
        cnpg_covers = self._cnpg_covers(inventory, hours)
        for namespace in inventory.namespace_names():
            velero = sorted(s.key for s in schedules if s.covers(namespace))
            covers = [
                *(
                    _cover(f"Schedule {s.key}", s.scope, hours[s.key])
                    for s in schedules
                    if s.covers(namespace)
                ),
                *k8up.get(namespace, []),
                *cnpg_covers.get(namespace, []),
            ]
            dbs = databases.get(namespace, [])
            cnpg = sorted(backed_up.get(namespace, {}).values())
            missing = sorted(d for d in dbs if d not in backed_up.get(namespace, {}))
            files = k8up_backups.get(namespace, [])
            fact = {
                # k8up copies volumes file by file: the namespace is covered, its CloudNativePG
                # databases still need their own ScheduledBackups (a live copy is no backup).
                "covered": bool(velero) or ((bool(files) or bool(dbs)) and not missing),
                "veleroSchedules": velero,
                "k8upSchedules": files,
                "cnpgScheduledBackups": cnpg,
                "databases": sorted(dbs),
                "databasesWithoutScheduledBackup": missing,
                "declared": namespace in declared,
                "production": _production_test(inventory, params)(namespace),
            }
            point = recovery_point(covers, dbs)
            if unread:
                fact = point = {"_error": unread}
            facts = {"backupCoverage": fact, "recoveryPoint": point}
            if namespace in declared:
                # The same Namespace may be declared more than once (kustomize components).
                for i in declared[namespace]:
                    result.facts[i] = dict(facts)
            else:
                result.resources.append(_synthesised(namespace, first_use.get(namespace), facts))

    @staticmethod
    def _cnpg_covers(
        inventory: Inventory, hours: Mapping[str, dict[str, Any]]
    ) -> dict[str, list[Cover]]:
        """Namespace -> one cover per active ScheduledBackup, scoped to its database."""
        found: dict[str, list[Cover]] = {}
        for resource, name in _active_scheduled_backups(inventory):
            cover = _cover(
                f"ScheduledBackup {_key(resource)}",
                f"database {name}",
                hours.get(f"cnpg:{_key(resource)}", {}),
            )
            found.setdefault(resource.ref.namespace, []).append(cover)
        return found

    @staticmethod
    def _scheduled_clusters(inventory: Inventory) -> dict[str, dict[str, str]]:
        """Namespace -> CNPG cluster name -> the ScheduledBackup that backs it (not suspended)."""
        found: dict[str, dict[str, str]] = {}
        for resource, name in _active_scheduled_backups(inventory):
            found.setdefault(resource.ref.namespace, {})[name] = _key(resource)
        return found

    @staticmethod
    def _locations(
        inventory: Inventory,
        params: Mapping[str, Any],
        schedules: Mapping[int, _Schedule],
        result: AnalyzerResult,
    ) -> None:
        locations = list(_of(inventory, "BackupStorageLocation"))
        default = _default_location(inventory, locations)
        is_production = _production_test(inventory, params)
        production_ns = [n for n in inventory.namespace_names() if is_production(n)]
        # Each schedule and each location is judged once; locations meet only those on
        # the same bucket, so large estates stay linear.
        writers: dict[str, list[_Schedule]] = {}
        for schedule in schedules.values():
            writers.setdefault(schedule.location or default, []).append(schedule)
        is_prod = {s.key: s.production(is_production, production_ns) for s in schedules.values()}
        production_names = {name for name, ws in writers.items() if any(is_prod[s.key] for s in ws)}
        by_bucket: dict[tuple[str, str, str], list[int]] = {}
        for index in locations:
            by_bucket.setdefault(_bucket(inventory.resources[index]), []).append(index)
        for index in locations:
            resource = inventory.resources[index]
            mine = writers.get(resource.ref.name, [])
            prod = sorted(s.key for s in mine if is_prod[s.key])
            non_prod = sorted(s.key for s in mine if s.explicit_non_production(is_production))
            bucket = _bucket(resource)
            shared = sorted(
                _key(inventory.resources[other])
                for other in by_bucket[bucket]
                if other != index
                and _read_write(inventory.resources[other])
                and inventory.resources[other].ref.name not in production_names
            )
            result.facts[index] = {
                "backupLocation": {
                    "production": bool(prod),
                    "productionSchedules": prod,
                    "nonProductionSchedules": non_prod,
                    "sharedWith": shared if bucket[1] else [],
                    "readWrite": _read_write(resource),
                }
            }


def _active_scheduled_backups(inventory: Inventory) -> Iterator[tuple[Resource, str]]:
    """(ScheduledBackup, the CloudNativePG cluster it backs up) for each one not suspended."""
    for index in _of(inventory, "ScheduledBackup", CNPG):
        resource = inventory.resources[index]
        spec = _spec(resource)
        cluster = spec.get("cluster")
        name = cluster.get("name") if isinstance(cluster, Mapping) else None
        if spec.get("suspend") is not True and isinstance(name, str):
            yield resource, name


def _schedule_hours(inventory: Inventory, result: AnalyzerResult) -> dict[str, dict[str, Any]]:
    """Schedule key -> its ``backupSchedule`` fact (CloudNativePG keys prefixed ``cnpg:``)."""
    found: dict[str, dict[str, Any]] = {}
    for index in (*_of(inventory, "Schedule"), *_of(inventory, "ScheduledBackup", CNPG)):
        resource = inventory.resources[index]
        prefix = "cnpg:" if resource.ref.group in CNPG else ""
        found[prefix + _key(resource)] = result.facts[index]["backupSchedule"]
    return found


def _cover(name: str, scope: str, schedule: Mapping[str, Any]) -> Cover:
    """A Cover from a ``backupSchedule`` fact: its interval, or why it has none."""
    if "intervalHours" in schedule:
        return Cover(name, scope, float(schedule["intervalHours"]))
    if "neverRuns" in schedule:
        return Cover(name, scope, None, "never runs", runs=False)
    return Cover(name, scope, None, str(schedule.get("error") or "interval not judged"))


def _k8up_covers(inventory: Inventory) -> dict[str, list[Cover]]:
    """Namespace -> its k8up Schedules' backup intervals (k8up backs up its own namespace)."""
    found: dict[str, list[Cover]] = {}
    for index in _of(inventory, "Schedule", K8UP):
        resource = inventory.resources[index]
        backup = _spec(resource).get("backup")
        raw = backup.get("schedule") if isinstance(backup, Mapping) else None
        fact: dict[str, Any] = {"error": "spec.backup.schedule is missing: interval not judged"}
        if isinstance(raw, str) and raw.strip():
            # k8up's "-random" descriptors run once per period at a fixed, hashed time.
            cron = raw.strip().removesuffix("-random")
            try:
                fact = {"intervalHours": max_interval_hours(cron, seconds_field=False)}
            except CronError as exc:
                fact = {"error": f"cron schedule {raw!r} cannot be judged: {exc}"}
        name = f"k8up Schedule {_key(resource)}"
        cover = replace(_cover(name, WHOLE, fact), databases=False)
        found.setdefault(resource.ref.namespace, []).append(cover)
    return found


def _k8up_backups(inventory: Inventory) -> dict[str, list[str]]:
    """Namespace -> its k8up Schedules that back up (a ``spec.backup`` with a schedule).

    A k8up Schedule backs up the PVCs of its own namespace; one with only prune or check
    jobs, or without a backup schedule, copies nothing. A one-off k8up ``Backup`` is a
    single run, not coverage, as a one-off Velero ``Backup`` is not.
    """
    found: dict[str, list[str]] = {}
    for index in _of(inventory, "Schedule", K8UP):
        resource = inventory.resources[index]
        backup = _spec(resource).get("backup")
        raw = backup.get("schedule") if isinstance(backup, Mapping) else None
        if isinstance(raw, str) and raw.strip():
            found.setdefault(resource.ref.namespace, []).append(_key(resource))
    return {namespace: sorted(keys) for namespace, keys in found.items()}


def _production_test(inventory: Inventory, params: Mapping[str, Any]) -> Callable[[str], bool]:
    """Whether a namespace is production, by name and by its Namespace object's labels."""
    labels = inventory.namespace_labels()
    return lambda namespace: _is_production(namespace, params, labels.get(namespace))


def _of(inventory: Inventory, kind: str, groups: tuple[str, ...] = VELERO) -> list[int]:
    return list(inventory.of_kind(kind, groups=groups))


def _by_namespace(inventory: Inventory, kind: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for index in _of(inventory, kind, CNPG):
        ref = inventory.resources[index].ref
        found.setdefault(ref.namespace, []).append(ref.name)
    return found


def _first_users(inventory: Inventory) -> dict[str, Resource]:
    """Namespace -> the resource that uses it first (by file and line)."""
    found: dict[str, Resource] = {}
    for res in inventory.resources:
        ns = res.ref.namespace
        known = found.get(ns)
        where = (res.origin.path, res.origin.start_line)
        if ns and (known is None or where < (known.origin.path, known.origin.start_line)):
            found[ns] = res
    return found


def _synthesised(
    namespace: str, first: Resource | None, facts: dict[str, dict[str, Any]]
) -> Resource:
    """A Namespace object for a namespace used but not declared, located where it is first used."""
    origin = first.origin if first is not None else Origin()
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": {SYNTHESISED_ANNOTATION: "true"}},
    }
    return Resource(ResourceRef("v1", "Namespace", "", namespace), body, origin, dict(facts))


def _bucket(resource: Resource) -> tuple[str, str, str]:
    """(provider, bucket, prefix) of a BackupStorageLocation."""
    spec = _spec(resource)
    storage = spec.get("objectStorage")
    storage = storage if isinstance(storage, Mapping) else {}
    prefix = str(storage.get("prefix") or "").strip("/")
    return (str(spec.get("provider") or ""), str(storage.get("bucket") or ""), prefix)


def _read_write(resource: Resource) -> bool:
    return str(_spec(resource).get("accessMode") or "ReadWrite") != "ReadOnly"


def _default_location(inventory: Inventory, locations: list[int]) -> str:
    """The location a schedule without ``storageLocation`` writes to."""
    for index in locations:
        if _spec(inventory.resources[index]).get("default") is True:
            return inventory.resources[index].ref.name
    return "default"


#: Kinds whose absence from the inventory would make a namespace look uncovered.
BACKUP_KINDS = (
    "velero.io/Schedule",
    "postgresql.cnpg.io/ScheduledBackup",
    "k8up.io/Schedule",
    "backup.appuio.ch/Schedule",
)


def _unread_backup_kinds(inventory: Inventory) -> str:
    """Why coverage cannot be judged: a backup kind the source failed to read ('' if none)."""
    for entry in inventory.coverage:
        missing = [k for k in entry.kinds if k in BACKUP_KINDS]
        if missing:
            kinds = ", ".join(missing)
            return f"backup coverage not judged: {kinds} could not be read ({entry.reason})"
    return ""
