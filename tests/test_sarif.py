"""SARIF output: valid against the official 2.1.0 schema and shaped for GitHub code scanning."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from scanner.config import find_config, load_config
from scanner.findings import ScanResult
from scanner.model import Severity, Status
from scanner.pipeline import scan_repo
from scanner.reporters.sarif import LIMITS, SarifReporter, build_log

from .conftest import FIXTURE_REPOS, scanned_fixture_repo


def _log() -> dict:  # type: ignore[type-arg]
    return build_log(scanned_fixture_repo())


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
    assert (run["results"][0]["kind"], run["results"][0]["level"]) == ("open", "none")
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "broken.yaml" in json.dumps(notes)


def test_sarif_region_points_at_the_offending_field() -> None:
    from .conftest import marker_lines

    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    marks = {(p, r): line for p, r, line in marker_lines(repo)}
    run = _log()["runs"][0]
    results = [r for r in run["results"] if r["ruleId"] == "LG-IMG-001"]
    assert results
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        key = (uri.removeprefix(run["properties"]["scannedPath"] + "/"), "LG-IMG-001")
        assert physical["region"]["startLine"] == marks[key]


def test_artifact_uris_are_percent_encoded(tmp_path: Path) -> None:
    from scanner.cli.util import load_scan_config
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


def _schema(testdata: Path) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(
        json.loads((testdata / "sarif" / "sarif-schema-2.1.0.json").read_text())
    )


@pytest.fixture(scope="module")
def subfolder_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """The noncompliant fixture repo as its own git repository, scanned from ``apps/``."""
    top = tmp_path_factory.mktemp("sub") / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", top)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(top)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run([*git, "add", "-A"], check=True, timeout=60)
    subprocess.run([*git, "commit", "-qm", "fixture"], check=True, timeout=60)
    scanned = top / "apps"
    result = scan_repo(scanned, load_config(find_config(top, None)))
    return top, json.loads(SarifReporter().render(result))


def test_subfolder_scan_maps_onto_the_repository_root(
    subfolder_scan: tuple[Path, dict],  # type: ignore[type-arg]
    testdata: Path,
) -> None:
    top, log = subfolder_scan
    assert list(_schema(testdata).iter_errors(log)) == []
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == top.resolve().as_uri() + "/"
    assert run["properties"]["scannedPath"] == "apps"
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert uris
    for uri in uris:
        assert uri.startswith("apps/"), uri
        assert (top / unquote(uri)).is_file(), uri
    assert run["automationDetails"]["id"] == "ledgergate/repo/"


def test_only_fail_error_and_waived_are_results_passes_are_counted(
    subfolder_scan: tuple[Path, dict],  # type: ignore[type-arg]
) -> None:
    top, log = subfolder_scan
    run = log["runs"][0]
    result = scan_repo(top / "apps", load_config(find_config(top, None)))
    statuses = Counter(f.status.value for f in result.findings)
    assert statuses["pass"] > 0
    assert {r["properties"]["status"] for r in run["results"]} <= {"fail", "error", "waived"}
    assert len(run["results"]) == statuses["fail"] + statuses["error"] + statuses["waived"]
    passes = Counter(f.rule_id for f in result.findings if f.status.value == "pass")
    assert run["properties"]["passes"] == dict(passes)
    for r in run["results"]:  # SARIF: a kind other than fail has level none
        assert r["level"] == "none" if r["kind"] != "fail" else r["level"] != "none"


def _result_of(target: dict[str, str]) -> ScanResult:
    return ScanResult.build([], [], target=target)


def test_automation_id_tells_repo_cluster_and_image_runs_apart() -> None:
    ids = {
        build_log(_result_of(t))["runs"][0]["automationDetails"]["id"]
        for t in (
            {"type": "repo", "path": "/nowhere"},
            {"type": "cluster", "server": "https://a", "context": "prod-eu"},
            {"type": "cluster", "server": "https://b", "context": "prod-us"},
            {"type": "image", "images": "x"},
        )
    }
    assert ids == {
        "ledgergate/repo/",
        "ledgergate/cluster/prod-eu/",
        "ledgergate/cluster/prod-us/",
        "ledgergate/image/",
    }


def _many(count: int) -> ScanResult:
    """``count`` failing findings of mixed severities, copied from the fixture scan."""
    base = scanned_fixture_repo()
    fails = [f for f in base.findings if f.status is Status.FAIL]
    made = [
        replace(fails[i % len(fails)], fingerprint=f"{i:08d}", severity=list(Severity)[i % 5])
        for i in range(count)
    ]
    return replace(base, findings=tuple(sorted(made, key=lambda f: f.sort_key())))


def test_above_the_result_limit_the_highest_severities_stay(
    monkeypatch: pytest.MonkeyPatch, testdata: Path
) -> None:
    monkeypatch.setitem(LIMITS, "resultsPerRun", 40)
    reporter = SarifReporter()
    log = json.loads(reporter.render(_many(100)))
    assert list(_schema(testdata).iter_errors(log)) == []
    run = log["runs"][0]
    assert len(run["results"]) == 40
    assert {r["properties"]["severity"] for r in run["results"]} == {"critical", "high"}
    assert run["properties"]["truncated"]["dropped"] == 60
    assert reporter.notes and "60 of 100 results dropped" in reporter.notes[0]


def test_above_the_gzip_size_limit_results_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    rules_only = len(gzip.compress(SarifReporter().render(_many(0)).encode(), 6, mtime=0))
    monkeypatch.setitem(LIMITS, "gzipBytes", rules_only + 20_000)
    text = SarifReporter().render(_many(2000))
    assert len(gzip.compress(text.encode(), 6, mtime=0)) <= rules_only + 20_000
    assert json.loads(text)["runs"][0]["properties"]["truncated"]["dropped"] > 0


def test_the_cli_says_on_stderr_how_many_were_dropped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from scanner.cli import cli

    monkeypatch.setitem(LIMITS, "resultsPerRun", 3)
    out = tmp_path / "o.sarif"
    repo = str(FIXTURE_REPOS / "odoo-finance-noncompliant")
    res = CliRunner().invoke(cli, ["scan", "repo", repo, "--sarif", str(out)])
    assert res.exit_code == 1, res.output
    assert "results dropped to stay within GitHub code scanning's limits" in res.stderr
    assert len(json.loads(out.read_text())["runs"][0]["results"]) == 3
