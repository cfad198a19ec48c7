"""Pre-merge mode judges what a change does: new and worse findings against the merge base,
with the merge base's configuration, waivers and rules (throwaway git repositories)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from .conftest import FIXTURE_REPOS

COMPLIANT = FIXTURE_REPOS / "odoo-finance-compliant"
NONCOMPLIANT = FIXTURE_REPOS / "odoo-finance-noncompliant"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@e",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@e",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def make_repo(tmp_path: Path, source: Path = COMPLIANT, drop: tuple[str, ...] = ()) -> Path:
    """A git repo whose ``main`` holds ``source`` (less ``drop``), on branch ``feature``."""
    repo = tmp_path / "repo"
    shutil.copytree(source, repo)
    for path in drop:
        shutil.rmtree(repo / path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    return repo


def commit(repo: Path, message: str = "change") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def premerge(
    run_cli: Callable[..., Result], repo: Path, tmp_path: Path, *extra: str, **kw: Any
) -> tuple[Result, dict[str, Any]]:
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    result = run_cli("scan", "repo", str(repo), "--base", "main", "--json", str(out), *extra, **kw)
    doc = json.loads(out.read_text()) if out.is_file() else {}
    return result, doc


def gating(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(rule, file) of the findings the change adds or makes worse."""
    fps = set(doc["comparison"]["new"]) | set(doc["comparison"]["worse"])
    return {
        (f["ruleId"], f["location"].get("path", ""))
        for f in doc["findings"]
        if f["fingerprint"] in fps
    }


#: Without the CloudNativePG database, only the Velero Schedule backs finance-prod up.
VELERO_ONLY = ("apps/postgres",)


def test_schedule_edit_fails_the_gate_on_the_untouched_namespace(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    schedule = repo / "platform/backup/schedule.yaml"
    schedule.write_text(schedule.read_text().replace('["finance-prod"]', '["finance-staging"]'))
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 1, result.output
    assert ("LG-BAK-002", "platform/namespaces/finance-prod.yaml") in gating(doc)
    base, head = git(repo, "rev-parse", "main"), git(repo, "rev-parse", "HEAD")
    assert doc["comparison"]["base"] == base and doc["comparison"]["head"] == head
    assert f"base {base[:12]} → head {head[:12]}" in result.output


def test_role_only_change_creating_a_duty_conflict_fails(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    roles = repo / "platform/rbac-sod/roles.yaml"
    roles.write_text(
        roles.read_text().replace(
            "    resources: [pods, pods/log, configmaps]\n    verbs: [get, list, watch]\n",
            "    resources: [pods, pods/log, configmaps]\n    verbs: [get, list, watch]\n"
            "  - apiGroups: [argoproj.io]\n    resources: [applications]\n"
            "    verbs: [patch]\n",
            1,
        )
    )
    commit(repo)
    assert git(repo, "diff", "--name-only", "main") == "platform/rbac-sod/roles.yaml"
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 1, result.output
    assert ("LG-RBAC-100", "platform/rbac-sod/bindings.yaml") in gating(doc)
    (conflict,) = [
        f for f in doc["findings"] if f["ruleId"] == "LG-RBAC-100" and f["status"] == "fail"
    ]
    assert doc["comparison"]["worse"][conflict["fingerprint"]] == "pass → fail"
    assert "oidc:odoo-developers" in conflict["message"]


def test_deleting_a_tlsoption_is_a_regression(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    git(repo, "rm", "-q", "platform/traefik/tlsoption.yaml")
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 1, result.output
    assert {path for _, path in gating(doc)} == {"platform/traefik/ingressroute.yaml"}


def test_renamed_file_adds_no_finding(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = make_repo(tmp_path, NONCOMPLIANT)
    git(repo, "mv", "platform/rbac/operators.yaml", "platform/rbac/operators-renamed.yaml")
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert doc["comparison"]["summary"]["new"] == 0, gating(doc)
    assert doc["comparison"]["summary"]["worse"] == 0
    assert doc["comparison"]["summary"]["fixed"] == 0
    moved = [
        f
        for f in doc["findings"]
        if f["location"].get("path") == "platform/rbac/operators-renamed.yaml"
        and f["status"] == "fail"
    ]
    assert moved, "the renamed file's failures are still reported, as unchanged"
    assert result.exit_code == 0, result.output


def test_fixed_findings_are_shown_and_do_not_fail(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, NONCOMPLIANT)
    git(repo, "rm", "-q", "apps/odoo/db-secret.yaml")
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code == 0, result.output
    fixed = {(f["ruleId"], f["location"]["path"]) for f in doc["comparison"]["fixed"]}
    assert ("LG-SEC-001", "apps/odoo/db-secret.yaml") in fixed


@pytest.mark.parametrize("case", ["unknown-ref", "not-a-repo"])
def test_git_failure_is_a_config_error_not_an_empty_set(
    run_cli: Callable[..., Result], tmp_path: Path, case: str
) -> None:
    if case == "unknown-ref":
        repo = make_repo(tmp_path, NONCOMPLIANT)
        args = ("--base", "no-such-ref")
    else:
        repo = tmp_path / "plain"
        shutil.copytree(NONCOMPLIANT, repo)
        args = ("--base", "main")
    result = run_cli("scan", "repo", str(repo), *args)
    assert result.exit_code == 2, result.output
    assert "--base: git" in result.output


def test_only_changed_files_is_display_only(run_cli: Callable[..., Result], tmp_path: Path) -> None:
    repo = make_repo(tmp_path, drop=VELERO_ONLY)
    schedule = repo / "platform/backup/schedule.yaml"
    schedule.write_text(schedule.read_text().replace('["finance-prod"]', '["finance-staging"]'))
    commit(repo)
    result, doc = premerge(run_cli, repo, tmp_path, "--only-changed-files")
    assert result.exit_code == 1, "the exit code still judges the namespace left unprotected"
    assert {f["location"].get("path") for f in doc["findings"]} <= {"platform/backup/schedule.yaml"}


def test_every_format_states_what_was_compared(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    git(repo, "rm", "-q", "platform/traefik/tlsoption.yaml")
    commit(repo)
    base, head = git(repo, "rev-parse", "main"), git(repo, "rev-parse", "HEAD")
    sarif, md = tmp_path / "out.sarif", tmp_path / "out.md"
    run_cli("scan", "repo", str(repo), "--base", "main", "--sarif", str(sarif))
    props = json.loads(sarif.read_text())["runs"][0]["properties"]["comparison"]
    assert (props["base"], props["head"]) == (base, head)
    assert props["summary"]["new"] + props["summary"]["worse"] >= 1
    run_cli("scan", "repo", str(repo), "--base", "main", "--format", "md", "-o", str(md))
    assert f"base `{base[:12]}` → head `{head[:12]}`" in md.read_text()
    html = tmp_path / "out.html"
    run_cli("scan", "repo", str(repo), "--base", "main", "--format", "html", "-o", str(html))
    assert f'head <span class="mono">{head[:12]}</span>' in html.read_text()


def test_compare_classifies_worse_findings() -> None:
    from dataclasses import replace as copy

    from scanner.findings import ScanResult
    from scanner.model import Evidence, Finding, Origin, ResourceRef, Severity, Status
    from scanner.premerge import Revisions, compare

    ref = ResourceRef("v1", "Secret", "finance-prod", "db")

    def finding(status: Status, severity: Severity, path: str = "a.yaml", fp: str = "") -> Finding:
        evidence = (Evidence("data.password"),) if status is Status.FAIL else ()
        return Finding(
            "LG-SEC-001",
            status,
            severity,
            "t",
            "m",
            ref,
            Origin(path=path),
            evidence,
            fingerprint=fp or f"{status}-{severity}-{path}",
        )

    def result(*found: Finding) -> ScanResult:
        return ScanResult.build(found, [])

    revs = Revisions("b" * 40, "h" * 40, "", {"old.yaml": "a.yaml"}, frozenset())
    base_fail = finding(Status.FAIL, Severity.HIGH)
    cases = {
        "severity high → critical": finding(Status.FAIL, Severity.CRITICAL),
        "fail → error": finding(Status.ERROR, Severity.HIGH),
    }
    for why, head in cases.items():
        c = compare(result(base_fail), result(head), revs)
        assert dict(c.worse) == {head.fingerprint: why}, why
    renamed = compare(
        result(copy(base_fail, origin=Origin(path="old.yaml"))), result(base_fail), revs
    )
    assert (renamed.new, renamed.unchanged, renamed.fixed) == ((), (base_fail.fingerprint,), ())
    gone = compare(result(base_fail), result(), revs)
    assert gone.fixed == (base_fail,) and gone.gating == frozenset()


def test_a_subfolder_scan_compares_with_the_base(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    """``git archive`` runs from the top level: inside a subfolder it refused the tree-ish."""
    repo = make_repo(tmp_path)
    leaked = repo / "apps/odoo/leaked-secret.yaml"
    leaked.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n  namespace: finance-prod\n"
        "stringData:\n  password: Zq8#vLp2!rT6wXy9\n"
    )
    commit(repo)
    result, doc = premerge(run_cli, repo / "apps", tmp_path)
    assert result.exit_code == 1, result.output
    assert doc["comparison"]["base"] == git(repo, "rev-parse", "main")
    assert any(rule.startswith("LG-SEC") for rule, _ in gating(doc)), gating(doc)


def test_the_gate_renders_as_the_trusted_configuration_says(
    run_cli: Callable[..., Result], tmp_path: Path
) -> None:
    """``render:`` and ``helm:`` of the merge base's ``ledgergate.yaml`` apply to both trees
    of a pre-merge scan, as to a plain scan: both trees were rendered with the defaults."""
    source = tmp_path / "source"
    shutil.copytree(COMPLIANT, source)
    config = source / "ledgergate.yaml"
    config.write_text(config.read_text() + "render:\n  enabled: false\n")
    pinned = source / "apps" / "pinned"  # rendered, the image is pinned; unrendered, it is not
    pinned.mkdir()
    (pinned / "kustomization.yaml").write_text(
        "resources: [deploy.yaml]\nimages:\n  - name: registry.finance.internal/odoo\n"
        f"    digest: sha256:{'ab' * 32}\n"
    )
    (pinned / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: pinned, namespace: finance-prod}\n"
        "spec:\n  selector: {matchLabels: {app: pinned}}\n  template:\n"
        "    metadata: {labels: {app: pinned}}\n    spec:\n      containers:\n"
        "        - {name: app, image: 'registry.finance.internal/odoo:17.0'}\n"
    )
    repo = make_repo(tmp_path, source)
    plain_out = tmp_path / "plain.json"
    plain = run_cli("scan", "repo", str(repo), "--json", str(plain_out))
    assert plain.exit_code in (0, 1), plain.output
    result, doc = premerge(run_cli, repo, tmp_path)
    assert result.exit_code in (0, 1), result.output

    def judged(findings: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        return {(f["ruleId"], f["location"].get("path", ""), f["fingerprint"]) for f in findings}

    plain_doc = json.loads(plain_out.read_text())
    assert judged(doc["findings"]) == judged(plain_doc["findings"])

    def passes(d: dict[str, Any]) -> dict[str, int]:  # the gate's own objects aside
        return {p["ruleId"]: p["count"] for p in d["passes"] if p["ruleId"] != "LG-GATE-001"}

    assert passes(doc) == passes(plain_doc)
