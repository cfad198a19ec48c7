"""Inline waiver references (annotation or comment) must point at an approved, current
register entry that covers the object; anything else is a finding at the reference."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import FIXTURE_REPOS

DEPLOYMENT = "apps/odoo/deployment.yaml"
REGISTER = """\
waivers:
  - id: W-12
    rule: LG-IMG-002
    resource: {{kind: Deployment, name: {name}, path: {path}}}
    justification: Vendor image retag pending, tracked in the risk register.
    ticket: RISK-12
    owner: alice
    approver: bob
    approved: "2026-11-20"
    expires: "2026-12-31"
"""
ANNOTATION = "metadata:\n  name: odoo\n  annotations:\n    ledgergate.io/waiver: {ref}\n"
COMMENT = "metadata:\n  name: odoo  # ledgergate: waiver {ref}\n"
REF_RULES = {"waiver/unknown-reference", "waiver/expired-reference", "waiver/mismatched-reference"}

CASES = {
    # case: (how the object refers, ref, register selector name, today, expected rule or None)
    "pass.annotation": (ANNOTATION, "W-12", "odoo", "2026-12-01", None),
    "pass.comment": (COMMENT, "W-12", "odoo", "2026-12-01", None),
    "fail.unknown": (ANNOTATION, "W-99", "odoo", "2026-12-01", "waiver/unknown-reference"),
    "fail.expired": (COMMENT, "W-12", "odoo", "2027-01-05", "waiver/expired-reference"),
    "fail.mismatch": (ANNOTATION, "W-12", "redis", "2026-12-01", "waiver/mismatched-reference"),
    "fail.no-register": (COMMENT, "W-12", None, "2026-12-01", "waiver/unknown-reference"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inline_reference(
    case: str, tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    form, ref, name, today, expected = CASES[case]
    monkeypatch.setenv("LEDGERGATE_TODAY", today)
    repo = tmp_path / "estate"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    target = repo / DEPLOYMENT
    text = target.read_text(encoding="utf-8")
    assert text.count("metadata:\n  name: odoo\n") == 1
    target.write_text(text.replace("metadata:\n  name: odoo\n", form.format(ref=ref)))
    if name is not None:
        (repo / "waivers.yaml").write_text(REGISTER.format(name=name, path=DEPLOYMENT))
    out = tmp_path / "report.json"
    done = run_cli("scan", "repo", str(repo), "--json", str(out))
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    hits = [f for f in findings if f["ruleId"] in REF_RULES]
    if expected is None:
        assert hits == [], hits
        assert done.exit_code == 0, done.output
        return
    assert [f["ruleId"] for f in hits] == [expected]
    assert done.exit_code == 1
    location = hits[0]["location"]
    assert location["path"] == DEPLOYMENT
    if form is COMMENT:  # the comment's own line
        line = target.read_text().splitlines()[location["startLine"] - 1]
        assert f"ledgergate: waiver {ref}" in line
    assert ref in hits[0]["message"]


def test_a_path_limited_scan_reads_references_of_its_paths_only(
    tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook run names the staged files: their references are findings as in a whole
    scan, and no other file is read again for comments nobody would see."""
    from scanner import waiverrefs

    from .cirunner import git

    monkeypatch.setenv("LEDGERGATE_TODAY", "2026-12-01")
    repo = tmp_path / "estate"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    target = repo / DEPLOYMENT
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("metadata:\n  name: odoo\n", COMMENT.format(ref="W-99")))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    read: list[str] = []
    real = waiverrefs.references

    def spy(resource: object, lines: object) -> object:
        read.append(resource.origin.path)  # type: ignore[attr-defined]
        return real(resource, lines)  # type: ignore[arg-type]

    monkeypatch.setattr(waiverrefs, "references", spy)
    out = tmp_path / "report.json"
    done = run_cli("scan", "repo", str(target), "--json", str(out))
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    assert [f["ruleId"] for f in findings if f["ruleId"] in REF_RULES] == [
        "waiver/unknown-reference"
    ]
    assert done.exit_code == 1
    assert read and set(read) == {DEPLOYMENT}
