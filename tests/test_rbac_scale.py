"""The synthetic estate of the benchmark: two independent code paths must agree."""

from __future__ import annotations

import pytest

from bench.bench_rbac import synthetic_inventory
from scanner.config import default_params
from scanner.rbac.analysis import analyze
from scanner.rbac.effective import RbacIndex, Request


@pytest.fixture(scope="module")
def index() -> RbacIndex:
    return RbacIndex.build(synthetic_inventory(roles=200, bindings=500))


@pytest.mark.parametrize(
    "request_",
    [
        Request("create", "pods", "", "exec", "finance-prod-3"),
        Request("delete", "schedules", "velero.io"),
        Request("get", "secrets", "", "", "team-7"),
        Request("patch", "applications", "argoproj.io", "", "finance-prod-0"),
    ],
    ids=lambda r: r.display(),
)
def test_who_can_agrees_with_every_subjects_direct_grants(
    index: RbacIndex, request_: Request
) -> None:
    """who-can (bindings -> subjects and members) equals the brute force over every subject."""
    expected = set()
    for subject in index.subjects():
        for grant in index.grants(subject):
            if request_.namespace is not None and not grant.covers_namespace(request_.namespace):
                continue
            if grant.rule.allows_some_name(
                request_.verb, request_.group, request_.resource, request_.subresource
            ):
                expected.add(subject.id)
    found = {s.id for s, _ in index.who_can(request_)}
    assert found == expected
    assert found, "the synthetic estate should grant this to someone"


def test_analysis_is_deterministic() -> None:
    params = {**default_params(), "productionNamespaces": ["finance-prod-*"]}
    first = analyze(synthetic_inventory(roles=200, bindings=500), params)
    second = analyze(synthetic_inventory(roles=200, bindings=500), params)
    assert [r.to_fact() for r in first.subjects] == [r.to_fact() for r in second.subjects]
    assert any(r.conflicts for r in first.subjects)
