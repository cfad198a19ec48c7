"""Findings kept between runs (``scanner/verdicts.py``): a hit is never a stale verdict.

Each input a verdict rests on is changed in turn; the object must be judged again (a miss)
and the result must equal what a run without any cache gives, which differs from the
verdict stored before the change (so serving the stored one would have been wrong).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scanner import cache, redaction
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.config import load_config
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Finding, Origin, Resource, ResourceRef, Status
from scanner.pipeline import scan_repo
from scanner.redaction import SecretHit
from scanner.reporters.json import JsonReporter
from scanner.rules import RuleSet, load_rules

from .conftest import FIXTURE_REPOS

TOKEN = "tok-9f8e7d6c5b4a"

RULE = """\
id: LG-TST-{n:03d}
title: Test rule {n}
severity: high
family: workloads
procedure: reads every input a verdict may rest on, to prove the cache key holds them all
controls: [{{framework: soc2, id: CC6.1}}, {{framework: nist-800-53-r5, id: CM-6}}]
match:
  resources: [{{apiGroups: [""], kinds: [ConfigMap]}}]
{extra}
assert: "{assertion}"
message: mode is forbidden
messageExpression: "resource.path + ' ' + object.data.mode + ' ' + object.data.token"
evidence: "[{{'path': 'data.mode', 'value': object.data.mode}}]"
remediation: set data.mode to an allowed value and classify the namespace
"""

JUDGES_ALL = (
    "object.data.mode != params.forbiddenMode && !namespaceObject.production"
    " && !('tainted' in namespaceObject.labels) && !('flagged' in facts)"
)


class FailingAnalyzer(Analyzer):
    """Provides a fact a rule requires, and fails with ``why``."""

    name = "flags"
    provides = ("flagged2",)

    def __init__(self, why: str) -> None:
        self.why = why

    def analyze(self, inventory: Inventory, params: Any) -> AnalyzerResult:
        raise RuntimeError(self.why)


@dataclass
class Scenario:
    """Everything one engine run reads."""

    folder: Path
    assertion: str = JUDGES_ALL
    mode: str = "ok"
    path: str = "apps/config.yaml"
    start_line: int = 1
    ns_labels: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(
        default_factory=lambda: {
            "forbiddenMode": "bad",
            "productionNamespaces": ["prod-*"],
            "nonProductionNamespaces": ["dev-*"],
        }
    )
    observed: bool = False
    secrets: list[str] = field(default_factory=list)
    failure: str = "index exploded"

    def rules(self) -> RuleSet:
        packs = self.folder / "rules"
        shutil.rmtree(packs, ignore_errors=True)
        packs.mkdir(parents=True)
        texts = {
            1: RULE.format(n=1, extra="", assertion=self.assertion),
            2: RULE.format(n=2, extra="sensitive: true", assertion="false"),
            3: RULE.format(n=3, extra="requires: [flagged2]", assertion="true"),
            4: RULE.format(n=4, extra="", assertion="false").replace(
                "  resources:", "  observedState: true\n  resources:"
            ),
        }
        for n, text in texts.items():
            (packs / f"LG-TST-{n:03d}.yaml").write_text(text, encoding="utf-8")
        # rule files' schema checks go through the cache too: the counts are verdicts only
        active = cache.active()
        counts = (active.hits, active.misses) if active is not None else (0, 0)
        loaded = load_rules([packs])
        if active is not None:
            active.hits, active.misses = counts
        return loaded

    def inventory(self) -> Inventory:
        inventory = Inventory()
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "dev-ledger"},
            "data": {"mode": self.mode, "token": TOKEN},
        }
        ref = ResourceRef("v1", "ConfigMap", "dev-ledger", "settings")
        origin = Origin(path=self.path, start_line=self.start_line, end_line=self.start_line + 7)
        inventory.add(Resource(ref, body, origin, dict(self.facts)))
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "dev-ledger", "labels": dict(self.ns_labels)},
        }
        ns_ref = ResourceRef("v1", "Namespace", "", "dev-ledger")
        inventory.add(Resource(ns_ref, namespace, Origin(path="apps/ns.yaml", start_line=1)))
        inventory.secrets[0] = [SecretHit("data.token", "token", s) for s in self.secrets]
        inventory.secrets[1] = []
        return inventory

    def judge(self) -> list[Finding]:
        engine = Engine(
            self.rules(), self.params, [FailingAnalyzer(self.failure)], observed=self.observed
        )
        findings, _ = engine.run(self.inventory())
        return [f for f in findings if f.resource and f.resource.kind == "ConfigMap"]


def _run(scenario: Scenario, store: Path) -> tuple[list[Finding], int, int]:
    """Findings with the cache at ``store``, and how many objects it served and missed."""
    active = cache.configure(store)
    assert active is not None
    found = scenario.judge()
    return found, active.hits, active.misses


def _fresh(scenario: Scenario) -> list[Finding]:
    cache.configure(None)
    return scenario.judge()


def _set(**changes: Any) -> Callable[[Scenario, pytest.MonkeyPatch], None]:
    def change(scenario: Scenario, _monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in changes.items():
            setattr(scenario, name, value)

    return change


def _more_params(scenario: Scenario, _monkeypatch: pytest.MonkeyPatch) -> None:
    scenario.params = {**scenario.params, "forbiddenMode": "ok"}


def _production(scenario: Scenario, _monkeypatch: pytest.MonkeyPatch) -> None:
    scenario.params = {**scenario.params, "productionNamespaces": ["dev-*"]}
    scenario.params["nonProductionNamespaces"] = []


def _version(_scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "__version__", "999.0.0")


def _code(_scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "code_digest", lambda: "an edited engine")


def _fingerprint_key(_scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    redaction.set_fingerprint_key(b"another organisation's key")


#: (input, how to change it). Each change alters at least one verdict of the object.
CHANGES = {
    "object body": _set(mode="bad"),
    "rule pack": _set(assertion="object.data.mode == 'never'"),
    "params": _more_params,
    "environment classification": _production,
    "namespace labels": _set(ns_labels={"tainted": "yes"}),
    "facts": _set(facts={"flagged": True}),
    "observed flag": _set(observed=True),
    "secrets to scrub": _set(secrets=[TOKEN]),
    "analyzer failures": _set(failure="index melted"),
    "file path": _set(path="apps/moved.yaml"),
    "tool version": _version,
    "tool code": _code,
    "fingerprint key": _fingerprint_key,
}


#: Inputs whose change here leaves the verdict as it was (new code may judge otherwise).
SAME_VERDICT = {"tool version", "tool code"}


@pytest.fixture(autouse=True)
def _no_key() -> Any:
    redaction.set_fingerprint_key(None)
    yield
    redaction.set_fingerprint_key(None)


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_input_of_a_verdict_makes_a_hit_a_miss(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(redaction.FINGERPRINT_KEY_ENV, raising=False)
    scenario = Scenario(tmp_path)
    store = tmp_path / "cache"
    first, hits, misses = _run(scenario, store)
    assert (hits, misses) == (0, 1)
    again, hits, misses = _run(scenario, store)
    assert (hits, misses) == (1, 0)  # unchanged: served, not judged
    assert again == first
    CHANGES[name](scenario, monkeypatch)
    changed, hits, misses = _run(scenario, store)
    assert (hits, misses) == (0, 1), f"{name}: a change must cause a re-judgement"
    truth = _fresh(scenario)
    assert changed == truth
    if name not in SAME_VERDICT:
        assert truth != first  # the stored verdict would have been stale


def test_moved_lines_are_served_with_this_runs_lines(tmp_path: Path) -> None:
    """Line numbers are no rule's input: an object pushed down its file is a hit, and its
    findings point at its new place."""
    scenario = Scenario(tmp_path)
    store = tmp_path / "cache"
    _run(scenario, store)
    scenario.start_line = 40
    moved, hits, misses = _run(scenario, store)
    assert (hits, misses) == (1, 0)
    assert moved == _fresh(scenario)
    assert {f.origin.start_line for f in moved} == {40}


def test_a_corrupt_entry_is_judged_again(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, mode="bad")
    store = tmp_path / "cache"
    first, _, _ = _run(scenario, store)
    for entry in (p for p in store.rglob("*") if p.is_file()):
        blob = bytearray(entry.read_bytes())
        blob[len(blob) // 2] ^= 0x40
        entry.write_bytes(bytes(blob))
    again, hits, misses = _run(scenario, store)
    assert (hits, misses) == (0, 1)
    assert again == first == _fresh(scenario)


def test_a_rule_whose_evaluation_raised_is_judged_every_time(tmp_path: Path) -> None:
    """A CEL error (here a missing key; the same path as a time budget) may not recur."""
    scenario = Scenario(tmp_path, assertion="object.data.absent == 'x'")
    store = tmp_path / "cache"
    first, _, _ = _run(scenario, store)
    assert any(f.status is Status.ERROR and f.rule_id == "LG-TST-001" for f in first)
    again, hits, misses = _run(scenario, store)
    assert (hits, misses) == (0, 1)
    assert again == first


def test_a_value_without_one_spelling_is_not_cached(tmp_path: Path) -> None:
    """A date and its ISO string would share a JSON spelling: such an object is judged."""
    import datetime as dt

    scenario = Scenario(tmp_path, facts={"when": dt.date(2026, 1, 2)})
    store = tmp_path / "cache"
    _run(scenario, store)
    _, hits, misses = _run(scenario, store)
    assert (hits, misses) == (0, 0)
    # two per rule file (its schema check, its compile record), none for a verdict
    rule_entries = 2 * len(list((scenario.folder / "rules").glob("*.yaml")))
    assert len([p for p in store.rglob("*") if p.is_file()]) == rule_entries


def test_no_secret_is_readable_in_the_cache(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, mode="bad")  # fails: the message spells the token
    store = tmp_path / "cache"
    findings, _, _ = _run(scenario, store)
    assert any(TOKEN in f.message for f in findings)
    written = b"".join(p.read_bytes() + p.name.encode() for p in store.rglob("*") if p.is_file())
    assert written
    assert TOKEN.encode() not in written
    assert b"mode is forbidden" not in written and b"LG-TST" not in written


def test_a_repo_scan_with_warm_verdicts_equals_one_without_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end, analyzers and secret detection included: warm, and after a change to
    one file, the report is byte-identical to a scan without any cache."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    store = tmp_path / "cache"

    def report(use: Path | None) -> tuple[str, int]:
        active = cache.configure(use)
        text = JsonReporter().render(scan_repo(repo, load_config(None)))
        return text, active.hits if active else 0

    cold, _ = report(store)
    warm, hits = report(store)
    assert hits > 0
    assert warm == cold == report(None)[0]
    deployment = repo / "apps/odoo/deployment.yaml"
    text = deployment.read_text(encoding="utf-8")
    deployment.write_text(text.replace("runAsNonRoot: true", "runAsNonRoot: false"), "utf-8")
    changed, _ = report(store)
    assert changed == report(None)[0]
    assert changed != cold
