"""A pull request cannot loosen its own gate unseen, and a repository's own configuration
can never make the scanner run a program or read a file outside the repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from .test_premerge import VELERO_ONLY, commit, gating, git, make_repo, premerge

WAIVER = """\
waivers:
  - rule: LG-BAK-002
    resource: {kind: Namespace, name: finance-prod}
    justification: Backups move to the new cluster next week, tracked in the ticket.
    ticket: RISK-9
    owner: mallory@finance.example
    approved: 2026-11-30
    approvers: [trent@finance.example, peggy@finance.example]
    expires: 2026-12-20
"""


def _break_schedule(repo: Path) -> None:
    schedule = repo / "platform/backup/schedule.yaml"
    schedule.write_text(schedule.read_text().replace('["finance-prod"]', '["finance-staging"]'))


def _gate_findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["ruleId"] == "LG-GATE-001" and f["status"] == "fail"]


def test_pr_excluding_a_rule_is_judged_with_the_base_config_and_reported(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    _break_schedule(repo)
    config = repo / "ledgergate.yaml"
    config.write_text(
        config.read_text().replace('exclude: ["LG-IMG-05*"]', 'exclude: ["LG-IMG-05*", "LG-BAK-*"]')
        + "  severity: {LG-TLS-001: info}\n"
    )
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 1, result.output
    found = gating(doc)
    assert ("LG-BAK-002", "platform/namespaces/finance-prod.yaml") in found
    assert ("LG-GATE-001", "ledgergate.yaml") in found
    (gate,) = _gate_findings(doc)
    assert "rule excluded (LG-BAK-002 no longer runs)" in gate["message"]
    assert "severity lowered (LG-TLS-001 severity lowered from high to info)" in gate["message"]
    assert {e["path"] for e in gate["evidence"]} >= {"rules.exclude", "rules.severity.LG-TLS-001"}


def test_pr_adding_a_waiver_does_not_waive_and_is_reported(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    _break_schedule(repo)
    (repo / "waivers.yaml").write_text(WAIVER)
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path, env={"LEDGERGATE_TODAY": "2026-12-01"})
    assert result.exit_code == 1, result.output
    assert not [f for f in doc["findings"] if f["status"] == "waived"]
    (gate,) = _gate_findings(doc)
    assert gate["location"]["path"] == "waivers.yaml"
    assert "waiver added (waiver RISK-9 for LG-BAK-002" in gate["message"]


def test_tightening_only_is_not_a_finding(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    config = repo / "ledgergate.yaml"
    config.write_text(
        config.read_text().replace("exclude:\n  - docs/\n", "")
        + "  severity: {LG-TLS-001: critical}\nfailOn: medium\n"
    )
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 0, result.output
    assert _gate_findings(doc) == []
    passed = {p["ruleId"] for p in doc["passes"]}  # the JSON report counts plain passes
    passed |= {f["ruleId"] for f in doc["findings"] if f["status"] == "pass"}
    assert "LG-GATE-001" in passed


def test_pr_editing_a_custom_rule_runs_the_base_rule_and_is_reported(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    (repo / "policy").mkdir()
    rule = repo / "policy/LG-ORG-001.yaml"
    rule.write_text(
        "id: LG-ORG-001\ntitle: Namespaces carry an owner label\nseverity: high\nfamily: rbac\n"
        "controls: [{framework: soc2, id: CC6.1}, {framework: nist-800-53-r5, id: CM-8}]\n"
        "match: {resources: [{apiGroups: [''], kinds: [Namespace]}]}\n"
        "assert: has(object.metadata.labels) && 'owner' in object.metadata.labels\n"
        "message: namespace has no owner label\nremediation: Add an owner label.\n"
        "procedure: Read each Namespace; passes when it has an owner label.\n"
    )
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text() + "  paths: [policy]\n")
    commit(repo, "base rule")
    git(repo, "branch", "-f", "main", "HEAD")
    rule.write_text(rule.read_text().replace("assert: has(", "assert: true || has("))
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 1, result.output
    ids = {f["ruleId"] for f in doc["findings"] if f["status"] == "fail"}
    assert "LG-ORG-001" in ids, "the merge base's version of the rule judges the change"
    (gate,) = _gate_findings(doc)
    assert "rule file changed (policy/LG-ORG-001.yaml edited)" in gate["message"]


def test_cli_config_is_authoritative(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    _break_schedule(repo)
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text().replace('"LG-IMG-05*"', '"LG-IMG-05*", "LG-BAK-*"'))
    commit(repo)
    ci = tmp_path / "ci.yaml"
    ci.write_text(
        "params:\n  productionNamespaces: [finance-prod]\nrules:\n  exclude: [LG-IMG-*]\n"
    )
    result, doc = premerge(run_cli, repo, tmp_path, "--config", str(ci))
    assert result.exit_code == 1
    assert ("LG-BAK-002", "platform/namespaces/finance-prod.yaml") in gating(doc)
    assert not [f for f in doc["findings"] if f["location"].get("path") == "ledgergate.yaml"]


def test_repo_config_cannot_run_a_program(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    marker = tmp_path / "ran"
    tool = repo / "tools/trivy"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\ntouch {marker}\n")
    tool.chmod(0o755)
    (repo / "ledgergate.yaml").write_text(
        "params:\n  productionNamespaces: [finance-prod]\n  imageScan: {trivy: tools/trivy}\n"
    )
    result = run_cli("scan", "repo", str(repo), "--images")
    assert result.exit_code == 2, result.output
    assert "params.imageScan.trivy" in result.output and "--trivy" in result.output
    assert not marker.exists()


def test_symlinked_config_is_refused_and_not_echoed(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("ci_token: OUTSIDE-SECRET-4711\n")
    repo = make_repo(tmp_path)
    (repo / "ledgergate.yaml").unlink()
    (repo / "ledgergate.yaml").symlink_to(outside)
    result = run_cli("scan", "repo", str(repo))
    assert result.exit_code == 2
    assert "symlink or outside" in result.output
    assert "OUTSIDE-SECRET-4711" not in result.output


def test_rule_folder_outside_the_repo_is_refused(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "leak.yaml").write_text("id: OUTSIDE-SECRET-4711\n")
    repo = make_repo(tmp_path)
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text() + '  paths: ["../x"]\n')
    for args in ((), ("--base", "main")):
        if args:
            commit(repo)
        result = run_cli("scan", "repo", str(repo), *args)
        assert result.exit_code == 2, result.output
        assert "rules.paths.0" in result.output
        assert "OUTSIDE-SECRET-4711" not in result.output


def test_symlinked_waiver_register_is_refused(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    outside = tmp_path / "w.yaml"
    outside.write_text(WAIVER)
    repo = make_repo(tmp_path)
    (repo / "waivers.yaml").symlink_to(outside)
    result = run_cli("scan", "repo", str(repo))
    assert result.exit_code == 2
    assert "waiver register" in result.output and "symlink or outside" in result.output


def test_cli_waivers_replace_the_repos_register(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    _break_schedule(repo)
    (repo / "waivers.yaml").write_text(WAIVER)
    commit(repo)
    ci = tmp_path / "ci-waivers.yaml"
    ci.write_text("waivers: []\n")
    result, doc = premerge(run_cli, repo, tmp_path, "--waivers", str(ci))
    assert result.exit_code == 1, result.output
    assert not [f for f in doc["findings"] if f["status"] == "waived"]
    assert not [f for f in doc["findings"] if f["location"].get("path") == "waivers.yaml"]
