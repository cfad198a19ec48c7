"""The waiver register: validation with file:line, separation of duties, applying, expiry."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.config import Config, find_config, load_config
from scanner.errors import ConfigError
from scanner.model import Status
from scanner.pipeline import scan_repo
from scanner.waivers import apply_waivers, load_waivers

from .conftest import FIXTURE_REPOS

NONCOMPLIANT = FIXTURE_REPOS / "odoo-finance-noncompliant"

SECRET_WAIVER = """\
waivers:
  - id: W-1
    rule: LG-SEC-001
    resource: {kind: Secret, namespace: finance-prod, name: odoo-db}
    justification: Migration to External Secrets is scheduled for the next sprint.
    ticket: RISK-101
    owner: alice@finance.example
    approvers: [bob@finance.example, erin@finance.example]
    approved: 2026-11-02
    expires: 2027-01-31
  - rule: "LG-TLS-*"
    resource: {path: "platform/traefik/*"}
    justification: Legacy partner endpoint until the certificate is issued.
    ticket: RISK-102
    owner: carol@finance.example
    approver: dave@finance.example
    approved: 2026-04-01
    expires: 2026-06-30
"""
#: The second waiver uses globs, which the register allows only when the config says so.
WILDCARDS = Config(params={}, waiver_wildcards=True)


def _register(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    return path


def _scan(tmp_path: Path, text: str, today: dt.date):  # type: ignore[no-untyped-def]
    repo = NONCOMPLIANT
    result = scan_repo(repo, load_config(find_config(repo, None)))
    register = load_waivers(_register(tmp_path, text), "waivers.yaml", config=WILDCARDS)
    return apply_waivers(result.findings, register, today)


def test_matching_fail_becomes_waived_and_stays_visible(tmp_path: Path) -> None:
    findings = _scan(tmp_path, SECRET_WAIVER, dt.date(2026, 3, 1))
    waived = {(f.rule_id, f.origin.path) for f in findings if f.status is Status.WAIVED}
    failing = {(f.rule_id, f.origin.path) for f in findings if f.status is Status.FAIL}
    tls_under_traefik = {
        (f.rule_id, f.origin.path)
        for f in _scan(tmp_path, "waivers: []\n", dt.date(2026, 3, 1))
        if f.status is Status.FAIL
        and f.rule_id.startswith("LG-TLS-")
        and f.origin.path.startswith("platform/traefik/")
        and f.severity.value != "critical"  # the TLS waiver has one approver
    }
    assert ("LG-TLS-001", "platform/traefik/ingressroute.yaml") in tls_under_traefik
    assert waived == {("LG-SEC-001", "apps/odoo/db-secret.yaml")} | tls_under_traefik
    assert not waived & failing
    assert ("LG-TLS-009", "platform/traefik/traefik.yml") in failing
    (short,) = [f for f in findings if f.rule_id == "waiver/under-approved"]
    assert "RISK-102 does not cover critical LG-TLS-009" in short.message
    secret = next(f for f in findings if f.rule_id == "LG-SEC-001")
    assert secret.waiver is not None
    keys = ("owner", "approver", "approved", "ticket", "expiry", "id")
    assert {k: secret.waiver[k] for k in keys} == {
        "owner": "alice@finance.example",
        "approver": "bob@finance.example, erin@finance.example",
        "approved": "2026-11-02",
        "ticket": "RISK-101",
        "expiry": "2027-01-31",
        "id": "W-1",
    }
    assert secret.waiver["source"] == "waivers.yaml:2"
    assert not any(f.rule_id == "waiver/expired" for f in findings)


def test_expired_waiver_stops_applying_and_is_reported(tmp_path: Path) -> None:
    findings = _scan(tmp_path, SECRET_WAIVER, dt.date(2026, 7, 1))
    waived = {f.rule_id for f in findings if f.status is Status.WAIVED}
    assert waived == {"LG-SEC-001"}
    tls = [f for f in findings if f.rule_id == "LG-TLS-001" and f.status is Status.FAIL]
    assert tls, "the expired waiver must no longer hide the TLS failure"
    expired = [f for f in findings if f.rule_id == "waiver/expired"]
    assert [(f.status, f.severity.value, f.origin.path, f.origin.start_line) for f in expired] == [
        (Status.FAIL, "medium", "waivers.yaml", 11)
    ]
    assert "RISK-102" in expired[0].message and "2026-06-30" in expired[0].message


def test_last_day_still_applies(tmp_path: Path) -> None:
    def waived_on(day: dt.date) -> set[tuple[str, str]]:
        findings = _scan(tmp_path, SECRET_WAIVER, day)
        return {(f.rule_id, f.origin.path) for f in findings if f.status is Status.WAIVED}

    last_day = waived_on(dt.date(2026, 6, 30))
    assert ("LG-TLS-001", "platform/traefik/ingressroute.yaml") in last_day
    assert last_day == waived_on(dt.date(2026, 3, 1))
    assert last_day != waived_on(dt.date(2026, 7, 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SECRET_WAIVER.replace("[bob@finance.example", "[Alice@finance.example"),
            "waivers.yaml:8: waivers.0.approvers.0: approver must differ from owner",
        ),
        (  # a Cyrillic a (U+0430) and a zero-width space do not make the owner someone else
            SECRET_WAIVER.replace("[bob@finance.example", "[\u0430li\u200bce@finance.example"),
            "waivers.yaml:8: waivers.0.approvers.0: approver must differ from owner",
        ),
        (
            SECRET_WAIVER.replace(
                "approver: dave@finance.example", "approver: CAROL@finance.example"
            ),
            "waivers.yaml:16: waivers.1.approver: approver must differ from owner",
        ),
        (
            SECRET_WAIVER.replace("    ticket: RISK-102\n", ""),
            "waivers.yaml:11: waivers.1: 'ticket'",
        ),
        (SECRET_WAIVER.replace("2027-01-31", "31/01/2027"), "waivers.yaml:10: waivers.0.expires"),
        (SECRET_WAIVER.replace("2027-01-31", "2027-02-30"), "waivers.yaml"),
        (SECRET_WAIVER.replace("{path:", "{colour:"), "waivers.yaml:12: waivers.1.resource"),
        (
            SECRET_WAIVER.replace("    approved: 2026-11-02\n", ""),
            "waivers.yaml:2: waivers.0: 'approved' is a required property",
        ),
        ("waivers: [\n", "waivers.yaml:2"),
        ("- just a list\n", "waivers.yaml:1: (top level)"),
    ],
)
def test_malformed_register_names_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_waivers(_register(tmp_path, text), "waivers.yaml", config=WILDCARDS)
    assert expected in err.value.diagnostics()


def test_error_findings_are_never_waived(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "broken.yaml").write_text("kind: [\n")
    result = scan_repo(repo, load_config(None))
    register = load_waivers(
        _register(
            tmp_path,
            SECRET_WAIVER.replace("LG-SEC-001", "'*'").replace(
                "{kind: Secret, namespace: finance-prod, name: odoo-db}", "{path: '*'}"
            ),
        ),
        config=WILDCARDS,
    )
    findings = apply_waivers(result.findings, register, dt.date(2026, 1, 1))
    assert [(f.rule_id, f.status) for f in findings if not f.rule_id.startswith("waiver/")] == [
        ("input/parse-error", Status.ERROR)
    ]


def test_cli_reads_waivers_at_root_and_flag(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from scanner.cli import cli

    monkeypatch.setenv("LEDGERGATE_TODAY", "2026-11-15")
    repo = tmp_path / "repo"
    shutil.copytree(NONCOMPLIANT, repo)
    (repo / "waivers.yaml").write_text(SECRET_WAIVER)
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text() + "waivers: {allowWildcards: true}\n")
    out = tmp_path / "out.json"
    result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--json", str(out)])
    assert result.exit_code == 1, result.output
    doc = json.loads(out.read_text())
    waived = {
        (f["ruleId"], f["location"]["path"]) for f in doc["findings"] if f["status"] == "waived"
    }
    expected = {
        (f.rule_id, f.origin.path)
        for f in _scan(tmp_path, SECRET_WAIVER, dt.date(2026, 11, 15))
        if f.status is Status.WAIVED
    }
    assert ("LG-SEC-001", "apps/odoo/db-secret.yaml") in waived
    assert waived == expected
    assert "RISK-101" in result.output  # the table shows the ticket of a waived finding
    bad = tmp_path / "bad.yaml"
    bad.write_text(SECRET_WAIVER.replace("bob@", "alice@"))
    result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--waivers", str(bad)])
    assert result.exit_code == 2
    assert "approver must differ from owner" in result.output


def test_sarif_marks_waived_results_as_accepted_suppressions(
    tmp_path: Path, testdata: Path
) -> None:
    from dataclasses import replace

    import jsonschema

    from scanner.reporters.sarif import build_log

    repo = NONCOMPLIANT
    result = scan_repo(repo, load_config(find_config(repo, None)))
    register = load_waivers(_register(tmp_path, SECRET_WAIVER), "waivers.yaml", config=WILDCARDS)
    findings = apply_waivers(result.findings, register, dt.date(2026, 7, 1))
    log = build_log(replace(result, findings=tuple(sorted(findings, key=lambda f: f.sort_key()))))
    schema = json.loads((testdata / "sarif" / "sarif-schema-2.1.0.json").read_text())
    assert list(jsonschema.Draft4Validator(schema).iter_errors(log)) == []
    suppressed = {
        r["ruleId"]: r["suppressions"] for r in log["runs"][0]["results"] if "suppressions" in r
    }
    assert list(suppressed) == ["LG-SEC-001"]
    (entry,) = suppressed["LG-SEC-001"]
    assert (entry["kind"], entry["status"], entry["properties"]["ticket"]) == (
        "external",
        "accepted",
        "RISK-101",
    )
    expired = [r for r in log["runs"][0]["results"] if r["ruleId"] == "waiver/expired"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in expired] == [11]
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["waiver/expired"]["shortDescription"]["text"] == "Waiver expired"
