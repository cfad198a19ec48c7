"""A hostile rule in the scanned repository's own rule folder cannot hang the scan: CEL
cost is estimated before each evaluation and each rule has a time budget (#12)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.celcost import Budget, Extent, Shape, estimate
from scanner.celrt import SharedExtent, activation

from .conftest import custom_rule_repo

CONTAINERS = "object.spec.template.spec.containers"


def _deployment(name: str, containers: int, note: str = "x") -> str:
    items = "".join(f"        - {{name: c{i}, image: x}}\n" for i in range(containers))
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: prod,"
        f" annotations: {{note: '{note}'}}}}\n"
        f"spec:\n  template:\n    spec:\n      containers:\n{items}---\n"
    )


def _memory_cap() -> None:
    cap = 4 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _scan(root: Path, rule_id: str, expr: str, budget_s: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    custom_rule_repo(root, rule_id, f'assert: "{expr}"\nmessage: never')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    if budget_s is not None:
        env["LEDGERGATE_CEL_RULE_BUDGET_S"] = budget_s
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "repo", str(root), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=_memory_cap,  # without the budget the first test would eat the machine
    )
    assert done.returncode == 1, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    # passes are counted per rule in the JSON report, not listed
    passes = sum(p["count"] for p in doc.get("passes", ()) if p["ruleId"] == rule_id)
    listed = [f for f in doc["findings"] if f["ruleId"] == rule_id]
    return listed + [{"status": "pass", "message": ""}] * passes


def test_a_comprehension_allocating_per_iteration_is_refused_unrun(tmp_path: Path) -> None:
    # 2,000 iterations each splitting a 1 MB annotation: on the old code the process
    # grows until the kernel kills it (or the 120 s timeout below hits)
    (tmp_path / "d.yaml").write_text(_deployment("big", 2000, "a," * 500_000))
    expr = f"{CONTAINERS}.all(c, object.metadata.annotations.note.split(',').size() > 1)"
    (finding,) = _scan(tmp_path, "LG-TEST-930", expr)
    assert finding["status"] == "error"
    assert "CEL cost limit" in finding["message"] and "estimated cost" in finding["message"]


def test_nested_comprehensions_stop_at_the_runtime_iteration_limit(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(_deployment("big", 500))
    expr = f"{CONTAINERS}.all(a, {CONTAINERS}.all(b, {CONTAINERS}.all(c, a.name != '')))"
    (finding,) = _scan(tmp_path, "LG-TEST-932", expr)
    assert finding["status"] == "error"
    assert "more than 10,000 comprehension iterations" in finding["message"]


def test_a_rule_past_its_time_budget_becomes_error_for_the_rest(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text("".join(_deployment(f"d{i}", 90) for i in range(3)))
    expr = f"{CONTAINERS}.all(a, {CONTAINERS}.exists(b, a.name == b.name))"
    findings = _scan(tmp_path, "LG-TEST-931", expr, budget_s="0")
    statuses = sorted(f["status"] for f in findings)
    assert statuses == ["error", "error", "pass"]
    assert all("evaluation budget" in f["message"] for f in findings if f["status"] == "error")


@pytest.mark.parametrize(
    ("source", "depth", "allocates"),
    [
        ("object.a.all(x, x > 1)", 1, False),
        ("object.a.all(x, object.b.exists(y, x == y))", 2, False),
        ("[object.a].all(a, a.all(x, x > 1))", 1, False),  # a let-binding, not a loop
        ("'.all(' + '.map(x, x)'.lowerAscii()", 0, False),  # string literals are data
        ("object.s.split(',').exists(p, p == 'x')", 1, False),  # one split, outside
        ("object.a.exists(p, object.s.split(',').size() > p)", 1, True),
        ("object.a.map(x, x + 'y')", 1, True),
        ("object.l[0].map(x, x.map(y, y.map(z, z)))", 3, False),
    ],
)
def test_shape_counts_comprehension_nesting(source: str, depth: int, allocates: bool) -> None:
    assert Shape.of(source) == Shape(depth, allocates)


def test_estimate_counts_allocation_per_iteration() -> None:
    extent = Extent.of({"object": {"a": list(range(50)), "s": "x" * 1_000_000}})
    assert estimate(Shape(2, False), extent) == 2_500
    assert estimate(Shape(3, False), extent) == 10_000  # the runtime stops there
    assert estimate(Shape(1, True), extent) == 50_000_000
    assert estimate(Shape(2, True), extent) == 2_500_000_000
    assert Budget(1.0).refusal(Shape(2, True), extent) is not None
    assert Budget(1.0).refusal(Shape(1, True), extent) is None


def test_shared_extent_of_the_parameters_counts_as_if_measured_with_each_resource() -> None:
    """The engine measures the parameters once per scan; a large parameter list still
    bounds every resource's estimate, exactly as measuring it per resource would."""
    params = {"approvedRegistries": [f"r{i}.example" for i in range(400)], "s": "p" * 5000}
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "a" * 70}]}}}}
    variables = {"object": obj, "params": params, "podSpec": obj["spec"]["template"]["spec"]}
    shared = SharedExtent(Extent.of({"params": params}), frozenset({"params", "podSpec"}))
    bound = activation(variables, shared)
    assert bound.extent() == Extent.of(variables) == Extent(400, 5000)
    small = activation({"object": {"a": list(range(3))}, "params": {}}, shared)
    assert small.extent() == Extent(400, 5000)  # the scan's parameters still count
