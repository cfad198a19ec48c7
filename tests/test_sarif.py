"""SARIF output: valid against the official 2.1.0 schema and shaped for GitHub code scanning."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from scanner.config import find_config, load_config
from scanner.pipeline import scan_repo
from scanner.reporters.sarif import build_log

from .conftest import FIXTURE_REPOS


def _log() -> dict:  # type: ignore[type-arg]
    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    return build_log(scan_repo(repo, load_config(find_config(repo, None))))


def test_sarif_validates_against_official_schema(testdata: Path) -> None:
    schema = json.loads((testdata / "sarif" / "sarif-schema-2.1.0.json").read_text())
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(_log()))
    assert errors == []


def test_sarif_meets_github_expectations() -> None:
    run = _log()["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert run["results"], "the noncompliant repo must produce results"
    for result in run["results"]:
        rule = rules[result["ruleId"]]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert float(rule["properties"]["security-severity"]) > 0
        assert result["partialFingerprints"]["ledgergate/v1"]
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert not artifact["uri"].startswith("/")
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


def test_input_errors_are_results_and_notifications(tmp_path: Path, testdata: Path) -> None:
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    log = build_log(scan_repo(tmp_path, load_config(None)))
    schema = json.loads((testdata / "sarif" / "sarif-schema-2.1.0.json").read_text())
    assert list(jsonschema.Draft4Validator(schema).iter_errors(log)) == []
    run = log["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["input/parse-error"]
    assert run["results"][0]["kind"] == "open"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "broken.yaml" in json.dumps(notes)


def test_sarif_region_points_at_the_offending_field() -> None:
    from .conftest import marker_lines

    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    marks = {(p, r): line for p, r, line in marker_lines(repo)}
    results = [r for r in _log()["runs"][0]["results"] if r["ruleId"] == "LG-IMG-001"]
    assert results
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        key = (physical["artifactLocation"]["uri"], "LG-IMG-001")
        assert physical["region"]["startLine"] == marks[key]


def test_artifact_uris_are_percent_encoded(tmp_path: Path) -> None:
    from scanner.cliutil import load_scan_config
    from scanner.pipeline import scan_repo
    from scanner.reporters.sarif import SarifReporter

    (tmp_path / "dir x").mkdir()
    (tmp_path / "dir x" / "a b#c%ü?.yaml").write_text("kind: [broken\n")
    result = scan_repo(tmp_path, load_scan_config(tmp_path, None))
    sarif = json.loads(SarifReporter().render(result))
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
        for loc in r.get("locations", [])
    }
    assert uris == {"dir%20x/a%20b%23c%25%C3%BC%3F.yaml"}
