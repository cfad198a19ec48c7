"""Traefik static configuration wherever it is declared, judged like ``traefik.yml``.

Traefik reads its static configuration from a file, from command-line flags
(``--api.insecure=true``, ``--entrypoints.web.address=:80``) or, in Kubernetes, from a
file mounted out of a ConfigMap. Each of the last two becomes a synthetic
``TraefikStaticConfig`` resource with the origin of the object that declares it, so the
Traefik static rules judge all three the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner import yamlutil
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, containers_of_resource
from scanner.model import Resource, ResourceRef
from scanner.sources import configfiles

KIND = "TraefikStaticConfig"


def flags_to_config(args: list[str]) -> dict[str, Any]:
    """``--a.b.c=v`` flags as the nested mapping Traefik builds from them."""
    config: dict[str, Any] = {}
    for arg in args:
        if not arg.startswith("--") or len(arg) < 3:
            continue
        name, has_value, raw = arg[2:].partition("=")
        value: Any = True if not has_value else {"true": True, "false": False}.get(raw, raw)
        node = config
        *parents, leaf = name.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return config


def _config_map_files(body: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    data = body.get("data")
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(data, Mapping):
        return found
    for key, text in sorted(data.items()):
        if not isinstance(text, str):
            continue
        try:
            if configfiles.is_traefik_static_yaml(str(key)):
                spec = yamlutil.load(text)
            elif str(key).lower().endswith("traefik.toml"):
                spec = configfiles.parse_traefik_toml(text).spec
            else:
                continue
        except (yamlutil.YamlLoadError, configfiles.ConfigParseError):
            continue  # the ConfigMap itself is what the reviewer sees; rules on it still run
        if isinstance(spec, dict):
            found.append((str(key), spec))
    return found


class TraefikStaticAnalyzer(Analyzer):
    """Adds a ``TraefikStaticConfig`` for Traefik containers' flags and ConfigMap files."""

    name = "traefik-static"

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One synthetic resource per declaration found."""
        result = AnalyzerResult()
        for res in list(inventory.resources):
            found: list[tuple[str, dict[str, Any]]] = []
            if res.ref.kind == "ConfigMap" and not res.ref.group:
                found = _config_map_files(res.body)
            for container in containers_of_resource(res):
                image = container.get("_image") or {}
                if not str(image.get("repository", "")).endswith("traefik"):
                    continue
                args = [
                    a
                    for section in ("command", "args")
                    for a in container.get(section) or ()
                    if isinstance(a, str)
                ]
                config = flags_to_config(args)
                if config:
                    found.append((f"{container.get('name', '')} args", config))
            for where, spec in found:
                name = f"{res.ref.kind} {res.ref.name} ({where})"
                body = configfiles.synthetic_body(KIND, name, spec)
                ref = ResourceRef(body["apiVersion"], KIND, "", name)
                result.resources.append(Resource(ref, body, res.origin, {}))
        return result
