"""The listeners a Redis run by an operator ends up with (LG-ENC-016).

The operator's image writes ``redis.conf`` itself: ``port 0``, ``tls-port 6379`` and the
certificate files when ``spec.TLS`` names a certificate Secret, ``port 6379`` otherwise.
Then it appends an ``include`` of the ConfigMap named by ``redisConfig.
additionalRedisConfig`` (mounted at ``/etc/redis/external.conf.d``), so that ConfigMap's
redis.conf lines come last and win: they can turn TLS on without ``spec.TLS`` (``port 0``,
``tls-port``, certificate and key files) or reopen the clear-text port beside it.

Every key of the ConfigMap ending in ``.conf`` is read, in key order (newer images include
``*.conf``, older ones the ``redis-additional.conf`` key only). A RedisCluster's leaders and
followers each have their own ``redisConfig``, so each role is judged. A ConfigMap the scan
does not hold is named in the fact: its lines are unknown, so only ``spec.TLS`` counts.

Spotahome's RedisFailover has no TLS switch: its ``spec.redis.customConfig`` lines are
appended to a redis.conf that listens on 6379, so they must close that port and open a
TLS one with a certificate and key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.sources import configfiles

GROUP = "redis.redis.opstreelabs.in"
KINDS = ("Redis", "RedisCluster", "RedisReplication")
SPOTAHOME = "databases.spotahome.com"
#: What an OT resource without spec.TLS or listener lines lacks, in one phrase.
NO_TLS = "spec.TLS with a certificate Secret (clear-text port 6379)"
#: The listener directives a ConfigMap can override (nothing else leaves this module).
LISTENERS = ("port", "tls-port", "tls-cert-file", "tls-key-file")


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _roles(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(role, its redisConfig): a RedisCluster's leader and follower, else the resource's own."""
    roles = [r for r in ("redisLeader", "redisFollower") if r in spec]
    if "redisConfig" in spec or not roles:
        yield "", _map(spec.get("redisConfig"))
    for role in roles:
        yield role, _map(_map(spec.get(role)).get("redisConfig"))


def _tls_secret(spec: Mapping[str, Any]) -> bool:
    return bool(str(_map(_map(spec.get("TLS")).get("secret")).get("secretName") or ""))


def role_listeners(tls: bool, lines: list[str]) -> dict[str, str]:
    """The operator image's listener settings, then the included lines (last one wins)."""
    settings = (
        {"port": "0", "tls-port": "6379", "tls-cert-file": "spec.TLS", "tls-key-file": "spec.TLS"}
        if tls
        else {"port": "6379"}
    )
    for text in lines:
        spec = configfiles.parse_redis(text).spec
        settings.update({k: str(spec[k]) for k in LISTENERS if k in spec})
    return settings


def problems(settings: Mapping[str, str]) -> list[str]:
    """What keeps a listener in clear text (empty: TLS only)."""
    found = []
    if settings.get("port", "6379") != "0":
        found.append(f"port {settings.get('port', '6379')} (the clear-text listener stays open)")
    if settings.get("tls-port", "0") in ("", "0"):
        found.append("tls-port")
    found += [k for k in ("tls-cert-file", "tls-key-file") if not settings.get(k)]
    return found


class RedisOperatorAnalyzer(Analyzer):
    """``redisOperatorTls`` on operator resources: each role's effective listeners."""

    name = "redis-operator"
    provides = ("redisOperatorTls",)
    reads = (("", "ConfigMap"), (SPOTAHOME, "RedisFailover"), *((GROUP, kind) for kind in KINDS))

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One fact per resource: per role the listeners, what is missing, unseen ConfigMaps."""
        config_maps = {
            (r.ref.namespace, r.ref.name): _map(r.body.get("data"))
            for i in inventory.of_kind("ConfigMap", groups=("",))
            for r in (inventory.resources[i],)
        }
        result = AnalyzerResult()
        for kind in KINDS:
            for index in inventory.of_kind(kind, groups=(GROUP,)):
                resource = inventory.resources[index]
                spec = _map(resource.body.get("spec"))
                fact = _ot_fact(spec, resource.ref.namespace, config_maps)
                result.facts[index] = {"redisOperatorTls": fact}
        for index in inventory.of_kind("RedisFailover", groups=(SPOTAHOME,)):
            redis = _map(_map(inventory.resources[index].body.get("spec")).get("redis"))
            custom = redis.get("customConfig")
            text = "\n".join(str(line) for line in custom) if isinstance(custom, list) else ""
            settings = role_listeners(False, [text])
            result.facts[index] = {
                "redisOperatorTls": {
                    "tlsSecret": False,
                    "roles": [{"role": "redis", "configMap": "", **settings}],
                    "missing": problems(settings),
                    "unseenConfigMaps": [],
                }
            }
        return result


def _ot_fact(
    spec: Mapping[str, Any],
    namespace: str,
    config_maps: Mapping[tuple[str, str], Mapping[str, Any]],
) -> dict[str, Any]:
    """The listeners of each role of an OT-Container-Kit resource, and what keeps one plain."""
    tls = _tls_secret(spec)
    roles: list[dict[str, str]] = []
    unseen: set[str] = set()
    by_role: dict[str, list[str]] = {}
    for role, config in _roles(spec):
        name = str(config.get("additionalRedisConfig") or "")
        data = config_maps.get((namespace, name)) if name else None
        if name and data is None:
            unseen.add(name)
        lines = [str(v) for k, v in sorted((data or {}).items()) if str(k).endswith(".conf")]
        settings = role_listeners(tls, lines)
        mine = problems(settings)
        if mine and not tls and not any(k in settings for k in LISTENERS[1:]):
            mine = [NO_TLS]
        by_role[role] = mine
        roles.append({"role": role or "redis", "configMap": name, **settings})
    # Name the role only where the roles differ (a RedisCluster's leaders and followers).
    distinct = {tuple(v) for v in by_role.values()}
    missing = (
        list(next(iter(distinct)))
        if len(distinct) == 1
        else [f"{role or 'spec'}: {p}" for role, found in by_role.items() for p in found]
    )
    unseen_names = sorted(unseen)
    return {"tlsSecret": tls, "roles": roles, "missing": missing, "unseenConfigMaps": unseen_names}
