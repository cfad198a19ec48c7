"""A redis.conf kept in a ConfigMap, judged where a Redis container is shown to read it.

A ConfigMap key named ``redis.conf`` is only configuration once something runs it: the
finding would be noise for a copy nobody mounts. So a ``RedisConfig`` is synthesised only
when the whole chain is in the scan: a container starts ``redis-server <file>``, ``<file>``
lies under a volumeMount of a ``configMap`` volume (``subPath`` and ``items`` honoured),
and that ConfigMap, in the workload's namespace, holds the key. Flags after the file
override its directives, as redis-server applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from posixpath import normpath
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.analyzers.redis_args import KIND, command_words, flag_settings
from scanner.inventory import Inventory, containers_of_resource, pod_spec_of
from scanner.model import Resource, ResourceRef
from scanner.sources import configfiles


def config_path(words: list[str]) -> tuple[str, list[str]] | None:
    """(the file redis-server is started with, the words after it), or None."""
    starts = [i for i, w in enumerate(words) if w.rsplit("/", 1)[-1] == "redis-server"]
    if not starts:
        return None
    rest = words[starts[0] + 1 :]
    if not rest or rest[0].startswith("-"):
        return None
    return normpath(rest[0]), rest[1:]


def _config_map_volumes(pod: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Volume name -> (ConfigMap name, {path in the volume: key}) for configMap volumes."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for volume in pod.get("volumes") or ():
        if not isinstance(volume, Mapping) or not isinstance(volume.get("configMap"), Mapping):
            continue
        source = volume["configMap"]
        items = {
            str(i.get("path")): str(i.get("key"))
            for i in source.get("items") or ()
            if isinstance(i, Mapping) and i.get("path") and i.get("key")
        }
        found[str(volume.get("name"))] = (str(source.get("name") or ""), items)
    return found


def mounted_key(
    path: str, container: Mapping[str, Any], volumes: Mapping[str, tuple[str, dict[str, str]]]
) -> tuple[str, str] | None:
    """(ConfigMap name, key) that the container sees at ``path``, or None."""
    for mount in container.get("volumeMounts") or ():
        if not isinstance(mount, Mapping) or str(mount.get("name")) not in volumes:
            continue
        config_map, items = volumes[str(mount.get("name"))]
        target = normpath(str(mount.get("mountPath") or "/"))
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            inside = sub_path if path == target else ""
        else:
            inside = path[len(target) + 1 :] if path.startswith(target.rstrip("/") + "/") else ""
        if inside:
            key = items.get(inside, inside if not items else "")
            if key:
                return config_map, key
    return None


class RedisMountAnalyzer(Analyzer):
    """Adds a ``RedisConfig`` for each redis.conf a Redis container reads from a ConfigMap."""

    name = "redis-mounts"

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One synthetic resource per (ConfigMap key, container) whose mount is established."""
        config_maps = {
            (r.ref.namespace, r.ref.name): r
            for i in inventory.of_kind("ConfigMap", groups=("",))
            for r in (inventory.resources[i],)
        }
        result = AnalyzerResult()
        for res in list(inventory.resources):
            pod = pod_spec_of(res)
            if not isinstance(pod, Mapping):
                continue
            volumes = _config_map_volumes(pod)
            for container in containers_of_resource(res):
                started = config_path(command_words(container))
                found = mounted_key(started[0], container, volumes) if started else None
                config_map = config_maps.get((res.ref.namespace, found[0])) if found else None
                if started is None or found is None or config_map is None:
                    continue
                data = config_map.body.get("data")
                text = data.get(found[1]) if isinstance(data, Mapping) else None
                if not isinstance(text, str):
                    continue
                result.resources.append(
                    _synthesised(res, container, config_map, found[1], text, started[1])
                )
        return result


def _synthesised(
    workload: Resource,
    container: Mapping[str, Any],
    config_map: Resource,
    key: str,
    text: str,
    overrides: list[str],
) -> Resource:
    settings = dict(configfiles.parse_redis(text).spec)
    settings.update(flag_settings(overrides))
    # only the listener settings: requirepass and the like never leave here
    listeners = {k: str(v) for k, v in settings.items() if k == "port" or k.startswith("tls-")}
    name = (
        f"ConfigMap {config_map.ref.name} {key} ({workload.ref.kind} {workload.ref.name} "
        f"{container.get('name', '')} mount args)"
    )
    body = configfiles.synthetic_body(KIND, name, listeners)
    return Resource(ResourceRef(body["apiVersion"], KIND, "", name), body, config_map.origin, {})
