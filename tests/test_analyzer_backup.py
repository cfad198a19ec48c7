"""Backup analyzer: exact coverage, interval and location facts from real manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.analyzers.backup import SYNTHESISED_ANNOTATION, BackupAnalyzer
from scanner.analyzers.cron import CronError, max_interval_hours
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.rules import load_rules
from scanner.sources.repo import RepoSource

NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata: {name: finance-prod}
---
apiVersion: v1
kind: Namespace
metadata: {name: finance-dev}
"""
SCHEDULES = """\
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: all-nightly, namespace: velero}
spec:
  schedule: "0 1 * * *"
  template:
    excludedNamespaces: [finance-dev, prod-ledger]
    storageLocation: finance-backups
---
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: dev-weekly, namespace: velero}
spec:
  paused: true
  schedule: "0 3 L * *"
  template:
    includedNamespaces: [finance-dev]
"""
DATABASES = """\
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: ledger, namespace: prod-ledger}
spec: {instances: 3}
---
apiVersion: postgresql.cnpg.io/v1
kind: ScheduledBackup
metadata: {name: ledger-6h, namespace: prod-ledger}
spec:
  schedule: "0 0 */6 * * *"
  cluster: {name: ledger}
"""
LOCATIONS = """\
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: finance-backups, namespace: velero}
spec:
  provider: aws
  objectStorage: {bucket: prod-backups, prefix: velero}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: staging-rw, namespace: velero}
spec:
  provider: aws
  default: true
  objectStorage: {bucket: prod-backups, prefix: /velero/}
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: staging-ro, namespace: velero}
spec:
  provider: aws
  accessMode: ReadOnly
  objectStorage: {bucket: prod-backups, prefix: velero}
"""


def _params(production: list[str], **extra: Any) -> dict[str, Any]:
    """Backup logic under test, not classification: unclassified namespaces (velero)
    count as non-production here; the fail-closed default has its own test."""
    return {"productionNamespaces": production, "unclassifiedIs": "non-production", **extra}


def _inventory(tmp_path: Path, files: dict[str, str]) -> Inventory:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return Inventory.from_items(RepoSource(tmp_path).collect())


def _facts(inv: Inventory, result: Any, kind: str, fact: str) -> dict[str, Any]:
    found = {}
    for index, facts in result.facts.items():
        res = inv.resources[index]
        if res.ref.kind == kind and fact in facts:
            found[res.ref.name] = facts[fact]
    return found


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Inventory, Any]:
    inv = _inventory(
        tmp_path,
        {"ns.yaml": NAMESPACES, "schedules.yaml": SCHEDULES, "db.yaml": DATABASES},
    )
    return inv, BackupAnalyzer().analyze(inv, _params(["finance-prod*", "prod-*"]))


def test_declared_namespaces_get_exact_coverage(estate: tuple[Inventory, Any]) -> None:
    inv, result = estate
    assert _facts(inv, result, "Namespace", "backupCoverage") == {
        "finance-prod": {
            "covered": True,
            "veleroSchedules": ["velero/all-nightly"],
            "k8upSchedules": [],
            "cnpgScheduledBackups": [],
            "databases": [],
            "databasesWithoutScheduledBackup": [],
            "declared": True,
            "production": True,
        },
        "finance-dev": {
            "covered": False,
            "veleroSchedules": [],
            "k8upSchedules": [],
            "cnpgScheduledBackups": [],
            "databases": [],
            "databasesWithoutScheduledBackup": [],
            "declared": True,
            "production": False,
        },
    }


def test_undeclared_namespaces_are_synthesised_where_first_used(
    estate: tuple[Inventory, Any],
) -> None:
    _, result = estate
    made = {r.ref.name: r for r in result.resources}
    assert sorted(made) == ["prod-ledger", "velero"]
    ledger = made["prod-ledger"]
    assert (ledger.origin.path, ledger.origin.start_line) == ("db.yaml", 1)
    assert ledger.body["metadata"]["annotations"] == {SYNTHESISED_ANNOTATION: "true"}
    assert ledger.facts["backupCoverage"] == {
        "covered": True,
        "veleroSchedules": [],
        "k8upSchedules": [],
        "cnpgScheduledBackups": ["prod-ledger/ledger-6h"],
        "databases": ["ledger"],
        "databasesWithoutScheduledBackup": [],
        "declared": False,
        "production": True,
    }
    assert made["velero"].facts["backupCoverage"]["veleroSchedules"] == ["velero/all-nightly"]


K8UP = """\
apiVersion: k8up.io/v1
kind: Schedule
metadata: {name: volumes, namespace: finance-prod}
spec:
  backup: {schedule: "@daily-random"}
---
apiVersion: k8up.io/v1
kind: Schedule
metadata: {name: upkeep, namespace: finance-dev}
spec:
  prune: {schedule: "0 4 * * 0", retention: {keepDaily: 14}}
---
apiVersion: backup.appuio.ch/v1alpha1
kind: Schedule
metadata: {name: legacy, namespace: prod-ledger}
spec:
  backup: {schedule: "0 2 * * *"}
---
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: ledger, namespace: prod-ledger}
spec: {instances: 3}
"""


def test_k8up_schedules_cover_their_own_namespace_but_not_its_databases(tmp_path: Path) -> None:
    inv = _inventory(tmp_path, {"ns.yaml": NAMESPACES, "k8up.yaml": K8UP})
    result = BackupAnalyzer().analyze(inv, _params(["finance-prod*", "prod-*"]))
    declared = _facts(inv, result, "Namespace", "backupCoverage")
    made = {r.ref.name: r.facts["backupCoverage"] for r in result.resources}
    covered = {name: fact["covered"] for name, fact in {**declared, **made}.items()}
    # finance-prod: a backup schedule; finance-dev: prune only; prod-ledger: a database
    # that a file-level copy does not back up.
    assert covered == {"finance-prod": True, "finance-dev": False, "prod-ledger": False}
    assert declared["finance-prod"]["k8upSchedules"] == ["finance-prod/volumes"]
    assert declared["finance-dev"]["k8upSchedules"] == []
    assert made["prod-ledger"]["k8upSchedules"] == ["prod-ledger/legacy"]
    assert made["prod-ledger"]["databasesWithoutScheduledBackup"] == ["ledger"]


def test_schedule_intervals_and_unjudgeable_forms(estate: tuple[Inventory, Any]) -> None:
    inv, result = estate
    velero = _facts(inv, result, "Schedule", "backupSchedule")
    cnpg = _facts(inv, result, "ScheduledBackup", "backupSchedule")
    assert velero == {
        "all-nightly": {"schedule": "0 1 * * *", "intervalHours": 24.0},
        "dev-weekly": {
            "schedule": "0 3 L * *",
            "error": "cron schedule '0 3 L * *' cannot be judged: "
            "day-of-month field: 'L' is not a number or a known name",
        },
    }
    assert cnpg == {"ledger-6h": {"schedule": "0 0 */6 * * *", "intervalHours": 6.0}}


def test_locations_shared_read_write_with_non_production(tmp_path: Path) -> None:
    inv = _inventory(tmp_path, {"schedules.yaml": SCHEDULES, "bsl.yaml": LOCATIONS})
    result = BackupAnalyzer().analyze(inv, _params(["finance-prod*"]))
    facts = _facts(inv, result, "BackupStorageLocation", "backupLocation")
    assert facts == {
        # all-nightly covers every namespace but two: production by reach (no namespace is
        # declared here, so only named production namespaces count) -> not production.
        "finance-backups": {
            "production": False,
            "productionSchedules": [],
            "nonProductionSchedules": [],
            "sharedWith": ["velero/staging-rw"],
            "readWrite": True,
        },
        # the default location receives the paused dev schedule (explicit finance-dev).
        "staging-rw": {
            "production": False,
            "productionSchedules": [],
            "nonProductionSchedules": ["velero/dev-weekly"],
            "sharedWith": ["velero/finance-backups"],
            "readWrite": True,
        },
        "staging-ro": {
            "production": False,
            "productionSchedules": [],
            "nonProductionSchedules": [],
            "sharedWith": ["velero/finance-backups", "velero/staging-rw"],
            "readWrite": False,
        },
    }


def test_production_location_sharing_is_reported(tmp_path: Path) -> None:
    inv = _inventory(
        tmp_path, {"ns.yaml": NAMESPACES, "schedules.yaml": SCHEDULES, "bsl.yaml": LOCATIONS}
    )
    result = BackupAnalyzer().analyze(inv, _params(["finance-prod*"]))
    facts = _facts(inv, result, "BackupStorageLocation", "backupLocation")
    assert facts["finance-backups"] == {
        "production": True,
        "productionSchedules": ["velero/all-nightly"],
        "nonProductionSchedules": [],
        "sharedWith": ["velero/staging-rw"],
        "readWrite": True,
    }


def test_rules_read_the_facts_end_to_end(tmp_path: Path) -> None:
    """Real engine and shipped rules: the undeclared namespace and the odd cron surface."""
    inv = _inventory(tmp_path, {"schedules.yaml": SCHEDULES, "app.yaml": APP})
    rules = load_rules(include=["LG-BAK-002", "LG-BAK-004"])
    findings, _ = Engine(rules, default_params(), [BackupAnalyzer()]).run(inv)
    got = {
        (f.rule_id, f.resource.display() if f.resource else "", f.status.value) for f in findings
    }
    assert got == {
        ("LG-BAK-002", "Namespace finance-prod", "pass"),
        ("LG-BAK-004", "Schedule velero/all-nightly", "pass"),
        ("LG-BAK-004", "Schedule velero/dev-weekly", "error"),
    }
    error = next(f for f in findings if f.status.value == "error")
    assert "cron schedule '0 3 L * *' cannot be judged" in error.message


APP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: odoo, namespace: finance-prod}
data: {workers: "4"}
"""


@pytest.mark.parametrize(
    ("schedule", "seconds", "hours"),
    [
        ("0 1 * * *", False, 24.0),
        ("*/15 * * * *", False, 0.25),
        ("0 */6 * * *", False, 6.0),
        ("0 1,13 * * *", False, 12.0),
        ("0 1 * * 0", False, 168.0),
        ("0 1 * * MON-FRI", False, 72.0),
        ("0 0 1 * *", False, 744.0),
        ("0 0 1 JAN *", False, 8784.0),
        ("@daily", False, 24.0),
        ("@every 1h30m", False, 1.5),
        ("CRON_TZ=Europe/Berlin 0 2 * * *", False, 24.0),
        ("0 0 2 * * *", True, 24.0),
        ("@hourly", True, 1.0),
        # CloudNativePG (robfig/cron with seconds) accepts the standard 5-field form too.
        ("0 2 * * *", True, 24.0),
    ],
)
def test_cron_longest_gap(schedule: str, seconds: bool, hours: float) -> None:
    assert max_interval_hours(schedule, seconds_field=seconds) == hours


@pytest.mark.parametrize(
    ("schedule", "seconds", "why"),
    [
        ("0 1 * *", False, "expected 5 fields, got 4"),
        ("0 1 * *", True, "expected 6 fields, got 4"),
        ("0 1 15W * *", False, "day-of-month field: '15W' is not a number"),
        ("0 1 * * 5#3", False, "day-of-week field: '5#3' is not a number"),
        ("0 25 * * *", False, "hour field: 25 is outside 0-23"),
        ("0 */0 * * *", False, "hour field: step '0' is not a positive number"),
        ("0 0 30 2 *", False, "never fires"),
        ("@fortnightly", False, "unknown descriptor"),
        ("@every soon", False, "not a duration"),
    ],
)
def test_cron_forms_not_judged_say_why(schedule: str, seconds: bool, why: str) -> None:
    with pytest.raises(CronError, match=why.replace("*", r"\*")):
        max_interval_hours(schedule, seconds_field=seconds)


HOSTILE = """\
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: odd, namespace: velero}
spec:
  schedule: 42
  template: "not a mapping"
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata: {name: odd, namespace: velero}
spec: [1, 2]
---
apiVersion: postgresql.cnpg.io/v1
kind: ScheduledBackup
metadata: {name: odd, namespace: prod-x}
spec: {cluster: "ledger"}
"""


def test_malformed_shapes_become_facts_not_crashes(tmp_path: Path) -> None:
    inv = _inventory(tmp_path, {"odd.yaml": HOSTILE})
    result = BackupAnalyzer().analyze(inv, _params(["prod-*"]))
    assert _facts(inv, result, "Schedule", "backupSchedule") == {
        "odd": {
            "schedule": "42",
            "error": "spec.schedule is missing or not a string: interval not judged",
        }
    }
    assert _facts(inv, result, "BackupStorageLocation", "backupLocation")["odd"] == {
        "production": False,
        "productionSchedules": [],
        "nonProductionSchedules": [],
        "sharedWith": [],
        "readWrite": True,
    }
    made = {r.ref.name: r.facts["backupCoverage"]["covered"] for r in result.resources}
    # an unreadable template covers nothing (fail closed)
    assert made == {"prod-x": False, "velero": False}


def test_unclassified_namespace_makes_a_schedule_production_by_default(tmp_path: Path) -> None:
    """Fail closed: all-nightly reaches the velero namespace, which no pattern classifies."""
    inv = _inventory(tmp_path, {"schedules.yaml": SCHEDULES, "bsl.yaml": LOCATIONS})
    strict = BackupAnalyzer().analyze(inv, {"productionNamespaces": ["finance-prod*"]})
    lenient = BackupAnalyzer().analyze(inv, _params(["finance-prod*"]))
    assert _facts(inv, strict, "BackupStorageLocation", "backupLocation")["finance-backups"][
        "productionSchedules"
    ] == ["velero/all-nightly"]
    assert (
        _facts(inv, lenient, "BackupStorageLocation", "backupLocation")["finance-backups"][
            "productionSchedules"
        ]
        == []
    )
