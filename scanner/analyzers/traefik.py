"""Traefik route facts: each IngressRoute with its resolved TLSOption and middlewares.

A route names its TLSOption and middlewares by reference, often across files, so
the question "does this finance route send HSTS over a declared TLS policy?" is
answered once here. ``facts.traefikRoute`` on every IngressRoute holds:

- ``tlsOption``: ``{ref, explicit, found, minVersion, sniStrict}``; without an explicit
  reference Traefik uses the TLSOption named ``default``, if one is declared;
- ``routes``: per entry of ``spec.routes``, the middlewares it resolves to (chains
  expanded), the strongest HSTS they set (``hstsSeconds``, ``hstsIncludeSubdomains``) and
  the references of that route that resolve to nothing (``missing``);
- ``missingMiddlewares`` and ``externalMiddlewares``: references that resolve to
  nothing in the scan, and references to other providers (``@file``) that cannot be read;
- ``tls`` (the route has a ``tls`` section) and ``plainEntryPoints``: the entry points it
  is served on in clear text. A ``tls`` section makes every entry point TLS; without one,
  an entry point is TLS only when the static configuration (``traefik.yml``, flags, Helm
  values rendered into flags) sets ``entryPoints.<name>.http.tls`` — judged from that
  configuration, never from the entry point's name. A route without ``entryPoints`` is
  served on every entry point the static configuration declares (or on Traefik's own
  defaults when none is in the scan: not provably TLS).

``IngressRouteTCP`` gets ``tls`` and ``plainEntryPoints`` too; ``http.tls`` on an entry
point does not apply to TCP routers, so only the route's own ``tls`` section counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.model import Resource

GROUPS = ("traefik.io", "traefik.containo.us")
CRD_PROVIDER = "@kubernetescrd"
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def _spec(resource: Resource) -> Mapping[str, Any]:
    spec = resource.body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _ref(raw: Any, namespace: str) -> tuple[str, str] | None:
    """``(namespace, name)`` of a ``{name, namespace}`` reference; None for another provider.

    A malformed reference keeps its text as the name, so it is reported as missing.
    """
    if not isinstance(raw, Mapping) or not raw.get("name"):
        return (namespace, f"(malformed reference {raw!r})")
    name = str(raw["name"])
    if name.endswith(CRD_PROVIDER):
        name = name[: -len(CRD_PROVIDER)]
    elif "@" in name:
        return None
    return (str(raw.get("namespace") or namespace), name)


def _hsts(spec: Mapping[str, Any]) -> tuple[int, bool]:
    """HSTS a headers middleware sets: ``stsSeconds`` or a literal Strict-Transport-Security."""
    headers = spec.get("headers")
    if not isinstance(headers, Mapping):
        return 0, False
    seconds = headers.get("stsSeconds")
    best = int(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else 0
    subdomains = headers.get("stsIncludeSubdomains") is True and best > 0
    custom = headers.get("customResponseHeaders")
    if isinstance(custom, Mapping):
        for key, value in custom.items():
            if str(key).lower() == "strict-transport-security" and isinstance(value, str):
                match = _MAX_AGE.search(value)
                age = int(match.group(1)) if match else 0
                if age > best:
                    best, subdomains = age, "includesubdomains" in value.lower()
    return best, subdomains


def _index(inventory: Inventory, kind: str) -> dict[tuple[str, str], Resource]:
    found: dict[tuple[str, str], Resource] = {}
    for index in inventory.of_kind(kind, groups=GROUPS):
        resource = inventory.resources[index]
        found[(resource.ref.namespace, resource.ref.name)] = resource
    return found


class TraefikAnalyzer(Analyzer):
    """Resolves IngressRoute references to TLSOptions and Middlewares (chains included)."""

    name = "traefik"
    provides = ("traefikRoute",)
    reads = tuple(
        (group, kind)
        for group in ("traefik.io", "traefik.containo.us")
        for kind in ("IngressRoute", "Middleware", "TLSOption")
    )

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One ``traefikRoute`` fact per IngressRoute and IngressRouteTCP."""
        resolver = _Resolver(_index(inventory, "Middleware"), _index(inventory, "TLSOption"))
        declared, tls_points = static_entry_points(inventory)
        result = AnalyzerResult()
        for index in inventory.of_kind("IngressRoute", groups=GROUPS):
            resource = inventory.resources[index]
            fact = resolver.route(resource)
            fact["plainEntryPoints"] = _plain_entry_points(resource, declared, tls_points)
            result.facts[index] = {"traefikRoute": fact}
        for index in inventory.of_kind("IngressRouteTCP", groups=GROUPS):
            resource = inventory.resources[index]
            tcp: dict[str, Any] = {
                "tls": isinstance(_spec(resource).get("tls"), Mapping),
                "plainEntryPoints": _plain_entry_points(resource, declared, set()),
            }
            result.facts[index] = {"traefikRoute": tcp}
        return result


def _key(mapping: Mapping[str, Any], name: str) -> Any:
    """A static-configuration key, case-insensitively (``--entrypoints`` = ``entryPoints``)."""
    for key, value in mapping.items():
        if str(key).lower() == name:
            return value
    return None


def static_entry_points(inventory: Inventory) -> tuple[set[str], set[str]]:
    """Entry points the static configurations in the scan declare, and those that force TLS
    on every HTTP router (``entryPoints.<name>.http.tls`` set and not ``false``)."""
    declared: set[str] = set()
    tls: set[str] = set()
    for resource in inventory.resources:
        if resource.ref.kind != "TraefikStaticConfig":
            continue
        points = _key(_spec(resource), "entrypoints")
        if not isinstance(points, Mapping):
            continue
        for name, point in points.items():
            declared.add(str(name))
            http = _key(point, "http") if isinstance(point, Mapping) else None
            forced = _key(http, "tls") if isinstance(http, Mapping) else None
            if forced is True or isinstance(forced, Mapping) or forced == "true":
                tls.add(str(name))
    return declared, tls


def _plain_entry_points(resource: Resource, declared: set[str], tls: set[str]) -> list[str]:
    """The entry points a route is served on in clear text (none when it has ``tls``)."""
    spec = _spec(resource)
    if isinstance(spec.get("tls"), Mapping):
        return []
    named = [str(p) for p in spec.get("entryPoints") or () if isinstance(p, str)]
    points = named or sorted(declared) or ["(Traefik's default entry points)"]
    return sorted({p for p in points if p not in tls})


class _Resolver:
    """The Middlewares and TLSOptions of one scan, by (namespace, name)."""

    def __init__(
        self,
        middlewares: dict[tuple[str, str], Resource],
        options: dict[tuple[str, str], Resource],
    ) -> None:
        self._middlewares = middlewares
        self._options = options

    def route(self, resource: Resource) -> dict[str, Any]:
        """The ``traefikRoute`` fact of one IngressRoute."""
        spec = _spec(resource)
        namespace = resource.ref.namespace
        missing: set[str] = set()
        external: set[str] = set()
        routes: list[dict[str, Any]] = []
        for entry in spec.get("routes") or []:
            if not isinstance(entry, Mapping):
                continue
            resolved: list[str] = []
            unfound: set[str] = set()  # this route's own, so a finding can name the route
            best = (0, False)
            for raw in entry.get("middlewares") or []:
                for ref, mw_spec in self._expand(raw, namespace, unfound, external, set()):
                    resolved.append(ref)
                    best = max(best, _hsts(mw_spec))
            missing |= unfound
            routes.append(
                {
                    "match": str(entry.get("match") or ""),
                    "middlewares": resolved,
                    "missing": sorted(unfound),
                    "hstsSeconds": best[0],
                    "hstsIncludeSubdomains": best[1],
                }
            )
        return {
            "tls": isinstance(spec.get("tls"), Mapping),
            "tlsOption": self._tls_option(spec, namespace),
            "routes": routes,
            "missingMiddlewares": sorted(missing),
            "externalMiddlewares": sorted(external),
        }

    def _expand(
        self,
        raw: Any,
        namespace: str,
        missing: set[str],
        external: set[str],
        seen: set[tuple[str, str]],
    ) -> list[tuple[str, Mapping[str, Any]]]:
        """The middleware a reference names, followed by the members of a chain."""
        ref = _ref(raw, namespace)
        if ref is None:
            external.add(str(raw.get("name")) if isinstance(raw, Mapping) else str(raw))
            return []
        if ref in seen:
            return []
        seen.add(ref)
        target = self._middlewares.get(ref)
        if target is None:
            missing.add("/".join(ref))
            return []
        spec = _spec(target)
        found: list[tuple[str, Mapping[str, Any]]] = [("/".join(ref), spec)]
        chain = spec.get("chain")
        if isinstance(chain, Mapping):
            for member in chain.get("middlewares") or []:
                found.extend(self._expand(member, ref[0], missing, external, seen))
        return found

    def _tls_option(self, spec: Mapping[str, Any], namespace: str) -> dict[str, Any]:
        tls = spec.get("tls")
        raw = tls.get("options") if isinstance(tls, Mapping) else None
        explicit = isinstance(raw, Mapping) and bool(raw.get("name"))
        if explicit:
            ref = _ref(raw, namespace)
            target = self._options.get(ref) if ref else None
            shown = "/".join(ref) if ref else str(raw.get("name"))  # type: ignore[union-attr]
        else:
            defaults = sorted(k for k in self._options if k[1] == "default")
            target = self._options[defaults[0]] if defaults else None
            shown = "/".join(defaults[0]) if defaults else "default"
        option = _spec(target) if target is not None else {}
        return {
            "ref": shown,
            "explicit": explicit,
            "found": target is not None,
            "minVersion": str(option.get("minVersion") or ""),
            "sniStrict": option.get("sniStrict") is True,
        }
