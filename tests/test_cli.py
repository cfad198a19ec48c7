"""The command line: exit codes, outputs, pre-merge mode, help, start-up time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .conftest import FIXTURE_REPOS, ROOT

NONCOMPLIANT = str(FIXTURE_REPOS / "odoo-finance-noncompliant")
COMPLIANT = str(FIXTURE_REPOS / "odoo-finance-compliant")


def test_exit_codes(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("scan", "repo", NONCOMPLIANT).exit_code == 1
    assert run_cli("scan", "repo", COMPLIANT).exit_code == 0
    # only medium findings exist below "critical"? the noncompliant repo has critical ones
    assert run_cli("scan", "repo", NONCOMPLIANT, "--fail-on", "critical").exit_code == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("params: [\n")
    assert run_cli("scan", "repo", COMPLIANT, "--config", str(bad)).exit_code == 2
    assert run_cli("scan", "repo", COMPLIANT, "--format", "xml").exit_code == 2


def test_fail_on_threshold_spares_lower_severities(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "sched.yaml").write_text(
        (FIXTURE_REPOS / "odoo-finance-noncompliant/platform/backup/schedule.yaml").read_text()
    )
    assert run_cli("scan", "repo", str(tmp_path)).exit_code == 1  # high >= high
    assert run_cli("scan", "repo", str(tmp_path), "--fail-on", "critical").exit_code == 0


def test_json_and_sarif_files_at_once(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sarif, out = tmp_path / "out.sarif", tmp_path / "out.json"
    result = run_cli("scan", "repo", NONCOMPLIANT, "--sarif", str(sarif), "--json", str(out))
    assert result.exit_code == 1
    assert "LG-RBAC-001" in result.output  # the table still goes to stdout
    data = json.loads(out.read_text())
    assert data["summary"]["fail"] == len([f for f in data["findings"] if f["status"] == "fail"])
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_config_error_names_file_line_and_field(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "ledgergate.yaml"
    cfg.write_text("params: {}\nrules:\n  severity:\n    LG-RBAC-001: urgent\n")
    result = run_cli("scan", "repo", str(tmp_path))
    assert result.exit_code == 2
    assert f"{cfg}:4" in result.output and "rules.severity.LG-RBAC-001" in result.output


def test_rules_list_json_and_framework_filter(run_cli) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(run_cli("rules", "list", "--format", "json").output)
    assert {"id", "title", "severity", "family", "controls"} <= set(rows[0])
    pci = json.loads(
        run_cli("rules", "list", "--format", "json", "--framework", "pci-dss-4.0").output
    )
    mapped = [r["id"] for r in rows if any(c["framework"] == "pci-dss-4.0" for c in r["controls"])]
    # exactly the mapped rules, and the filter drops some (not every rule maps to PCI DSS)
    assert [r["id"] for r in pci] == mapped
    assert 0 < len(pci) < len(rows)


def test_rules_show_and_test(run_cli) -> None:  # type: ignore[no-untyped-def]
    shown = run_cli("rules", "show", "LG-RBAC-001")
    assert shown.exit_code == 0 and "remediation" in shown.output and "cis-k8s" in shown.output
    assert run_cli("rules", "show", "LG-NOPE-999").exit_code == 2
    tested = run_cli("rules", "test")
    assert tested.exit_code == 0 and " 0 failed" in tested.output


def test_rules_test_reports_a_broken_user_rule(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "custom"
    (pack / "LG-CUS-001").mkdir(parents=True)
    (pack / "LG-CUS-001.yaml").write_text(
        (ROOT / "rules/traefik-tls/LG-TLS-001.yaml").read_text().replace("LG-TLS-001", "LG-CUS-001")
    )
    # a "pass" fixture that actually fails the rule
    (pack / "LG-CUS-001" / "pass.wrong.yaml").write_text(
        (ROOT / "rules/traefik-tls/LG-TLS-001/fail.web.yaml").read_text()
    )
    result = run_cli("rules", "test", str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL LG-CUS-001 pass.wrong.yaml" in result.output
    assert "no fail.*.yaml fixture" in result.output


def test_help_teaches(run_cli) -> None:  # type: ignore[no-untyped-def]
    out = run_cli("scan", "repo", "--help").output
    for word in ("--base", "--fail-on", "--sarif", "Exit 0"):
        assert word in out


def test_python_dash_m_and_fast_version() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    elapsed = time.perf_counter() - start
    assert "ledgergate, version" in done.stdout
    assert elapsed < 2.0  # generous for CI; the benchmark reports the real figure
    heavy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, scanner.cli; print(sorted(m for m in ('yaml', 'jsonschema', 'rich', "
            "'sarif_om', 'cel_expr_python', 'jinja2', 'kubernetes', 'cryptography', 'sigstore', "
            "'requests', 'boto3', 'pkcs11', 'scanner.inventory') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    assert heavy.stdout.strip() == "[]", "heavy modules must be imported lazily"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        timeout=30,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
        },
    )


def test_premerge_base_gates_on_what_the_change_adds(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    src = FIXTURE_REPOS / "odoo-finance-noncompliant"
    (repo / "rbac.yaml").write_text((src / "platform/rbac/operators.yaml").read_text())
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "route.yaml").write_text((src / "platform/traefik/ingressroute.yaml").read_text())
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "feature")
    (repo / "untracked-secret.yaml").write_text((src / "apps/odoo/db-secret.yaml").read_text())
    out = tmp_path / "out.json"
    result = run_cli("scan", "repo", str(repo), "--base", "main", "--json", str(out))
    assert result.exit_code == 1
    doc = json.loads(out.read_text())
    gating = set(doc["comparison"]["new"]) | set(doc["comparison"]["worse"])
    paths = {
        (f["location"]["path"], f["ruleId"])
        for f in doc["findings"]
        if f["status"] == "fail" and f["fingerprint"] in gating
    }
    # rbac.yaml failed already at the merge base: shown, but it does not decide the gate.
    assert "rbac.yaml" not in {path for path, _ in paths}
    assert any(f["location"]["path"] == "rbac.yaml" for f in doc["findings"])
    assert {("route.yaml", "LG-TLS-001"), ("untracked-secret.yaml", "LG-SEC-001")} <= paths
    assert run_cli("scan", "repo", str(repo), "--base", "no-such-ref").exit_code == 2
