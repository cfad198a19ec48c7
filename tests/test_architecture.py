"""Data flows one way: a module imports only the foundations and the stages to its left."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

#: Stage of each module (by dotted prefix, longest wins); a module may import its own stage
#: and lower ones. sources -> inventory -> analyzers -> engine -> findings -> waivers ->
#: reporters, with the wiring (CLI, pipeline) on top.
STAGES: dict[str, int] = {
    "scanner.model": 0,
    "scanner.clock": 0,
    "scanner.errors": 0,
    "scanner.kinds": 0,
    "scanner.imageref": 0,
    "scanner.yamlutil": 0,
    "scanner.redaction": 0,
    "scanner.credentials": 0,
    "scanner.outputs": 0,
    "scanner.shipped": 0,
    "scanner.celrt": 0,
    "scanner.celcost": 0,
    "scanner.config": 0,
    "scanner.gatediff": 0,
    "scanner.identity": 0,
    "scanner.environment": 0,
    "scanner.rules": 0,  # compiled rule data: sources plan what to read from it
    "scanner.sources": 1,
    "scanner.inventory": 2,
    "scanner.changes": 2,  # a source of Change resources that uses the production classification
    "scanner.analyzers": 3,
    "scanner.rbac": 3,
    "scanner.images": 3,
    "scanner.engine": 4,
    "scanner.parallel": 4,
    "scanner.findings": 5,
    "scanner.scope": 5,
    "scanner.waivers": 6,
    "scanner.reporters": 7,
    "scanner.evidence": 7,
    "scanner.pipeline": 8,
    "scanner.premerge": 8,
    "scanner.changescan": 8,
    "scanner.ruletest": 8,
    "scanner.cliutil": 9,
    "scanner.cli": 9,
    "scanner.cli_rbac": 9,
    "scanner.cli_evidence": 9,
    "scanner.cli_image": 9,
    "scanner.cli_cluster": 9,
    "scanner.cli_nightly": 9,
    "scanner.cli_change": 9,
    "scanner.__main__": 9,
    "scanner": 0,
}


def _stage(module: str) -> int:
    best = max((p for p in STAGES if module == p or module.startswith(p + ".")), key=len)
    return STAGES[best]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "scanner" or m.startswith("scanner.")}


MODULES = sorted((ROOT / "scanner").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    module = _module_name(path)
    mine = _stage(module)
    backwards = sorted(m for m in _imports(path) if _stage(m) > mine)
    assert backwards == [], f"{module} (stage {mine}) imports later stages: {backwards}"


def test_every_module_has_a_stage() -> None:
    assert all(_stage(_module_name(p)) >= 0 for p in MODULES)
