"""Redis clients that connect in clear text: a heuristic over the settings they are given.

Clients declare their Redis connection in environment variables and application settings
(Celery's ``broker_url``, Sidekiq's ``REDIS_URL``, Odoo session stores'
``ODOO_SESSION_REDIS_HOST``), which are free text: this is a heuristic, tuned to flag
only what states clear text plainly. A setting is a plain connection when

- its value is a ``redis://`` URL (``rediss://`` is TLS) to a host that is not local, or
- its name is a Redis host setting (``REDIS_HOST``, ``*_REDIS_HOST``/``_ADDR``/``_SERVER``,
  ``redis_host``, or the ``--redis host:port`` flag of Argo CD's server, repo server and
  application controller) with a literal, non-local host, and nothing beside it (the same
  container, ConfigMap, or configuration text) turns TLS on: a ``*REDIS*TLS*``/``*SSL*``
  setting that is true, a ``rediss://`` URL, or a ``--redis-use-tls``/``--tls`` flag.

Local hosts (``localhost``, loopback, unix sockets) never leave the pod. Values that are
references or templates (``$(VAR)``, ``${VAR}``, ``{{ }}``) are not known here and are not
judged, nor are Redis servers' own containers (LG-ENC-005 judges their listeners). Read
from workload containers (literal env values, command and args) and ConfigMap values
(a ``KEY: value`` entry, or ``key = value`` / ``key: value`` lines of a settings file).
Only host and port leave this module: a URL's user and password never do.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.analyzers.redis_args import command_words
from scanner.inventory import Inventory, containers_of_resource
from scanner.kinds import WORKLOAD_KINDS

_URL = re.compile(r"\bredis://[^\s'\",;)]+", re.IGNORECASE)
_TLS_URL = re.compile(r"\brediss://", re.IGNORECASE)
_TLS_URL_VALUE = re.compile(r"\brediss://[^\s'\",;)]+", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"(^|[_.-])redis[_.-]?(host|hostname|addr|address|server)$|^--redis$", re.IGNORECASE
)
#: Command-line flags that name the Redis server (Argo CD: ``--redis argocd-redis:6379``).
_HOST_FLAGS = ("--redis",)
_TLS_NAME = re.compile(r"redis.*(tls|ssl)|(tls|ssl).*redis", re.IGNORECASE)
_SETTING_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*[=:]\s*(.*?)\s*$")
_TEMPLATE = ("$(", "${", "{{", "%(", "<")
_TRUE = ("true", "yes", "1", "on", "required")
_TLS_FLAGS = ("--redis-use-tls", "--tls", "--redis-tls")
#: Image names (last path segment) of Redis servers: their REDIS_* settings are listeners.
SERVER_IMAGES = ("redis", "redis-sentinel", "redis-cluster", "redis-stack-server", "valkey")


def is_local(host: str) -> bool:
    """A host that never leaves the pod: localhost, loopback, a unix socket path."""
    host = host.strip().strip("[]").lower()
    if not host or host.startswith("/") or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _known(value: str) -> bool:
    """A literal value (not a reference or template the scan cannot resolve)."""
    return bool(value.strip()) and not any(t in value for t in _TEMPLATE)


def _url_target(url: str) -> str | None:
    """host[:port] of a ``redis://`` URL to a non-local host, or None."""
    if not _known(url):
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if is_local(host):
        return None
    return f"{host}:{port}" if port else host


def _host_target(value: str) -> str | None:
    """host[:port] of a host setting's literal value when it is not local, or None."""
    value = value.strip().strip("'\"")
    if not _known(value) or "://" in value:
        return None  # a URL is judged by its scheme
    host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return None if is_local(host) else value


def _tls_on(settings: Iterable[tuple[str, str]], words: Iterable[str] = ()) -> bool:
    """Whether anything beside the connection turns TLS on."""
    for name, value in settings:
        if _TLS_URL.search(value):
            return True
        if _TLS_NAME.search(name) and value.strip().strip("'\"").lower() in _TRUE:
            return True
    return any(w.split("=", 1)[0] in _TLS_FLAGS for w in words)


def plain_connections(
    settings: list[tuple[str, str, str]], words: Iterable[str] = ()
) -> list[dict[str, str]]:
    """(path, name, value) settings -> the plain connections among them."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    tls = _tls_on([(n, v) for _, n, v in settings], words)
    for path, name, value in settings:
        hits = [(_url_target(url), "redis://") for url in _URL.findall(value)]
        if not tls and _HOST_NAME.search(name):
            hits.append((_host_target(value), "host without a TLS setting"))
        for target, why in hits:
            if target and (path, target, why) not in found:
                found[(path, target, why)] = {
                    "path": path,
                    "setting": name,
                    "target": target,
                    "why": why,
                }
    return list(found.values())


def configures_client(settings: Iterable[tuple[str, str, str]]) -> bool:
    """A literal Redis URL or a Redis host setting with a literal value: something to judge
    (a ``valueFrom`` or a template is not evidence either way)."""
    return any(
        any(_known(u) for u in _URL.findall(v) + _TLS_URL_VALUE.findall(v))
        or (_HOST_NAME.search(n) is not None and _known(v))
        for _, n, v in settings
    )


def _lines(path: str, text: str) -> Iterator[tuple[str, str, str]]:
    """``key = value`` / ``key: value`` lines of a settings file, as (path, key, value)."""
    for line in text.splitlines():
        found = _SETTING_LINE.match(line)
        if found and not line.lstrip().startswith(("#", ";")):
            yield path, found.group(1), found.group(2)


def _config_map_settings(body: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    data = body.get("data")
    settings: list[tuple[str, str, str]] = []
    for key, value in sorted(data.items()) if isinstance(data, Mapping) else ():
        text = str(value) if isinstance(value, str | int | float | bool) else ""
        path = f"data.{key}"
        if "\n" in text.strip():
            settings += [(path, k, v) for _, k, v in _lines(path, text)]
            # a URL on a line of its own form (a Celery/Sidekiq file, a JSON value)
            settings += [(path, str(key), u) for u in _URL.findall(text)]
        else:
            settings.append((path, str(key), text))
    return settings


def _server(container: Mapping[str, Any], words: list[str]) -> bool:
    image = container.get("_image") or {}
    repository = str(image.get("repository", "")) if isinstance(image, Mapping) else ""
    names = {w.rsplit("/", 1)[-1] for w in words[:1]}
    return repository.rsplit("/", 1)[-1] in SERVER_IMAGES or bool(
        names & {"redis-server", "redis-sentinel"}
    )


def flag_settings(path: str, container: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``--redis host:port`` and ``--redis=host:port`` in a container's command or args, as
    (path of the value's word, flag, value) host settings."""
    found: list[tuple[str, str, str]] = []
    for section in ("command", "args"):
        words = container.get(section)
        if not isinstance(words, list):
            continue
        for i, word in enumerate(words):
            if not isinstance(word, str):
                continue
            flag, equals, value = word.partition("=")
            if flag not in _HOST_FLAGS:
                continue
            if equals:
                found.append((f"{path}.{section}[{i}]", flag, value))
            elif i + 1 < len(words) and isinstance(words[i + 1], str | int):
                found.append((f"{path}.{section}[{i + 1}]", flag, str(words[i + 1])))
    return found


def _workload_fact(resource: Any) -> dict[str, Any]:
    plain: list[dict[str, str]] = []
    client = False
    for container in containers_of_resource(resource):
        words = command_words(container)
        if _server(container, words):
            continue
        path = container["_path"]
        settings = [
            (f"{path}.env[{i}].value", e["name"], e["value"])
            for i, e in enumerate(container["_env"])
            if "value" in e
        ]
        settings += [(f"{path}.args", "args", w) for w in words]
        settings += flag_settings(path, container)
        client = client or configures_client(settings)
        plain += plain_connections(settings, words)
    return {"client": client or bool(plain), "plain": plain}


def _config_map_fact(body: Mapping[str, Any]) -> dict[str, Any]:
    settings = _config_map_settings(body)
    plain = plain_connections(settings)
    return {"client": configures_client(settings) or bool(plain), "plain": plain}


class RedisClientAnalyzer(Analyzer):
    """``redisClient`` on workloads and ConfigMaps: the plain Redis connections they hold."""

    name = "redis-clients"
    provides = ("redisClient",)
    #: Nothing beyond the judged object itself.
    reads = ()
    per_object = True

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One fact per workload and ConfigMap."""
        result = AnalyzerResult()
        workload_kinds = set(WORKLOAD_KINDS)
        for index, resource in enumerate(inventory.resources):
            pair = (resource.ref.group, resource.ref.kind)
            if pair in workload_kinds:
                result.facts[index] = {"redisClient": _workload_fact(resource)}
            elif pair == ("", "ConfigMap"):
                result.facts[index] = {"redisClient": _config_map_fact(resource.body)}
        return result
