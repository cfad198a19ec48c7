"""A kind that could not be read turns into one ``error`` per rule that judges it."""

from __future__ import annotations

from scanner.findings import coverage_errors
from scanner.model import CoverageEntry, Origin, Status
from scanner.rules import load_rules

ORIGIN = Origin(cluster="https://10.0.0.1", context="prod")


def test_each_rule_matching_an_unread_kind_reports_error() -> None:
    rules = load_rules(include=["LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"])
    gap = CoverageEntry(
        "cluster", "/apis/apps/v1/deployments", "403 Forbidden: no", ("apps/Deployment",)
    )
    found = coverage_errors([gap], rules.rules, ORIGIN)
    assert [(f.rule_id, f.status, f.resource.kind if f.resource else "") for f in found] == [
        ("LG-IMG-001", Status.ERROR, "Deployment")
    ]
    assert found[0].origin == ORIGIN and "403 Forbidden" in found[0].message
    assert found[0].controls == rules.get("LG-IMG-001").controls  # type: ignore[union-attr]


def test_core_kind_and_several_rules() -> None:
    rules = load_rules(include=["LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"])
    gap = CoverageEntry("cluster", "x", "timeout", ("Pod", "rbac.authorization.k8s.io/RoleBinding"))
    assert {f.rule_id for f in coverage_errors([gap], rules.rules, ORIGIN)} == {
        "LG-IMG-001",
        "LG-RBAC-001",
    }


def test_notes_without_kinds_add_nothing() -> None:
    note = CoverageEntry("cluster", "traefik.containo.us/IngressRoute", "CRD not installed")
    assert coverage_errors([note], load_rules().rules, ORIGIN) == []


def test_fingerprints_are_stable_and_distinct() -> None:
    rules = load_rules(include=["LG-IMG-001", "LG-RBAC-001", "LG-TLS-001"]).rules
    a = CoverageEntry("cluster", "/api/v1/pods", "timeout", ("Pod",))
    b = CoverageEntry("cluster", "/apis/apps/v1/deployments", "timeout", ("apps/Deployment",))
    first = coverage_errors([a, b], rules, ORIGIN)
    again = coverage_errors([a, b], rules, ORIGIN)
    assert [f.fingerprint for f in first] == [f.fingerprint for f in again]
    assert len({f.fingerprint for f in first}) == len(first) == 2
