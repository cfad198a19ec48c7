"""A rule author can point the tools at one pack folder; fixtures there are not rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from scanner.rules import load_rules, rule_files
from scanner.ruletest import fixtures_of
from scanner.shipped import rules_dir


@pytest.mark.parametrize("pack", ["rbac", "secrets", "images"])
def test_one_pack_folder_loads_only_its_rules(pack: str) -> None:
    folder = rules_dir() / pack
    assert {p.stem for p in rule_files([folder])} == {p.stem for p in folder.glob("LG-*.yaml")}


def test_rules_test_on_one_pack(run_cli: Callable[..., Result]) -> None:
    folder = rules_dir() / "images"
    cases = sum(len(fixtures_of(rule)) for rule in load_rules([folder]))
    result = run_cli("rules", "test", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"{cases} passed, 0 failed")
