"""Meta-tests over the registries the code keeps, so a list cannot drift from its users:
rule ``requires``/``facts.X`` <-> analyzer ``provides``; ``params.X`` in rules <->
rules/params.yaml; ``--fail-on`` choices <-> the Severity enum; packages <-> the wheel."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT

#: Rule fields that are prose for people, not CEL (a mention there reads nothing).
PROSE = {"id", "title", "rationale", "procedure", "remediation", "message", "helpUrl"}


def _rule_files() -> list[Path]:
    return sorted(p for p in (ROOT / "rules").glob("*/*.yaml") if p.parent.name != "schema")


def _expressions(value: Any, key: str = "") -> Iterator[str]:
    """Every string of a rule document outside the prose fields (CEL and its comments are
    data: YAML comments are gone once loaded)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _expressions(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v, key)
    elif isinstance(value, str) and key not in PROSE:
        yield value


def _names(pattern: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _rule_files():
        doc = yaml.safe_load(path.read_text())
        for text in _expressions(doc):
            for name in re.findall(pattern, text):
                found.setdefault(name, set()).add(doc["id"])
    return found


def _provided() -> set[str]:
    from scanner.analyzers import default_analyzers

    return {fact for analyzer in default_analyzers() for fact in analyzer.provides}


def test_every_required_fact_is_provided_by_an_analyzer() -> None:
    from scanner.rules import load_rules
    from scanner.shipped import rules_dir

    required = {n.split(".", 1)[0]: r.id for r in load_rules([rules_dir()]) for n in r.requires}
    assert len(required) > 5
    assert {f: rule for f, rule in required.items() if f not in _provided()} == {}


def test_every_fact_a_rule_reads_is_provided_and_every_provided_fact_is_read() -> None:
    read = _names(r"\bfacts\.([A-Za-z_]\w*)")
    provided = _provided()
    assert {f: sorted(r) for f, r in read.items() if f not in provided} == {}
    from scanner.rules import load_rules
    from scanner.shipped import rules_dir

    required = {n.split(".", 1)[0] for r in load_rules([rules_dir()]) for n in r.requires}
    assert sorted(provided - set(read) - required) == []


def test_every_parameter_a_rule_reads_is_defined_and_every_one_defined_is_read() -> None:
    defined = set(yaml.safe_load((ROOT / "rules" / "params.yaml").read_text()))
    used = _names(r"\bparams\.([A-Za-z_]\w*)")
    for name, rules in _names(r"\bparams\[\s*['\"](\w+)").items():
        used.setdefault(name, set()).update(rules)
    assert {p: sorted(r) for p, r in used.items() if p not in defined} == {}
    # a default nothing reads: neither a rule nor the scanner's own code (analyzers,
    # environment classification) names it
    code = "\n".join(p.read_text() for p in (ROOT / "scanner").rglob("*.py"))
    unread = sorted(p for p in defined - set(used) if f'"{p}"' not in code)
    assert unread == []


def test_fail_on_choices_are_the_severity_enum() -> None:
    from scanner.cli.util import FAIL_ON_NONE, SEVERITIES
    from scanner.model import Severity

    assert tuple(s.value for s in Severity) == SEVERITIES
    assert sorted(SEVERITIES, key=lambda s: -Severity(s).rank) == list(SEVERITIES)
    assert FAIL_ON_NONE not in SEVERITIES


def test_every_code_folder_is_a_package_the_wheel_discovers() -> None:
    """Packages are discovered (setup.py), so a folder of modules without ``__init__.py``
    would silently drop out of the wheel."""
    from setuptools import find_packages

    folders = {p.parent for p in (ROOT / "scanner").rglob("*.py") if "__pycache__" not in p.parts}
    wanted = {".".join(f.relative_to(ROOT).parts) for f in folders}
    assert wanted <= set(find_packages(str(ROOT), include=["scanner", "scanner.*"]))
