"""Auditor files in the bundle: rules as evaluated, RCM ids, populations, samples, SoD matrix."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from scanner.cli import cli
from scanner.evidence.population import population_files, read_population

from .conftest import FIXTURE_REPOS

EPOCH = "1767225600"
CONFIG = """\
params:
  minBackupRetentionDays: 45
controls:
  name: ACME RCM 2026
  map:
    LG-RBAC-100: [RCM-AC-07]
    "LG-TLS-*": RCM-NET-02
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bundle of the non-compliant repo with an organisation's RCM map."""
    base = tmp_path_factory.mktemp("audit")
    repo = base / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    config = repo / "ledgergate.yaml"
    existing = yaml.safe_load(config.read_text()) if config.exists() else {}
    merged = {**existing, **yaml.safe_load(CONFIG)}
    merged["params"] = {**existing.get("params", {}), **merged["params"]}
    config.write_text(yaml.safe_dump(merged))
    out = base / "bundle"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
        result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(out)])
    assert result.exit_code == 1, result.output
    return out


def _json(bundle: Path, name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((bundle / name).read_text())


def _sample(*args: str) -> Result:
    return CliRunner().invoke(cli, ["evidence", "sample", *args])


def test_rules_json_is_the_rule_text_with_the_params_in_force(bundle: Path) -> None:
    doc = _json(bundle, "rules.json")
    assert doc["params"]["minBackupRetentionDays"] == 45
    rules = {r["id"]: r for r in doc["rules"]}
    shipped = yaml.safe_load(
        (Path(__file__).parent.parent / "rules/backup/LG-BAK-001.yaml").read_text()
    )
    assert rules["LG-BAK-001"]["source"]["assert"] == shipped["assert"]
    assert rules["LG-BAK-001"]["procedure"].startswith("Inspect every Velero Schedule")
    findings = _json(bundle, "findings.json")["findings"]
    assert {f["ruleId"] for f in findings if f["ruleId"].startswith("LG-")} <= set(rules)


def test_rcm_ids_appear_beside_framework_controls(bundle: Path) -> None:
    findings = _json(bundle, "findings.json")["findings"]
    sod = [f for f in findings if f["ruleId"] == "LG-RBAC-100"]
    assert sod and all({"framework": "rcm", "id": "RCM-AC-07"} in f["controls"] for f in sod)
    assert all({"framework": "nist-800-53-r5", "id": "AC-5"} in f["controls"] for f in sod), (
        "RCM ids add to the framework controls, never replace them"
    )
    rows = list(csv.DictReader(io.StringIO((bundle / "controls.csv").read_text())))
    by_id = {(r["framework"], r["control"]): r for r in rows}
    assert by_id[("rcm", "RCM-AC-07")]["rules"] == "LG-RBAC-100"
    assert by_id[("rcm", "RCM-NET-02")]["rules"].split()[0].startswith("LG-TLS-")
    controls = _json(bundle, "controls.json")["frameworks"]
    assert controls["rcm"]["name"] == "ACME RCM 2026"
    assert controls["nist-800-53-r5"]["controls"]["AC-5"]["title"] == "Separation of duties"
    html = (bundle / "report.html").read_text()
    assert "RCM-AC-07" in html and "Separation of duties" in html


def test_population_lists_every_tested_item_with_a_pointer_to_its_evidence(
    bundle: Path,
) -> None:
    doc = _json(bundle, "findings.json")
    findings = doc["findings"]
    inventory = _json(bundle, "inventory.json")["resources"]
    text = gzip.decompress((bundle / "population.csv.gz").read_bytes()).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == read_population(
        {"population.csv.gz": (bundle / "population.csv.gz").read_bytes()}
    )
    assert not list(bundle.glob("population.jsonl*"))  # one population file
    # every listed finding per control, and every pass findings.json only counts
    counted = sum(p["count"] * len(p["controls"]) for p in doc["passes"])
    assert counted and len(rows) == sum(len(f["controls"]) for f in findings) + counted
    assert {r["result"] for r in rows} >= {"pass", "fail"}
    pointed = {"findings": 0, "inventory": 0}
    for row in rows:
        name, _, path = row["evidence"].partition("#")
        index = int(path.rsplit("/", 1)[1])
        if name == "findings.json":
            pointed["findings"] += 1
            finding = findings[index]
            assert finding["ruleId"] == row["rule"] and finding["status"] == row["result"]
            assert {"framework": row["framework"], "id": row["control"]} in finding["controls"]
        else:  # a counted pass points at the object it judged
            assert name == "inventory.json" and path.startswith("/resources/")
            pointed["inventory"] += 1
            judged = inventory[index]
            assert row["result"] == "pass"
            assert (judged["kind"], judged["namespace"], judged["name"]) == (
                row["kind"],
                row["namespace"],
                row["name"],
            )
    assert pointed["findings"] and pointed["inventory"] == counted


def test_populations_are_gzipped_reproducibly() -> None:
    finding = {
        "ruleId": "LG-X-001",
        "status": "pass",
        "resource": {"kind": "Pod", "namespace": "n", "name": "p" * 200},
        "location": {"path": "a.yaml", "startLine": 1},
        "controls": [{"framework": "soc2", "id": "CC6.1"}],
        "fingerprint": "f",
    }
    doc = {"findings": [finding] * 6000}
    files = population_files(doc)
    assert sorted(files) == ["population.csv.gz"]
    assert files == population_files(doc)
    assert len(read_population(files)) == 6000
    assert gzip.decompress(files["population.csv.gz"]).startswith(b"framework,control,rule")


def test_sample_is_reproducible_and_redoable_with_sha256(bundle: Path, tmp_path: Path) -> None:
    first = _sample(str(bundle), "--control", "AC-5", "--size", "3", "--seed", "7")
    again = _sample(str(bundle), "--control", "AC-5", "--size", "3", "--seed", "7")
    assert first.exit_code == 0, first.output
    assert first.output == again.output
    record_path = tmp_path / "sample.json"
    result = _sample(
        str(bundle),
        "--control",
        "nist-800-53-r5:AC-5",
        "--size",
        "3",
        "--seed",
        "7",
        "-o",
        str(record_path),
    )
    assert result.exit_code == 0, result.output
    record = json.loads(record_path.read_text())
    assert record["seed"] == "7" and record["size"] == 3
    rows = [
        r
        for r in read_population({"population.csv.gz": (bundle / "population.csv.gz").read_bytes()})
        if (r["framework"], r["control"]) == ("nist-800-53-r5", "AC-5")
    ]
    assert record["populationSize"] == len(rows)

    # An auditor redraws the sample with nothing but sha256 (a counted pass's pointer is
    # the object every rule on it shares: its fingerprint makes the key unique).
    def key(r: dict[str, str]) -> str:
        listed = r["evidence"].startswith("findings.json#")
        text = f"7:{r['evidence']}" if listed else f"7:{r['evidence']}:{r['fingerprint']}"
        return hashlib.sha256(text.encode()).hexdigest()

    assert len({key(r) for r in rows}) == len(rows)
    ranked = sorted(rows, key=key)
    assert [i["evidence"] for i in record["selection"]] == [r["evidence"] for r in ranked[:3]]
    assert all(i["finding"]["ruleId"] == i["rule"] for i in record["selection"])
    every = _sample(str(bundle), "--control", "AC-5", "--size", "1000", "--seed", "7", "-o",
                    str(record_path))  # fmt: skip
    assert every.exit_code == 0, every.output
    selection = json.loads(record_path.read_text())["selection"]
    judged = [i for i in selection if "judged" in i]
    assert judged and all(i["judged"]["name"] == i["name"] for i in judged)
    assert (
        record["manifestSha256"]
        == hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
    )
    other = _sample(str(bundle), "--control", "AC-5", "--size", "3", "--seed", "8")
    assert other.output != first.output


def test_sample_without_seed_prints_the_seed_it_drew(bundle: Path) -> None:
    result = _sample(str(bundle), "--control", "AC-5", "--size", "100")
    assert result.exit_code == 0, result.output
    seed = result.output.split("seed ", 1)[1].split()[0]
    assert _sample(str(bundle), "--control", "AC-5", "--size", "100", "--seed", seed).output == (
        result.output
    )


def test_sample_of_an_unknown_control_is_a_usage_error(bundle: Path) -> None:
    result = _sample(str(bundle), "--control", "XX-99", "--size", "1", "--seed", "1")
    assert result.exit_code == 2 and "no tested population" in result.output


def test_sod_matrix_matches_the_conflicts_found(bundle: Path) -> None:
    rows = list(csv.DictReader(io.StringIO((bundle / "sod-matrix.csv").read_text())))
    conflicted = {r["subject"] for r in rows if r["conflicts"]}
    findings = _json(bundle, "findings.json")["findings"]
    failing = {
        f["resource"]["name"]
        for f in findings
        if f["ruleId"] == "LG-RBAC-100" and f["status"] in ("fail", "waived")
    }
    assert failing and failing <= conflicted
    dba = next(r for r in rows if r["subject"] == "Group/oidc:finance-dba")
    assert dba["administer-database"] == "held" and dba["administer-backups"] == "held"
    html = (bundle / "report.html").read_text()
    assert 'id="sod-matrix"' in html and "Group/oidc:finance-dba" in html
