"""JUnit XML, GitLab SAST and GitLab Code Quality: parsed by real parsers, validated
against the SAST report schema, one entry per rule x resource failure, paths from the
repository root."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from scanner.config import find_config, load_config
from scanner.findings import ScanResult
from scanner.model import Status
from scanner.pipeline import scan_repo
from scanner.reporters import get_reporter

from .conftest import FIXTURE_REPOS

DATA = Path(__file__).parent / "data" / "gitlab"
SOURCE = FIXTURE_REPOS / "odoo-finance-noncompliant"


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ScanResult]:
    """The noncompliant fixture as its own git repository, scanned from ``apps/``, with one
    unparsable file so an ``error`` is among the results."""
    top = tmp_path_factory.mktemp("ci") / "repo"
    shutil.copytree(SOURCE, top)
    (top / "apps" / "broken.yaml").write_text("kind: [unclosed\n")
    subprocess.run(["git", "init", "-q", str(top)], check=True, timeout=60)
    result = scan_repo(top / "apps", load_config(find_config(top, None)))
    return top, result


def _problems(result: ScanResult, *statuses: Status) -> list[tuple[str, str]]:
    return sorted(
        (f.rule_id, f"apps/{f.origin.path}") for f in result.findings if f.status in statuses
    )


def test_junit_has_one_case_per_failure_and_parses(
    scanned: tuple[Path, ScanResult], tmp_path: Path
) -> None:
    top, result = scanned
    text = get_reporter("junit").render(result)
    (tmp_path / "junit.xml").write_text(text)
    xml = JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    cases = [(suite.name, case) for suite in xml for case in suite]
    failures = sorted(
        (case.classname, case._elem.get("file"))
        for _, case in cases
        if any(isinstance(r, Failure) for r in case.result)
    )
    assert failures == _problems(result, Status.FAIL)
    errors = [c for _, c in cases if any(isinstance(r, Error) for r in c.result)]
    assert len(errors) == len(_problems(result, Status.ERROR)) >= 1
    for _, case in cases:
        file = case._elem.get("file")
        if file:
            assert (top / file).is_file(), file
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    total = Counter(f.status for f in result.findings)
    assert int(root.get("failures", "")) == total[Status.FAIL]
    assert int(root.get("errors", "")) == total[Status.ERROR]
    for suite in root.iter("testsuite"):
        assert int(suite.get("tests", "")) == len(suite.findall("testcase"))
        assert int(suite.get("failures", "")) == len(suite.findall("testcase/failure"))
    passing = [c for _, c in cases if not c.result]
    assert passing and all(c.name.endswith("object(s) passed") for c in passing)
    assert not any(isinstance(r, Skipped) for _, c in cases for r in c.result)


def test_gitlab_sast_validates_against_the_schema(scanned: tuple[Path, ScanResult]) -> None:
    top, result = scanned
    doc = json.loads(get_reporter("gitlab-sast").render(result))
    schema = json.loads((DATA / "sast-report-format.schema.json").read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(doc)) == []
    vulns = doc["vulnerabilities"]
    got = sorted((v["identifiers"][0]["value"], v["location"]["file"]) for v in vulns)
    assert got == _problems(result, Status.FAIL, Status.ERROR)
    assert len({v["id"] for v in vulns}) == len(vulns)
    for v in vulns:
        assert (top / v["location"]["file"]).is_file()


def test_the_schema_is_the_release_the_report_names() -> None:
    """The test data is GitLab's published schema of the version the report declares."""
    from scanner.reporters.gitlab import SAST_SCHEMA_VERSION

    schema = json.loads((DATA / "sast-report-format.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["self"]["version"] == SAST_SCHEMA_VERSION
    assert schema["title"] == "Report format for GitLab SAST"


def test_the_schema_rejects_what_gitlab_rejects() -> None:
    """The test data can fail: a report without scan times or with a bad severity."""
    schema = json.loads((DATA / "sast-report-format.schema.json").read_text())
    bad = {
        "version": "15.1.4",
        "scan": {"type": "sast", "status": "success"},
        "vulnerabilities": [{"id": "x", "identifiers": [], "location": {}, "severity": "HIGH"}],
    }
    messages = " ".join(e.message for e in jsonschema.Draft7Validator(schema).iter_errors(bad))
    for word in ("start_time", "analyzer", "'HIGH' is not one of", "should be non-empty"):
        assert word in messages


def test_gitlab_code_quality_fields(scanned: tuple[Path, ScanResult]) -> None:
    top, result = scanned
    issues = json.loads(get_reporter("gitlab-codequality").render(result))
    assert isinstance(issues, list)
    got = sorted((i["check_name"], i["location"]["path"]) for i in issues)
    assert got == _problems(result, Status.FAIL, Status.ERROR)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    for issue in issues:
        assert set(issue) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(issue["location"]["lines"]["begin"], int)
        assert issue["location"]["lines"]["begin"] >= 1
        assert (top / issue["location"]["path"]).is_file()


@pytest.mark.parametrize("fmt", ["junit", "gitlab-sast", "gitlab-codequality"])
def test_same_inputs_same_bytes(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = scan_repo(SOURCE, load_config(find_config(SOURCE, None)))
    second = scan_repo(SOURCE, load_config(find_config(SOURCE, None)))
    assert get_reporter(fmt).render(first) == get_reporter(fmt).render(second)
