"""The auditor's HTML report: self-contained, escaped, and rendered by a real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli

from .chromium import find_chromium, headless
from .conftest import copy_fixture_repo, missing_tool

HOSTILE = "<script>alert('pwned')</script>"
WAIVERS = """\
waivers:
  - rule: LG-TLS-001
    resource: {kind: IngressRoute, name: odoo}
    justification: "Partner endpoint <b>stays</b> on HTTP until the certificate is issued."
    ticket: RISK-7
    owner: carol@finance.example
    approver: dave@finance.example
    approved: 2026-01-01
    expires: 2026-03-31
"""


class _Dom(HTMLParser):
    """Collects the elements the assertions need from a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.findings: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.urls.extend(found[k] for k in ("src", "href") if k in found)
        if tag == "tr" and found.get("class") == "control":
            self.controls.append(found)
        if tag == "article" and "finding" in found.get("class", "").split():
            self.findings.append(found)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of the non-compliant repo with a waiver and a hostile subject name."""
    base = tmp_path_factory.mktemp("html")
    repo = copy_fixture_repo(
        base / "repo",
        waivers=WAIVERS,
        include_rules=("LG-TLS-001", "LG-ENC-001", "LG-RBAC-001", "LG-SEC-001"),
    )
    (repo / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: [\n")
    rbac = repo / "platform/rbac/operators.yaml"
    rbac.write_text(rbac.read_text().replace("jane.doe@finance.example", HOSTILE))
    out = base / "bundle"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1767225600")
        mp.setenv("LEDGERGATE_TODAY", "2026-01-01")
        result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(out)])
    assert result.exit_code == 1, result.output
    return out


def test_report_is_self_contained_and_escaped(bundle: Path) -> None:
    html = (bundle / "report.html").read_text()
    dom = _Dom()
    dom.feed(html)
    assert dom.tags.isdisjoint({"script", "link", "iframe", "img", "object", "embed"})
    # in-page links, and the bundle's own population file beside the report
    bundle_files = {"population.csv", "population.csv.gz"}
    assert all(url.startswith("#finding-") or url in bundle_files for url in dom.urls)
    assert not re.search(r"@import|url\(|https?://", html.split("</style>")[0])
    assert "default-src 'none'" in html
    assert HOSTILE not in html and "&lt;script&gt;" in html
    assert "<b>stays</b>" not in html and "&lt;b&gt;stays&lt;/b&gt;" in html
    assert "@media print" in html
    dom_urls = [u for u in dom.urls if u.startswith("#finding-")]
    findings = json.loads((bundle / "findings.json").read_text())["findings"]
    errors = [f"#finding-{f['fingerprint']}" for f in findings if f["status"] == "error"]
    assert errors and dom_urls == errors  # coverage gaps link to the unreadable inputs


def test_report_renders_in_headless_chromium(bundle: Path, tmp_path: Path) -> None:
    browser = find_chromium() or missing_tool("chromium", "scripts/install.sh installs it")
    shot = tmp_path / "report.png"
    command = headless(
        browser,
        tmp_path / "profile",
        bundle / "report.html",
        "--window-size=1200,1600",
        f"--screenshot={shot}",
        "--dump-dom",
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    rows = list(csv.DictReader(io.StringIO((bundle / "controls.csv").read_text())))
    expected = [[r["framework"], r["control"], r["status"]] for r in rows]
    shown = [[c["data-framework"], c["data-control"], c["data-status"]] for c in dom.controls]
    assert shown == expected
    assert ["nist-800-53-r5", "SC-8(1)", "waived"] in shown
    findings = json.loads((bundle / "findings.json").read_text())["findings"]
    open_ids = {f"finding-{f['fingerprint']}" for f in findings if f["status"] != "pass"}
    assert {f["id"] for f in dom.findings} == open_ids
    tls = next(f for f in dom.findings if f["data-rule"] == "LG-TLS-001")
    assert tls["data-status"] == "waived"
    assert "RISK-7" in done.stdout and "<script>alert" not in done.stdout
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
