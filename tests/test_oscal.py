"""OSCAL assessment results from a bundle, validated by compliance-trestle's OSCAL models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.reporters.oscal import oscal_control_id

from .conftest import scanned_bundle

trestle_ar = pytest.importorskip("trestle.oscal.assessment_results")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scanned_bundle(tmp_path_factory.mktemp("oscal"))


def _oscal(bundle: Path) -> dict:  # type: ignore[type-arg]
    done = CliRunner().invoke(cli, ["report", str(bundle), "--format", "oscal", "--unverified"])
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_document_is_valid_oscal_assessment_results(bundle: Path) -> None:
    doc = _oscal(bundle)
    model = trestle_ar.AssessmentResults.parse_obj(doc["assessment-results"])
    assert "1.1.2" in str(model.metadata.oscal_version)
    # The models are strict, so a pass above means something.
    for field, value in (("uuid", "not-a-uuid"), ("verdict", "fine")):
        broken = json.loads(json.dumps(doc))
        broken["assessment-results"]["results"][0]["observations"][0][field] = value
        with pytest.raises(Exception, match=field):
            trestle_ar.AssessmentResults.parse_obj(broken["assessment-results"])


def test_results_say_what_was_tested_and_how_it_came_out(bundle: Path) -> None:
    result = _oscal(bundle)["assessment-results"]["results"][0]
    doc = json.loads((bundle / "findings.json").read_text())
    findings = doc["findings"]
    counted = sum(p["count"] for p in doc["passes"])
    assert counted, "the bundle's findings.json counts its plain passes"
    # one observation per tested item: each listed finding, and each counted pass
    assert len(result["observations"]) == len(findings) + counted
    hrefs = [e["href"] for o in result["observations"] for e in o["relevant-evidence"]]
    assert sum(h.startswith("inventory.json#/resources/") for h in hrefs) == counted
    assert {m for o in result["observations"] for m in o["methods"]} == {"TEST"}
    reviewed = {
        c["control-id"]
        for c in result["reviewed-controls"]["control-selections"][0]["include-controls"]
    }
    cited = {
        oscal_control_id(c["id"])
        for f in findings
        for c in f["controls"]
        if c["framework"] == "nist-800-53-r5"
    }
    assert cited <= reviewed and "ac-5" in reviewed
    by_target = {f["target"]["target-id"]: f for f in result["findings"]}
    assert by_target["ac-5_obj"]["target"]["status"]["state"] == "not-satisfied"
    sod_fail = next(
        i for i, f in enumerate(findings) if f["ruleId"] == "LG-RBAC-100" and f["status"] == "fail"
    )
    obs = {o["uuid"]: o for o in result["observations"]}
    linked = [obs[r["observation-uuid"]] for r in by_target["ac-5_obj"]["related-observations"]]
    assert f"findings.json#/findings/{sod_fail}" in {
        e["href"] for o in linked for e in o["relevant-evidence"]
    }
    assert any(r["title"] for r in result["risks"])
    assert "Not evaluated:" in result["description"]


def test_same_bundle_same_document(bundle: Path) -> None:
    assert _oscal(bundle) == _oscal(bundle)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("AC-5", "ac-5"), ("AC-6(10)", "ac-6.10"), ("SI-2(3)", "si-2.3"), ("x", "")],
)
def test_control_ids_follow_the_nist_oscal_catalogue(given: str, expected: str) -> None:
    assert oscal_control_id(given) == expected
