"""Traefik analyzer: exact route facts (TLSOption and middleware resolution) from real manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.analyzers.traefik import TraefikAnalyzer
from scanner.inventory import Inventory
from scanner.sources.repo import RepoSource

MIDDLEWARES = """\
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: hsts, namespace: shared}
spec:
  headers: {stsSeconds: 63072000, stsIncludeSubdomains: true}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: secure, namespace: finance-prod}
spec:
  chain:
    middlewares:
      - {name: hsts, namespace: shared}
      - {name: ratelimit}
      - {name: secure}
---
apiVersion: traefik.containo.us/v1alpha1
kind: Middleware
metadata: {name: legacy-hsts, namespace: finance-prod}
spec:
  headers:
    customResponseHeaders:
      Strict-Transport-Security: "max-age=600; includeSubDomains"
---
apiVersion: traefik.io/v1alpha1
kind: TLSOption
metadata: {name: finance-tls, namespace: finance-prod}
spec: {minVersion: VersionTLS13, sniStrict: true}
"""
ROUTES = """\
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: erp, namespace: finance-prod}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(`erp.example`)
      middlewares:
        - {name: secure}
        - {name: auth@file}
    - match: Host(`erp.example`) && PathPrefix(`/legacy`)
      middlewares:
        - {name: legacy-hsts@kubernetescrd}
        - {name: gone}
  tls:
    options: {name: finance-tls}
---
apiVersion: traefik.containo.us/v1alpha1
kind: IngressRoute
metadata: {name: reports, namespace: finance-prod}
spec:
  routes:
    - match: Host(`reports.example`)
  tls:
    options: {name: finance-tls, namespace: elsewhere}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: plain, namespace: finance-dev}
spec:
  routes:
    - match: Host(`dev.example`)
"""
DEFAULT_OPTION = """\
apiVersion: traefik.io/v1alpha1
kind: TLSOption
metadata: {name: default, namespace: traefik}
spec: {minVersion: VersionTLS12}
"""


def _route_facts(tmp_path: Path, files: dict[str, str]) -> dict[str, Any]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    inv = Inventory.from_items(RepoSource(tmp_path).collect())
    result = TraefikAnalyzer().analyze(inv, {})
    return {inv.resources[i].ref.name: f["traefikRoute"] for i, f in result.facts.items()}


def test_routes_resolve_chains_providers_and_missing_references(tmp_path: Path) -> None:
    facts = _route_facts(tmp_path, {"mw.yaml": MIDDLEWARES, "routes.yaml": ROUTES})
    assert facts == {
        "erp": {
            "tls": True,
            "tlsOption": {
                "ref": "finance-prod/finance-tls",
                "explicit": True,
                "found": True,
                "minVersion": "VersionTLS13",
                "sniStrict": True,
            },
            "routes": [
                {
                    "match": "Host(`erp.example`)",
                    # the chain expands; its self-reference is followed once only
                    "middlewares": ["finance-prod/secure", "shared/hsts"],
                    "hstsSeconds": 63072000,
                    "hstsIncludeSubdomains": True,
                    "missing": ["finance-prod/ratelimit"],  # each route names its own
                },
                {
                    "match": "Host(`erp.example`) && PathPrefix(`/legacy`)",
                    "middlewares": ["finance-prod/legacy-hsts"],
                    "hstsSeconds": 600,
                    "hstsIncludeSubdomains": True,
                    "missing": ["finance-prod/gone"],
                },
            ],
            "missingMiddlewares": ["finance-prod/gone", "finance-prod/ratelimit"],
            "externalMiddlewares": ["auth@file"],
            "plainEntryPoints": [],
        },
        "reports": {
            "tls": True,
            "tlsOption": {
                "ref": "elsewhere/finance-tls",
                "explicit": True,
                "found": False,
                "minVersion": "",
                "sniStrict": False,
            },
            "routes": [
                {
                    "match": "Host(`reports.example`)",
                    "middlewares": [],
                    "hstsSeconds": 0,
                    "hstsIncludeSubdomains": False,
                    "missing": [],
                }
            ],
            "missingMiddlewares": [],
            "externalMiddlewares": [],
            "plainEntryPoints": [],
        },
        "plain": {
            "tls": False,
            "tlsOption": {
                "ref": "default",
                "explicit": False,
                "found": False,
                "minVersion": "",
                "sniStrict": False,
            },
            "routes": [
                {
                    "match": "Host(`dev.example`)",
                    "middlewares": [],
                    "hstsSeconds": 0,
                    "hstsIncludeSubdomains": False,
                    "missing": [],
                }
            ],
            "missingMiddlewares": [],
            "externalMiddlewares": [],
            # no entryPoints and no static configuration in the scan: Traefik's defaults
            "plainEntryPoints": ["(Traefik's default entry points)"],
        },
    }


def test_implicit_default_tls_option_is_resolved(tmp_path: Path) -> None:
    facts = _route_facts(tmp_path, {"routes.yaml": ROUTES, "default.yaml": DEFAULT_OPTION})
    assert facts["plain"]["tlsOption"] == {
        "ref": "traefik/default",
        "explicit": False,
        "found": True,
        "minVersion": "VersionTLS12",
        "sniStrict": False,
    }


def test_no_routes_no_facts(tmp_path: Path) -> None:
    assert _route_facts(tmp_path, {"mw.yaml": MIDDLEWARES}) == {}


HOSTILE = """\
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: weird, namespace: finance-prod}
spec: "not a mapping"
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: odd, namespace: finance-prod}
spec:
  routes:
    - "not a route"
    - match: Host(`x`)
      middlewares: [plain-string, {name: weird}]
  tls:
    options: {name: tls@file}
"""


def test_malformed_shapes_become_missing_facts_not_crashes(tmp_path: Path) -> None:
    facts = _route_facts(tmp_path, {"odd.yaml": HOSTILE})
    assert facts["odd"]["routes"] == [
        {
            "match": "Host(`x`)",
            "middlewares": ["finance-prod/weird"],
            "hstsSeconds": 0,
            "hstsIncludeSubdomains": False,
            "missing": ["finance-prod/(malformed reference 'plain-string')"],
        }
    ]
    assert facts["odd"]["missingMiddlewares"] == [
        "finance-prod/(malformed reference 'plain-string')"
    ]
    assert facts["odd"]["tlsOption"]["ref"] == "tls@file"
    assert facts["odd"]["tlsOption"]["found"] is False
