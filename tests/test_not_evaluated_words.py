"""Controls nothing judged say why in the control tree of every report: "not evaluated
(excluded: RULE)" or "not evaluated (no resource in scope for ...)" (#14)."""

from __future__ import annotations

import html as htmllib
import json
import re
from pathlib import Path

from click.testing import CliRunner

from scanner.cli import cli

from .conftest import copy_fixture_repo, merge_config


def test_excluded_and_unjudged_controls_carry_their_reason_in_every_report(
    tmp_path: Path,
) -> None:
    repo = copy_fixture_repo(tmp_path / "repo", include_rules=("LG-TLS-001", "LG-ENC-001"))
    merge_config(repo / "ledgergate.yaml", {"rules": {"exclude": ["LG-TLS-001"]}})
    bundle = tmp_path / "bundle"
    md = tmp_path / "summary.md"
    done = CliRunner().invoke(
        cli,
        ["scan", "repo", str(repo), "--evidence", str(bundle), "--format", "md", "-o", str(md)],
    )
    assert done.exit_code in (0, 1), done.output
    scope = json.loads((bundle / "findings.json").read_text())["scope"]
    # rules outside the selection are excluded; their controls are nowhere judged
    excluded = [c for c in scope["notEvaluated"] if c["reason"].startswith("rule excluded: ")]
    assert len(excluded) > 10, scope["notEvaluated"]
    page = htmllib.unescape((bundle / "report.html").read_text())
    tree = page[page.index('id="by-framework"') :]
    markdown = md.read_text()
    for c in excluded:
        block = re.search(
            rf'data-control="{re.escape(c["control"])}" data-status="not-evaluated">\s*<h4>[^\n]*',
            tree,
        )
        assert block is not None, c
        words = "not evaluated (excluded: " + c["reason"].removeprefix("rule excluded: ") + ")"
        assert words in block.group(0)
        assert f"{c['framework']} {c['control']}: {words}" in markdown.replace("\\", "")
