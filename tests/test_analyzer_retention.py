"""Retention strings, keep counts and PostgreSQL connection maps read in analyzers, not CEL."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.analyzers.postgres import PostgresAnalyzer
from scanner.analyzers.retention import RetentionAnalyzer, go_duration_days
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef


def _inventory(*objects: dict[str, Any]) -> Inventory:
    resources = []
    for body in objects:
        meta = body["metadata"]
        ref = ResourceRef(body["apiVersion"], body["kind"], meta.get("namespace", ""), meta["name"])
        resources.append(Resource(ref, body, Origin("x.yaml", 1, 1), {}))
    return Inventory.from_items(resources)


def _facts(analyzer: Any, *objects: dict[str, Any]) -> list[dict[str, Any]]:
    result = analyzer.analyze(_inventory(*objects), {})
    return [result.facts[i] for i in sorted(result.facts)]


@pytest.mark.parametrize(
    ("text", "days"), [("720h", 30.0), ("2160h0m0s", 90.0), ("1h30m", 1.5 / 24)]
)
def test_go_durations_in_days(text: str, days: float) -> None:
    assert go_duration_days(text) == pytest.approx(days)


def _k8up(retention: dict[str, Any], schedule: str = "0 1 * * *") -> dict[str, Any]:
    return {
        "apiVersion": "k8up.io/v1",
        "kind": "Schedule",
        "metadata": {"name": "s", "namespace": "p"},
        "spec": {"backup": {"schedule": schedule}, "prune": {"retention": retention}},
    }


@pytest.mark.parametrize(
    ("retention", "schedule", "days", "text"),
    [
        ({"keepDaily": 7, "keepWeekly": 8}, "0 1 * * *", 56.0, "keepWeekly: 8"),
        ({"keepLast": 48}, "0 */6 * * *", 12.0, "keepLast: 48 x 6h"),
        ({"keepLast": 5, "keepMonthly": 12}, "0 1 * * *", 360.0, "keepMonthly: 12"),
    ],
)
def test_k8up_keep_counts_become_the_longest_count_times_period(
    retention: dict[str, Any], schedule: str, days: float, text: str
) -> None:
    (fact,) = _facts(RetentionAnalyzer(), _k8up(retention, schedule))
    assert fact["backupRetention"]["state"] == "ok"
    assert fact["backupRetention"]["days"] == pytest.approx(days)
    assert fact["backupRetention"]["text"] == text


def test_a_cnpg_cluster_reads_retention_from_its_plugin_object_store() -> None:
    store = {
        "apiVersion": "barmancloud.cnpg.io/v1",
        "kind": "ObjectStore",
        "metadata": {"name": "store", "namespace": "p"},
        "spec": {"retentionPolicy": "8w"},
    }
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "db", "namespace": "p"},
        "spec": {
            "plugins": [
                {
                    "name": "barman-cloud.cloudnative-pg.io",
                    "parameters": {"barmanObjectName": "store"},
                }
            ]
        },
    }
    facts = _facts(RetentionAnalyzer(), store, cluster)
    assert facts[1]["backupRetention"] == {
        "text": "8w",
        "state": "ok",
        "days": 56.0,
        "via": "ObjectStore p/store",
        "backup": True,
    }
    alone = _facts(RetentionAnalyzer(), cluster)[0]["backupRetention"]
    assert (alone["state"], alone["via"]) == ("missing", "ObjectStore p/store")


def test_operator_connection_maps_without_required_sslmode() -> None:
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "db", "namespace": "p"},
        "spec": {
            "externalClusters": [
                {"name": "a", "connectionParameters": {"host": "h", "sslmode": "prefer"}},
                {"name": "b", "connectionParameters": {"host": "h", "sslmode": "verify-full"}},
                {"name": "c", "connectionParameters": {"host": "h"}},
                {"name": "store", "plugin": {"name": "barman-cloud.cloudnative-pg.io"}},
            ]
        },
    }
    (fact,) = _facts(PostgresAnalyzer(), cluster)
    shown = [(c["name"], c["sslmode"], c["tls"]) for c in fact["postgresOperatorConnections"]]
    assert shown == [
        ("a", "prefer", False),
        ("b", "verify-full", True),
        ("c", "(unset: prefer)", False),
    ]


def test_redis_server_flags_become_a_redis_config_without_credentials() -> None:
    from scanner.analyzers.redis_args import RedisArgsAnalyzer

    def deployment(container: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cache", "namespace": "p"},
            "spec": {"template": {"spec": {"containers": [{"name": "redis", **container}]}}},
        }

    flags = deployment(
        {"image": "redis:7", "args": ["--port", "0", "--tls-port", "6379", "--requirepass s3cr3t"]}
    )
    with_file = deployment({"image": "redis:7", "command": ["redis-server", "/etc/redis.conf"]})
    other = deployment({"image": "nginx:1", "args": ["--port", "80"]})
    result = RedisArgsAnalyzer().analyze(_inventory(flags, with_file, other), {})
    assert [(r.ref.name, r.body["spec"]) for r in result.resources] == [
        ("Deployment cache (redis args)", {"port": "0", "tls-port": "6379"})
    ]
