"""Gateway API routes resolved to the listeners that admit them (LG-ENC-014's facts)."""

from __future__ import annotations

from typing import Any

from scanner.analyzers.gateway import GatewayRouteAnalyzer

from .test_analyzer_retention import _facts

GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "edge", "namespace": "net"},
    "spec": {
        "listeners": [
            {"name": "http", "protocol": "HTTP", "port": 80},
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": 443,
                "allowedRoutes": {"namespaces": {"from": "All"}},
            },
            {
                "name": "grpc-only",
                "protocol": "HTTP",
                "port": 8080,
                "allowedRoutes": {"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]},
            },
        ]
    },
}


def _route(namespace: str, parent: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": namespace},
        "spec": {"parentRefs": [parent], "rules": [{"backendRefs": [{"name": "s"}]}]},
    }


def _plain(route: dict[str, Any]) -> dict[str, Any]:
    facts = _facts(GatewayRouteAnalyzer(), GATEWAY, route)
    return dict(facts[0]["gatewayRoute"])


def test_listener_admission_follows_namespace_port_and_kind() -> None:
    # same namespace, no sectionName: admitted by http and https (not the GRPCRoute-only one)
    same = _plain(_route("net", {"name": "edge"}))
    assert same["plainListeners"] == ["net/edge:http (HTTP)"]
    assert len(same["listeners"]) == 2
    # another namespace: http admits only its own namespace, so only https is left
    other = _plain(_route("app", {"name": "edge", "namespace": "net"}))
    assert other["plainListeners"] == [] and other["unresolvedParents"] == []
    # by port
    by_port = _plain(_route("net", {"name": "edge", "port": 80}))
    assert by_port["plainListeners"] == ["net/edge:http (HTTP)"]


def test_a_parent_outside_the_scan_is_unresolved() -> None:
    fact = _plain(_route("app", {"name": "elsewhere"}))
    assert fact["unresolvedParents"] == ["app/elsewhere"] and fact["listeners"] == []
