"""The engine hands its outcome forward: a stream of findings and the analyzers that failed,
returned by ``judge`` rather than left on a mutable attribute for the pipeline to read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.synth import generate
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.config import load_config
from scanner.engine import AnalyzerFailure, Engine
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.pipeline import load_ruleset
from scanner.rules import RuleSet
from scanner.sources.repo import RepoSource


class Broken(Analyzer):
    name = "rbac"
    provides = ("rbacSubject",)

    def analyze(self, inventory: Inventory, params: object) -> AnalyzerResult:
        raise RuntimeError("rolebinding index exploded")


def _setup(tmp_path: Path) -> tuple[RuleSet, Inventory]:
    generate(tmp_path / "repo", 20)
    rules = RuleSet(r for r in load_ruleset(load_config(None)) if r.family == "rbac")
    return rules, Inventory.from_items(RepoSource(tmp_path / "repo").collect())


def test_failures_are_returned_with_the_findings(tmp_path: Path) -> None:
    rules, inventory = _setup(tmp_path)
    engine = Engine(rules, {}, [Broken()])
    judgement = engine.judge(inventory)
    assert judgement.failures == (
        AnalyzerFailure("rbac", ("rbacSubject",), "RuntimeError: rolebinding index exploded"),
    )
    assert not hasattr(engine, "failures")  # nothing for a later stage to read off the engine
    errors = [f for f in judgement.findings if "rbacSubject" in f.message]
    assert errors
    assert all(f.status is Status.ERROR for f in errors)
    assert all("rolebinding index exploded" in f.message for f in errors)


def test_a_second_run_does_not_inherit_the_first_runs_failures(tmp_path: Path) -> None:
    """State is per run: the same engine judging again after a fix reports no failure."""
    rules, inventory = _setup(tmp_path)
    engine = Engine(rules, {}, [Broken()])
    assert engine.judge(inventory).failures
    engine.analyzers = []
    assert engine.judge(inventory).failures == ()


def test_findings_are_a_stream_in_inventory_order(tmp_path: Path) -> None:
    """One process: findings are yielded as judged, so a caller can drop passes as they come."""
    rules, inventory = _setup(tmp_path)
    engine = Engine(rules, {}, [])
    stream = engine.judge(inventory).findings
    assert isinstance(stream, Iterator)
    first = next(stream)
    rest = list(stream)
    listed, _ = Engine(rules, {}, []).run(inventory)
    assert [first, *rest] == listed
    assert any(f.status is Status.PASS for f in listed)


def test_findings_on_one_object_share_read_only_parts_with_the_same_json(
    tmp_path: Path,
) -> None:
    """The document shares ``resource``/``controls`` dicts between findings; its JSON is the
    same bytes as one built finding by finding."""
    import json

    from scanner.pipeline import scan_repo
    from scanner.reporters.base import finding_to_dict
    from scanner.reporters.json import encode_json, result_to_dict

    generate(tmp_path / "repo", 30)
    result = scan_repo(tmp_path / "repo", load_config(None))
    doc = result_to_dict(result, full=True)
    alone = [finding_to_dict(f) for f in result.findings]
    assert json.dumps(doc["findings"], sort_keys=True) == json.dumps(alone, sort_keys=True)
    assert encode_json(doc) == (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    by_ref: dict[str, list[int]] = {}
    for f in doc["findings"]:
        if f["resource"]:
            by_ref.setdefault(json.dumps(f["resource"], sort_keys=True), []).append(
                id(f["resource"])
            )
    assert any(len(ids) > 1 for ids in by_ref.values())
    assert all(len(set(ids)) == 1 for ids in by_ref.values())


def test_the_analyzers_derive_each_workloads_containers_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each analyzer asked for every object's containers again (nine derivations per
    workload at nightly scale). While they run, each is derived once."""
    from scanner import inventory as inventory_module
    from scanner.analyzers import default_analyzers

    generate(tmp_path / "repo", 20)
    inventory = Inventory.from_items(RepoSource(tmp_path / "repo").collect())
    derived: list[int] = []  # one entry per derivation
    real = inventory_module.containers_of

    def counted(pod_spec: object, prefix: str = "") -> list[dict[str, object]]:
        derived.append(1)
        return real(pod_spec, prefix)  # type: ignore[arg-type]

    monkeypatch.setattr(inventory_module, "containers_of", counted)
    engine = Engine(load_ruleset(load_config(None)), {}, default_analyzers(None))
    engine._apply_analyzers(inventory)
    assert any(inventory_module.pod_spec_of(r) is not None for r in inventory.resources)
    assert derived
    assert len(derived) <= len(inventory.resources)  # once per object, three times before
    assert inventory_module._memo is None  # the memo never outlives the analyzers
