"""Redis run by an operator: the listeners its custom resource and ConfigMaps end up with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.analyzers.redis_operator import RedisOperatorAnalyzer
from scanner.inventory import Inventory
from scanner.sources.repo import RepoSource

CLUSTER = """\
apiVersion: redis.redis.opstreelabs.in/v1beta2
kind: RedisCluster
metadata: {name: queue, namespace: prod}
spec:
  TLS: {secret: {secretName: queue-tls}}
  redisLeader:
    redisConfig: {additionalRedisConfig: leader-conf}
  redisFollower:
    redisConfig: {additionalRedisConfig: elsewhere}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: leader-conf, namespace: prod}
data:
  a.conf: "port 6379"
  b.conf: "port 0"
  notes.txt: "port 6390"
"""


def _fact(tmp_path: Path, text: str) -> dict[str, Any]:
    (tmp_path / "redis.yaml").write_text(text)
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    result = RedisOperatorAnalyzer().analyze(inventory, {})
    (fact,) = (f["redisOperatorTls"] for f in result.facts.values())
    return fact


def test_conf_keys_apply_in_key_order_after_the_operator_settings(tmp_path: Path) -> None:
    fact = _fact(tmp_path, CLUSTER)
    assert fact["missing"] == []
    leader = next(r for r in fact["roles"] if r["role"] == "redisLeader")
    assert (leader["port"], leader["tls-port"]) == ("0", "6379")
    # the follower's ConfigMap lives in another repository: spec.TLS alone decides it
    assert fact["unseenConfigMaps"] == ["elsewhere"]


def test_a_conf_line_that_reopens_the_plain_port_is_named(tmp_path: Path) -> None:
    fact = _fact(tmp_path, CLUSTER.replace('b.conf: "port 0"', 'b.conf: "port 6380"'))
    assert fact["missing"] == ["redisLeader: port 6380 (the clear-text listener stays open)"]


def test_redis_failover_custom_config_without_tls_port(tmp_path: Path) -> None:
    failover = """\
apiVersion: databases.spotahome.com/v1
kind: RedisFailover
metadata: {name: sessions, namespace: prod}
spec:
  redis:
    customConfig: ["port 0", "tls-cert-file /tls/tls.crt", "tls-key-file /tls/tls.key"]
"""
    assert _fact(tmp_path, failover)["missing"] == ["tls-port"]
