"""The fast JSON writer gives the standard encoder's text byte for byte."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import jsontext
from scanner.config import load_config
from scanner.pipeline import scan_repo
from scanner.reporters import json as json_reporter
from scanner.reporters import sarif

from .conftest import FIXTURE_REPOS


def _reference(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_docs = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_docs)
def test_same_text_as_the_standard_encoder(doc: Any) -> None:
    assert jsontext.dumps(doc) == _reference(doc)
    assert jsontext.dumpb(doc) == _reference(doc).encode()


@pytest.mark.parametrize(
    "doc",
    [
        {"small": 1e-05, "big": 1e16, "exp": 2.5e22, "tiny": 5e-324, "neg": [-1.5e-07]},
        {"text": 'caf\u00e9 \u2028 \U0001f600 \x7f \x00 \x1f "q" \\ /'},
        {"nan": math.nan},
        {"inf": [math.inf, -math.inf]},
        {"huge": 2**70},
        {"surrogate": "\udc80"},
        {2: "int keys", 1: "sorted as ints"},
        {"key 1e5": "1e5", "k": "x: 1e5"},
    ],
)
def test_edge_cases_fall_back_or_match(doc: Any) -> None:
    assert jsontext.dumps(doc) == _reference(doc)
    assert jsontext.dumpb(doc) == _reference(doc).encode()


def test_types_the_standard_encoder_refuses_still_raise() -> None:
    @dataclass
    class Point:
        x: int

    for value in (Point(1), {1, 2}, object()):
        with pytest.raises(TypeError):
            jsontext.dumps({"v": value})


@pytest.mark.parametrize("repo", ["odoo-finance-compliant", "odoo-finance-noncompliant"])
def test_fixture_repo_reports_are_unchanged(repo: str) -> None:
    result = scan_repo(FIXTURE_REPOS / repo, load_config(None))
    slim = json_reporter.result_to_dict(result)
    full = json_reporter.result_to_dict(result, full=True)
    log = json.loads(sarif.SarifReporter().render(result))
    for doc in (slim, full, log):
        assert jsontext.dumps(doc) == _reference(doc)
    assert json_reporter.JsonReporter().render(result) == _reference(slim) + "\n"
