"""Redis started with its settings on the command line, judged like ``redis.conf``.

``redis-server --port 0 --tls-port 6379 --tls-cert-file ...`` configures Redis without a
file: each ``--directive value`` is a ``redis.conf`` line. A container whose command or
args run ``redis-server`` without a configuration file becomes a synthetic
``RedisConfig`` resource (origin: the workload), so LG-ENC-005 judges it as it judges a
``redis.conf``. With a file (``redis-server /etc/redis.conf --port 0``) the flags only
override settings the scan may not see, so nothing is synthesised from them: the file
itself, where the repository holds it, is judged.

Bitnami's Redis image and chart configure the listeners from environment variables
instead (``REDIS_TLS_ENABLED``, ``REDIS_TLS_PORT[_NUMBER]``, ``REDIS_PORT[_NUMBER]``,
``REDIS_TLS_CERT_FILE``/``KEY_FILE``); a ``bitnami/redis`` container with literal values
there is translated into the same directives (``bitnami_settings``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory, containers_of_resource
from scanner.model import Resource, ResourceRef
from scanner.sources import configfiles

KIND = "RedisConfig"


def command_words(container: Mapping[str, Any]) -> list[str]:
    """command + args as the runtime sees them; a shell ``-c`` script split into words.

    The official ``redis`` image's entrypoint runs ``redis-server`` with the arguments when
    the first one is a flag or a ``.conf`` file, so ``args: [--appendonly, "no"]`` without
    ``command`` is a redis-server command line too.
    """
    words = [
        str(w)
        for section in ("command", "args")
        for w in container.get(section) or ()
        if isinstance(w, str | int)
    ]
    repository = str((container.get("_image") or {}).get("repository", ""))
    official = repository.rsplit("/", 1)[-1] == "redis"
    first = words[0] if words else ""
    if (
        official
        and not container.get("command")
        and (first.startswith("-") or first.endswith(".conf"))
    ):
        return ["redis-server", *words]
    if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
        try:
            return shlex.split(words[2])
        except ValueError:
            return []
    return words


def server_settings(words: list[str]) -> dict[str, str] | None:
    """The directives of a ``redis-server`` command line without a config file, or None."""
    starts = [i for i, w in enumerate(words) if w.rsplit("/", 1)[-1] == "redis-server"]
    if not starts:
        return None
    rest = words[starts[0] + 1 :]
    if rest and not rest[0].startswith("--"):
        return None  # a configuration file: the flags only override it
    return flag_settings(rest)


def flag_settings(words: list[str]) -> dict[str, str]:
    """``--directive value ...`` words as redis.conf directives, up to the end of the command."""
    settings: dict[str, str] = {}
    key = ""
    for word in words:
        if word in ("&&", ";", "|", "||"):
            break  # the end of the redis-server command in a shell script
        if word.startswith("--"):
            name, _, value = word[2:].partition(" ")  # one arg "--requirepass $(X)"
            key = name.lower()
            settings[key] = value.strip()
        elif key:
            settings[key] = (settings[key] + " " + word).strip()
    return settings


#: Image names (last path segment) that read Bitnami's REDIS_* listener variables.
BITNAMI_REDIS_IMAGES = ("redis", "redis-cluster")
_YES = ("yes", "true", "1")


def _literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    """Environment variables with a literal value (valueFrom ones are not known here)."""
    found: dict[str, str] = {}
    for item in container.get("env") or ():
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and "value" in item:
            found[item["name"]] = str(item.get("value") or "")
    return found


def bitnami_settings(container: Mapping[str, Any]) -> dict[str, str] | None:
    """The listener directives a Bitnami Redis container's environment sets, or None.

    With TLS on, the chart's start scripts run ``--port 0 --tls-port $REDIS_TLS_PORT``; the
    bare image closes the plain port when both ports keep their default 6379. With TLS off
    (or unstated) Redis listens in clear text on ``REDIS_PORT[_NUMBER]`` (default 6379).
    """
    image = container.get("_image") or {}
    repository = str(image.get("repository", "")) if isinstance(image, Mapping) else ""
    if "bitnami" not in repository or repository.rsplit("/", 1)[-1] not in BITNAMI_REDIS_IMAGES:
        return None
    env = _literal_env(container)
    if not any(k.startswith("REDIS_") for k in env):
        return None  # configured some other way (a mounted redis.conf, flags): not judged here
    plain = env.get("REDIS_PORT_NUMBER", env.get("REDIS_PORT"))
    if env.get("REDIS_TLS_ENABLED", "no").strip().lower() not in _YES:
        return {"port": plain or "6379"}
    tls = env.get("REDIS_TLS_PORT_NUMBER") or env.get("REDIS_TLS_PORT") or "6379"
    if plain is None:
        plain = "0" if "REDIS_TLS_PORT" in env or tls == "6379" else "6379"
    elif plain == tls == "6379":
        plain = "0"
    settings = {"port": plain, "tls-port": tls}
    for variable, directive in (
        ("REDIS_TLS_CERT_FILE", "tls-cert-file"),
        ("REDIS_TLS_KEY_FILE", "tls-key-file"),
        ("REDIS_TLS_CA_FILE", "tls-ca-cert-file"),
    ):
        if env.get(variable):
            settings[directive] = env[variable]
    return settings


class RedisArgsAnalyzer(Analyzer):
    """Adds a ``RedisConfig`` for each container that configures redis-server by flags."""

    name = "redis-args"

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One synthetic resource per such container."""
        result = AnalyzerResult()
        for res in list(inventory.resources):
            for container in containers_of_resource(res):
                settings = server_settings(command_words(container))
                how = "args"
                if settings is None:
                    settings, how = bitnami_settings(container), "Bitnami env args"
                if settings is None:
                    continue
                name = f"{res.ref.kind} {res.ref.name} ({container.get('name', '')} {how})"
                # only the listener settings: a flag like --requirepass never leaves here
                listeners = {
                    k: v for k, v in settings.items() if k == "port" or k.startswith("tls-")
                }
                body = configfiles.synthetic_body(KIND, name, listeners)
                ref = ResourceRef(body["apiVersion"], KIND, "", name)
                result.resources.append(Resource(ref, body, res.origin, {}))
        return result
