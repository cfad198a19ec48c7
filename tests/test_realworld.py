"""Accuracy on public manifests this project did not write (tests/realworld, bench/accuracy.py).

The floors are the figures measured when the cases were labelled; a change that lowers any
family's precision or recall below them fails here. Raise a floor when accuracy improves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.accuracy import DEFAULT_CASES, evaluate

#: (precision, recall) per family, as measured (bench/accuracy.py, 233 cases).
FLOORS = {
    "backup": (1.0, 1.0),
    "encryption": (1.0, 1.0),
    "images": (1.0, 1.0),
    "rbac": (1.0, 1.0),
    "secrets": (1.0, 1.0),
    "traefik-tls": (1.0, 1.0),
    "workloads": (1.0, 1.0),
}


@pytest.fixture(scope="module")
def scores():  # type: ignore[no-untyped-def]
    return evaluate()


def test_at_least_150_labelled_cases_with_their_source() -> None:
    cases = yaml.safe_load((DEFAULT_CASES / "labels.yaml").read_text())["cases"]
    assert len(cases) >= 150
    for case in cases:
        assert (DEFAULT_CASES / "cases" / case["case"]).exists(), case["case"]
        assert case["reason"].strip()
        assert {"repo", "path", "commit"} <= set(case["source"]), case["case"]
        assert case["expect"] == "clean" or isinstance(case["expect"], list)
    files = {p.name for p in Path(DEFAULT_CASES / "cases").iterdir()}
    assert files == {c["case"] for c in cases}, "every case file is labelled, and only once"


@pytest.mark.parametrize("family", sorted(FLOORS))
def test_family_does_not_drop_below_its_measured_accuracy(scores, family: str) -> None:  # type: ignore[no-untyped-def]
    precision, recall = FLOORS[family]
    score = scores[family]
    assert score.precision >= precision - 1e-9, (family, score.misses)
    assert score.recall >= recall - 1e-9, (family, score.misses)
