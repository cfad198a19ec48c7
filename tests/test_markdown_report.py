"""The Markdown PR summary: counts, a findings table that cannot be broken by its content."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from scanner.cli import cli
from scanner.reporters.markdown import render_markdown
from scanner.reporters.view import build_view

from .conftest import FIXTURE_REPOS


def _finding(i: int, message: str) -> dict:  # type: ignore[type-arg]
    return {
        "ruleId": f"LG-X-{i:03d}",
        "status": "fail",
        "severity": "high",
        "message": message,
        "location": {"path": "a.yaml", "startLine": i},
        "controls": [{"framework": "pci-dss-4.0", "id": "4.2.1"}],
        "fingerprint": f"{i:032d}",
    }


def test_cells_are_escaped_and_the_list_is_capped() -> None:
    doc = {
        "summary": {"fail": 3, "error": 0, "waived": 0, "pass": 0, "resources": 1, "rules": 3},
        "findings": [
            _finding(1, "a | b <img src=x>\nsecond line"),
            _finding(2, "`x`"),
            _finding(3, "c"),
        ],
    }
    md = render_markdown(build_view(doc), limit=2)
    lines = md.splitlines()
    assert lines[0] == "## Ledgergate: 3 failed, 0 not evaluated"
    assert (
        "| fail | high | `LG-X-001` | `a.yaml:1` | a \\| b \\<img src=x\\> second line |" in lines
    )
    assert "| fail | high | `LG-X-002` | `a.yaml:2` | \\`x\\` |" in lines
    assert not any("LG-X-003" in line for line in lines)
    assert "… and 1 more in the full report." in lines
    assert "| pci-dss-4.0 | 0 | 1 | 0 | 0 | 0 |" in lines


def test_scan_writes_markdown_and_html(tmp_path: Path) -> None:
    repo = FIXTURE_REPOS / "odoo-finance-compliant"
    out = tmp_path / "comment.md"
    result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--format", "md", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("## Ledgergate: all checks passed")
    assert "### Findings" not in text
    html = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--format", "html"]).output
    assert 'data-status="pass"' in html and "No failed, unevaluated or waived findings." in html


def test_every_data_field_is_inert_markdown() -> None:
    """Images, links, mentions, issue refs, HTML and emphasis from the scanned tree."""
    import re

    hostile = (
        "![x](https://evil/p.png) [click](https://evil) @org/team #12 <b>hi</b> **big** _i_ ~s~"
    )
    finding = _finding(1, hostile)
    finding["waiver"] = {"ticket": hostile, "expiry": "<script>"}
    doc = {
        "summary": {"fail": 1, "error": 0, "waived": 0, "pass": 0, "resources": 1, "rules": 1},
        "findings": [finding],
    }
    md = render_markdown(build_view(doc))
    # the template's own markup (the collapsed details, bold gate and severity headings)
    md = re.sub(r"</?(details|summary)>", "", md)
    md = re.sub(r"\*\*(Gate: (failed|passed)|critical|high|medium|low|info)\*\*", "", md)
    for pattern in (r"(?<!\\)!\[", r"(?<!\\)\]\(", r"@\w", r"#\d", r"(?<!\\)<\w", r"(?<!\\)\*\*"):
        assert not re.search(pattern, md), pattern
    assert not re.search(r"(?<![\\\w])_i", md)
    assert "https://evil" not in md


def test_pr_summary_leads_with_the_change(tmp_path: Path) -> None:
    """New failures by severity with blob links from the repository root, the fixed ones,
    and the gate decision come first; the full report is collapsed."""
    import json
    import re

    from .test_premerge import NONCOMPLIANT, commit, git, make_repo

    repo = make_repo(tmp_path, NONCOMPLIANT)
    git(repo, "remote", "add", "origin", "https://github.com/acme/gitops.git")
    tls = repo / "platform/traefik/tlsoption.yaml"
    (repo / "platform/traefik/tls (copy).yaml").write_text(
        tls.read_text().replace("name: finance-tls", "name: finance-tls-2")
    )
    git(repo, "rm", "-q", "platform/backup/schedule.yaml")
    commit(repo)
    head = git(repo, "rev-parse", "HEAD")
    out, doc_path = tmp_path / "out.md", tmp_path / "out.json"
    args = ["scan", "repo", str(repo), "--base", "main", "--json", str(doc_path)]
    res = CliRunner().invoke(cli, [*args, "--format", "md", "-o", str(out)])
    assert res.exit_code == 1, res.output
    md, doc = out.read_text(), json.loads(doc_path.read_text())
    lead, details = md.split("<details>", 1)
    assert "**Gate: failed**" in lead and "new failure" in lead
    new = {*doc["comparison"]["new"], *doc["comparison"]["worse"]}
    gating = [f for f in doc["findings"] if f["fingerprint"] in new]
    assert gating and doc["comparison"]["fixed"]
    base = f"https://github.com/acme/gitops/blob/{head}/"
    for f in gating:
        loc = f["location"]
        link = f"{base}{loc['path'].replace(' ', '%20').replace('(', '%28').replace(')', '%29')}"
        assert f"]({link}#L{loc['line']})" in lead, f["ruleId"]
    severities = re.findall(r"^\*\*(critical|high|medium|low|info)\*\* \(\d+\)$", lead, re.M)
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(set(severities), key=order.index)
    fixed = lead.split("### Fixed by this change", 1)[1]
    for f in doc["comparison"]["fixed"]:
        assert f"`{f['ruleId']}`" in fixed
    assert "### Findings" in details and details.rstrip().endswith("</details>")
