"""The HTML report a non-engineer reads: summary, framework -> control -> rule -> items; as PDF."""

from __future__ import annotations

import html as htmllib
import json
import re
import subprocess
from pathlib import Path

import pytest

from .chromium import headless
from .conftest import scanned_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scanned_bundle(tmp_path_factory.mktemp("report"))


def _text(fragment: str) -> str:
    words = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r"\s+([:;),.])", r"\1", words)


def _section(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start : page.index("</section>", start)]


def test_executive_summary_says_scope_period_and_trust_in_words(bundle: Path) -> None:
    page = (bundle / "report.html").read_text()
    summary = _text(_section(page, 'id="executive-summary"'))
    doc = json.loads((bundle / "findings.json").read_text())
    assert f"{doc['summary']['resources']} resources" in summary
    assert f"from {doc['started']} to {doc['finished']}" in summary
    assert "The time is only asserted by the machine that ran the scan" in summary
    assert "This page cannot vouch for itself" in summary
    critical = sum(
        1 for f in doc["findings"] if f["severity"] == "critical" and f["status"] == "fail"
    )
    assert f"critical {critical} " in summary + " "


def test_each_control_shows_objective_procedure_failures_and_remedy(bundle: Path) -> None:
    page = (bundle / "report.html").read_text()
    tree = _section(page, 'id="by-framework"')
    start = tree.index('data-framework="nist-800-53-r5"')
    nist = tree[start:]
    block = nist[nist.index('data-control="AC-5"') :]
    block = _text(block[: block.index('<div class="fw-control"', 10)])
    assert "AC-5 — Separation of duties: failed" in block
    assert "Objective: Duties that must not be combined" in block
    assert "How it was tested: Compute each subject's effective permissions" in block
    assert "failed: RbacSubject Group/oidc:finance-dba" in block
    assert "What to do: Split the duties" in block
    doc = json.loads((bundle / "findings.json").read_text())
    passed = sum(
        1 for f in doc["findings"] if f["ruleId"] == "LG-RBAC-100" and f["status"] == "pass"
    ) + sum(p["count"] for p in doc["passes"] if p["ruleId"] == "LG-RBAC-100")
    assert passed
    assert f"{passed} item(s) passed (listed in population.csv.gz)" in block
    assert '<a href="population.csv.gz">' in tree
    assert "NIST SP 800-53 Revision 5" in _text(tree)


@pytest.mark.needs_tool("chromium", "pdftoppm", "pdftotext", hint="chromium, poppler-utils")
def test_the_report_prints_to_a_readable_pdf(bundle: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    done = subprocess.run(
        headless(
            "chromium",
            tmp_path / "profile",
            bundle / "report.html",
            f"--print-to-pdf={pdf}",
            "--no-pdf-header-footer",
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0 and pdf.is_file(), done.stderr[-2000:]
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    pages = text.split("\f")
    assert len(pages) > 3
    assert "Executive summary" in pages[0] and "Time." in pages[0]
    assert "How it was tested" in text and "Separation of duties" in text
    first = next(i for i, p in enumerate(pages) if "How it was tested" in p)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-png",
            "-f",
            "1",
            "-l",
            str(first + 1),
            str(pdf),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=120,
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == first + 1 and all(p.stat().st_size > 10_000 for p in images)
