"""Pre-merge mode reuses what it already loaded: the gate's catalogue of shipped severities
comes from the trusted rule set, not from loading every pack a second time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scanner.config import Config, load_config
from scanner.model import Severity
from scanner.pipeline import load_ruleset
from scanner.premerge import shipped_severities


def _loaded_again(config: Config) -> dict[str, str]:
    """The catalogue as a second load of every pack gives it (the previous way)."""
    every = replace(config, include=("*",), exclude_rules=(), severity_overrides={})
    return {r.id: r.severity.value for r in load_ruleset(every)}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"exclude_rules": ("LG-IMG-*", "LG-SEC-004")},
        {"include": ("LG-RBAC-*",)},
        {"severity_overrides": {"LG-WKL-001": Severity.LOW, "LG-IMG-002": Severity.INFO}},
        {"include": ("LG-WKL-*", "LG-CHG-*"), "severity_overrides": {"LG-WKL-001": Severity.LOW}},
    ],
    ids=["defaults", "excluded", "included", "overridden", "all three"],
)
def test_the_catalogue_equals_a_second_load(changes: dict[str, object]) -> None:
    config = replace(load_config(None), **changes)  # type: ignore[arg-type]
    catalogue = shipped_severities(load_ruleset(config))
    assert catalogue == _loaded_again(config)
    assert list(catalogue) == sorted(catalogue)
    if "severity_overrides" in changes:
        assert catalogue["LG-WKL-001"] == "critical"  # as shipped, not as overridden
