"""Gateway API route facts: the listeners each route attaches to, and whether they are TLS.

A route names its Gateway by ``parentRefs`` (optionally one listener by ``sectionName`` or
``port``), and the Gateway decides which routes it admits (``allowedRoutes``), so "is this
route ever served in clear text?" is a cross-object question, answered here once.
``facts.gatewayRoute`` on every HTTPRoute and GRPCRoute holds:

- ``listeners``: ``[{gateway, listener, protocol, port}]`` the route attaches to;
- ``plainListeners``: those whose protocol is not ``HTTPS`` (or ``TLS``), as
  ``namespace/gateway:listener``;
- ``unresolvedParents``: parent Gateways not in the scan (another repository owns them)
  and not listed in ``params.externalGateways``;
- ``redirectOnly``: every rule only redirects to ``https`` (what an HTTP listener should
  carry), so attaching to a plain listener sends nothing in clear text but the redirect.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.model import Resource

GROUP = "gateway.networking.k8s.io"
ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
TLS_PROTOCOLS = ("HTTPS", "TLS")


def _spec(resource: Resource) -> Mapping[str, Any]:
    spec = resource.body.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _admits(listener: Mapping[str, Any], gateway_ns: str, route_ns: str, kind: str) -> bool:
    """Whether a listener's ``allowedRoutes`` admits a route of this kind and namespace.

    ``from: Selector`` is taken as admitting (the namespace labels live in the cluster):
    a route that may be served on a plain listener is judged as served there.
    """
    allowed = listener.get("allowedRoutes")
    allowed = allowed if isinstance(allowed, Mapping) else {}
    namespaces = allowed.get("namespaces")
    source = namespaces.get("from") if isinstance(namespaces, Mapping) else None
    if (source or "Same") == "Same" and gateway_ns != route_ns:
        return False
    kinds = allowed.get("kinds")
    if isinstance(kinds, list) and kinds:
        return any(isinstance(k, Mapping) and k.get("kind") == kind for k in kinds)
    # the default kinds: HTTP and HTTPS listeners admit HTTPRoutes and GRPCRoutes
    return str(listener.get("protocol") or "") in ("HTTP", "HTTPS")


def _redirect_only(spec: Mapping[str, Any]) -> bool:
    rules = [r for r in spec.get("rules") or () if isinstance(r, Mapping)]

    def redirects(rule: Mapping[str, Any]) -> bool:
        filters = [f for f in rule.get("filters") or () if isinstance(f, Mapping)]
        redirect = [f.get("requestRedirect") for f in filters if f.get("type") == "RequestRedirect"]
        return (
            not rule.get("backendRefs")
            and bool(redirect)
            and all(isinstance(r, Mapping) and r.get("scheme") == "https" for r in redirect)
        )

    return bool(rules) and all(redirects(r) for r in rules)


class GatewayRouteAnalyzer(Analyzer):
    """Resolves HTTPRoute and GRPCRoute parents to the Gateway listeners that admit them."""

    name = "gateway"
    provides = ("gatewayRoute",)
    reads = ((GROUP, "Gateway"), *((GROUP, kind) for kind in ROUTE_KINDS))

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """One ``gatewayRoute`` fact per route."""
        gateways: dict[tuple[str, str], Resource] = {}
        for index in inventory.of_kind("Gateway", groups=(GROUP,)):
            gateway = inventory.resources[index]
            gateways[(gateway.ref.namespace, gateway.ref.name)] = gateway
        external = [str(p) for p in params.get("externalGateways") or ()]
        result = AnalyzerResult()
        for kind in ROUTE_KINDS:
            for index in inventory.of_kind(kind, groups=(GROUP,)):
                route = inventory.resources[index]
                fact = _route(route, gateways, external)
                result.facts[index] = {"gatewayRoute": fact}
        return result


def _route(
    route: Resource, gateways: Mapping[tuple[str, str], Resource], external: list[str]
) -> dict[str, Any]:
    spec = _spec(route)
    namespace = route.ref.namespace
    listeners: list[dict[str, Any]] = []
    unresolved: set[str] = set()
    for parent in spec.get("parentRefs") or ():
        if not isinstance(parent, Mapping) or parent.get("kind", "Gateway") != "Gateway":
            continue
        key = (str(parent.get("namespace") or namespace), str(parent.get("name") or ""))
        shown = "/".join(key)
        gateway = gateways.get(key)
        if gateway is None:
            if not any(fnmatchcase(shown, p) for p in external):
                unresolved.add(shown)
            continue
        for listener in _spec(gateway).get("listeners") or ():
            if not isinstance(listener, Mapping):
                continue
            if parent.get("sectionName") not in (None, listener.get("name")):
                continue
            if parent.get("port") not in (None, listener.get("port")):
                continue
            if _admits(listener, key[0], namespace, route.ref.kind):
                listeners.append(
                    {
                        "gateway": shown,
                        "listener": str(listener.get("name") or ""),
                        "protocol": str(listener.get("protocol") or ""),
                        "port": listener.get("port"),
                    }
                )
    plain = [
        f"{entry['gateway']}:{entry['listener']} ({entry['protocol'] or 'no protocol'})"
        for entry in listeners
        if entry["protocol"] not in TLS_PROTOCOLS
    ]
    return {
        "listeners": listeners,
        "plainListeners": sorted(set(plain)),
        "unresolvedParents": sorted(unresolved),
        "redirectOnly": _redirect_only(spec),
    }
