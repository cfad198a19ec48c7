"""Rules that need an analyzer's facts fail closed: ``error`` with a reason, never ``pass``."""

from __future__ import annotations

from pathlib import Path

from scanner.analyzers import default_analyzers
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.rules import RuleSet, load_rules
from scanner.ruletest import run_fixture
from scanner.sources.repo import RepoSource

DIGEST = "sha256:" + "4f1c7a9b" * 8
SIGNED_DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: odoo, namespace: finance-prod}}
spec:
  selector: {{matchLabels: {{app: odoo}}}}
  template:
    metadata: {{labels: {{app: odoo}}}}
    spec:
      containers:
        - {{name: odoo, image: "registry.finance.internal/erp/odoo:17.0@{DIGEST}"}}
"""


def _signature_rule() -> RuleSet:
    return load_rules(include=["LG-IMG-006"])


def _judge(folder: Path) -> list[tuple[str, str, str]]:
    inventory = Inventory.from_items(RepoSource(folder).collect())
    engine = Engine(_signature_rule(), default_params(), default_analyzers())
    findings, _ = engine.run(inventory)
    return [(f.rule_id, f.status.value, f.message) for f in findings]


def test_signature_rule_without_image_report_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(SIGNED_DEPLOYMENT)
    assert _judge(tmp_path) == [
        (
            "LG-IMG-006",
            "error",
            "rule could not be evaluated: fact 'imageReport' is not available: "
            "no analyzer in this scan provides it",
        )
    ]


def test_signature_rule_outside_production_does_not_apply(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(SIGNED_DEPLOYMENT.replace("finance-prod", "sandbox"))
    assert _judge(tmp_path) == []


def test_image_without_a_report_entry_is_an_error_not_a_pass(tmp_path: Path) -> None:
    facts = """\
---
apiVersion: ruletest.ledgergate.io/v1
kind: FixtureFacts
metadata: {name: partial}
target: {kind: Deployment, name: odoo}
facts:
  imageReport:
    "registry.finance.internal/erp/other:1.0": {signature: {verified: true}}
"""
    fixture = tmp_path / "pass.partial-report.yaml"
    fixture.write_text(SIGNED_DEPLOYMENT + facts)
    rule = _signature_rule().get("LG-IMG-006")
    assert rule is not None
    outcome = run_fixture(rule, fixture, default_params())
    assert not outcome.ok
    assert outcome.detail.startswith("error: rule could not be evaluated")


def test_fixture_facts_reach_only_their_target(tmp_path: Path) -> None:
    facts = """\
---
apiVersion: ruletest.ledgergate.io/v1
kind: FixtureFacts
metadata: {name: wrong-target}
target: {kind: Deployment, name: not-odoo}
facts:
  imageReport: {}
"""
    fixture = tmp_path / "pass.wrong-target.yaml"
    fixture.write_text(SIGNED_DEPLOYMENT + facts)
    rule = _signature_rule().get("LG-IMG-006")
    assert rule is not None
    outcome = run_fixture(rule, fixture, default_params())
    assert (outcome.ok, outcome.detail) == (
        False,
        "error: rule could not be evaluated: fact 'imageReport' is not available: "
        "no analyzer in this scan provides it",
    )


def test_failed_analyzer_reason_is_reported(tmp_path: Path) -> None:
    from collections.abc import Mapping
    from typing import Any

    from scanner.analyzers import Analyzer, AnalyzerResult

    class BrokenImages(Analyzer):
        name = "images"
        provides = ("imageReport",)

        def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
            raise TimeoutError("registry.finance.internal did not answer in 10s")

    (tmp_path / "deploy.yaml").write_text(SIGNED_DEPLOYMENT)
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    engine = Engine(_signature_rule(), default_params(), [*default_analyzers(), BrokenImages()])
    findings, _ = engine.run(inventory)
    assert [(f.status, f.message) for f in findings] == [
        (
            Status.ERROR,
            "rule could not be evaluated: fact 'imageReport' is not available: "
            "TimeoutError: registry.finance.internal did not answer in 10s",
        )
    ]
