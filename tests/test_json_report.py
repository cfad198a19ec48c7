"""The JSON report stays proportional to what matters: problems in full, passes counted."""

from __future__ import annotations

import json
from collections import Counter

from scanner.model import Status
from scanner.reporters.json import JsonReporter

from .conftest import scanned_fixture_repo


def test_problems_in_full_passes_as_per_rule_counts() -> None:
    result = scanned_fixture_repo()
    doc = json.loads(JsonReporter().render(result))
    plain = Counter(f.rule_id for f in result.findings if f.status is Status.PASS)
    assert sum(plain.values()) > 0
    listed = Counter(f["status"] for f in doc["findings"])
    problems = Counter(f.status.value for f in result.findings if f.status is not Status.PASS)
    assert {k: v for k, v in listed.items() if k != "pass"} == dict(problems)
    assert "pass" not in listed  # a pass that recorded evidence too: it is in the population
    assert {p["ruleId"]: p["count"] for p in doc["passes"]} == dict(plain)
    assert doc["summary"]["pass"] == sum(1 for f in result.findings if f.status is Status.PASS)
    rules = {r.id: r for r in result.rules}
    for p in doc["passes"]:
        assert p["controls"] == [
            {"framework": c.framework, "id": c.id} for c in rules[p["ruleId"]].controls
        ]


def test_the_bundle_document_keeps_every_finding() -> None:
    result = scanned_fixture_repo()
    doc = json.loads(JsonReporter(full=True).render(result))
    assert len(doc["findings"]) == len(result.findings)
    assert "passes" not in doc
