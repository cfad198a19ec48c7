"""Every output points at the offending field's line (and SARIF at its columns), not at
the object's first line: ``node-agent.yaml`` sets its bad fields 17 to 37 lines below
``kind: DaemonSet``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from functools import cache

from scanner.cli.util import load_scan_config
from scanner.findings import ScanResult
from scanner.pipeline import scan_repo
from scanner.reporters import get_reporter
from scanner.reporters.base import pinpoint

from .conftest import FIXTURE_REPOS, marker_lines

REPO = FIXTURE_REPOS / "odoo-finance-noncompliant"
FILE = "platform/monitoring/node-agent.yaml"
#: rule id → the line its ``# expect:`` marker is on, in FILE (all far below line 1)
MARKS = {rule: line for path, rule, line in marker_lines(REPO) if path == FILE}
_LINES = (REPO / FILE).read_text(encoding="utf-8").splitlines()


@cache
def _result() -> ScanResult:
    return scan_repo(REPO, load_scan_config(REPO, None))


def _fails() -> set[str]:
    return {f.rule_id for f in _result().findings if f.origin.path == FILE and f.rule_id in MARKS}


def test_the_fixture_has_fields_far_below_the_object_start() -> None:
    assert len(MARKS) >= 6
    assert min(MARKS.values()) > 10
    assert _fails() == set(MARKS)


def test_table_shows_the_offending_line() -> None:
    text = get_reporter("table").render(_result())
    for rule, line in MARKS.items():
        rows = [r for r in text.splitlines() if f" {rule} " in r and FILE in r]
        assert rows, rule
        assert all(f"{FILE}:{line} " in r for r in rows), rows


def test_json_location_line_is_the_offending_line() -> None:
    doc = json.loads(get_reporter("json").render(_result()))
    seen = {}
    for f in doc["findings"]:
        loc = f["location"]
        if loc.get("path") == FILE and f["ruleId"] in MARKS and f["status"] == "fail":
            seen[f["ruleId"]] = loc["line"]
            assert loc["startLine"] < 10 < loc["line"]  # the object's span stays alongside
            assert loc["column"] > 1
    assert seen == MARKS


def test_junit_and_gitlab_use_the_same_line() -> None:
    suites = ET.fromstring(get_reporter("junit").render(_result()))
    junit = {
        c.get("classname"): c.get("line")
        for c in suites.iter("testcase")
        if c.get("file", "").endswith(FILE)
    }
    assert {rule: junit[rule] for rule in MARKS} == {r: str(n) for r, n in MARKS.items()}
    quality = json.loads(get_reporter("gitlab-codequality").render(_result()))
    lines = {
        q["check_name"]: q["location"]["lines"]["begin"]
        for q in quality
        if q["location"]["path"].endswith(FILE)
    }
    assert {rule: lines[rule] for rule in MARKS} == MARKS


def test_sarif_regions_carry_the_fields_columns() -> None:
    text = _LINES
    log = json.loads(get_reporter("sarif").render(_result()))
    checked = 0
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        if not physical["artifactLocation"]["uri"].endswith(FILE):
            continue
        if result["ruleId"] not in MARKS:
            continue
        region = physical["region"]
        assert region["startLine"] == MARKS[result["ruleId"]]
        source = text[region["startLine"] - 1]
        key = source[region["startColumn"] - 1 :]
        # the region starts at the field's key (the evidence path's last step)
        assert key[:1].isalpha() or key.startswith("-"), (result["ruleId"], key)
        if "endColumn" in region:
            covered = source[region["startColumn"] - 1 : region["endColumn"] - 1]
            assert ":" in covered or covered.strip(), covered
            assert region["endColumn"] <= len(source) + 1
        checked += 1
    assert checked >= len(MARKS)


def test_a_file_inside_its_rendered_folder_is_named_once() -> None:
    text = get_reporter("table").render(_result())
    rows = [r for r in text.splitlines() if "invoice-export.yaml" in r]
    assert rows
    assert all(" → " not in r and " apps/workers/invoice-export.yaml:" in r for r in rows), rows


def test_rendered_objects_carry_the_fields_columns() -> None:
    """Helm and Kustomize output too: the region starts at the key in the file the reviewer
    edits (the patch, the base, the template) and ends past the field's one-line text."""
    checked: dict[str, int] = {}
    for f in _result().findings:
        found = pinpoint(f)
        if not f.origin.rendered_from or found is None or f.status.value != "fail":
            continue
        text = (REPO / f.origin.path).read_text(encoding="utf-8").splitlines()[found.line - 1]
        key = re.sub(r"\[.*", "", found.path.rsplit(".", 1)[-1])
        if not re.match(rf"\s*-?\s*{re.escape(key)}:", text):
            continue  # the line holds an enclosing field (the named one is not set there)
        assert found.column and found.end_column > found.column, (f.rule_id, text)
        assert text[found.column - 1 :].startswith(key), (f.rule_id, text, found.column)
        assert found.end_column - 1 <= len(text.rstrip())
        assert "# expect" not in text[found.column - 1 : found.end_column - 1]  # no comment
        kind = "helm" if f.origin.rendered_from.startswith("helm ") else "kustomize"
        checked[kind] = checked.get(kind, 0) + 1
    assert checked.get("helm", 0) >= 1 and checked.get("kustomize", 0) >= 5, checked
    log = json.loads(get_reporter("sarif").render(_result()))
    regions = [
        r["locations"][0]["physicalLocation"]["region"]
        for r in log["runs"][0]["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
            "templates/cronjob.yaml"
        )
    ]
    assert regions and all("startColumn" in g and "endColumn" in g for g in regions), regions
