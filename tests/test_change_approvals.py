"""Approvals exports in the code hosts' real shapes, and the change log's CSV safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.changes.approvals import ApprovalsError, load_approvals
from scanner.reporters.changelog import changelog_csv

RECORDED = Path(__file__).parent / "gitrepos" / "approvals"


def test_github_latest_deciding_review_counts_and_stale_approvals_do_not() -> None:
    nine, eleven = load_approvals(RECORDED / "github-pulls.json")
    # bob requested changes, then only commented: still not an approval; carol approved head
    assert (nine.number, nine.author, nine.approvers) == (9, "alice", ("carol",))
    assert nine.title.startswith("FIN-9") and nine.commits == (
        "0d3c8e1f5a7b9c2d4e6f8a0b1c3d5e7f9a1b3c5d",
    )
    # bob approved a commit that is no longer the head: stale
    assert (eleven.approvers, eleven.stale) == ((), ("bob",))


def test_gitlab_merge_request_with_its_approvals_object() -> None:
    (four,) = load_approvals(RECORDED / "gitlab-merge-requests.json")
    assert (four.host, four.number, four.author, four.approvers) == (
        "gitlab",
        4,
        "alice",
        ("alice",),
    )
    assert four.commits == ("2a5d8c1f4b7e0a3d6c9f2b5e8e1b4d7a0c3f6e9b",)


def test_dismissed_approval_does_not_count(tmp_path: Path) -> None:
    entry = {
        "number": 1,
        "title": "t",
        "user": {"login": "a"},
        "reviews": [
            {"user": {"login": "b"}, "state": "APPROVED"},
            {"user": {"login": "b"}, "state": "DISMISSED"},
            {"user": {"login": "c"}, "state": "PENDING"},
        ],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps([entry]))
    assert load_approvals(path)[0].approvers == ()


def test_reviews_that_are_not_the_api_array_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([{"number": 1, "user": {"login": "a"}, "reviews": {"x": 1}}]))
    with pytest.raises(ApprovalsError, match=r"entry \[0\]"):
        load_approvals(path)


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    row = {"commit": "abc", "subject": '=HYPERLINK("http://x")', "approvers": ["@bob"]}
    text = changelog_csv([row])
    assert "'=HYPERLINK" in text and "'@bob" in text
