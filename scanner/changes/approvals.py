"""Approvals exports: what a code host's API returns for a pull or merge request's reviews.

Accepted file shapes (JSON): a list of entries, or ``{"pullRequests": [...]}`` /
``{"mergeRequests": [...]}``. Each entry is one of

- **GitHub**: the pull request object of ``GET /repos/{o}/{r}/pulls/{n}`` (``number``,
  ``title``, ``user.login``, ``merge_commit_sha``, ``head.sha``) with the array of
  ``GET /repos/{o}/{r}/pulls/{n}/reviews`` under ``reviews``. A reviewer's latest
  ``APPROVED``/``CHANGES_REQUESTED``/``DISMISSED`` review decides (``COMMENTED`` and
  ``PENDING`` do not); an approval of a commit other than ``head.sha`` is stale and
  does not count.
- **GitLab**: the merge request object of ``GET /projects/:id/merge_requests/:iid``
  (``iid``, ``title``, ``author.username``, ``merge_commit_sha``, ``squash_commit_sha``)
  with the object of ``.../merge_requests/:iid/approvals`` under ``approvals`` (or its
  ``approved_by`` merged in at the top level).

Anything else is a configuration error naming the entry: never a silent "no approvals".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError

_DECIDING = {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}


class ApprovalsError(ConfigError):
    """The approvals file does not parse or has an entry of no known shape."""


@dataclass(frozen=True)
class PullRequest:
    """One reviewed request, reduced to what change control needs."""

    host: str
    number: int
    title: str
    author: str
    approvers: tuple[str, ...]
    commits: tuple[str, ...]
    stale: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``pullRequest`` field of a Change."""
        return {
            "host": self.host,
            "number": self.number,
            "title": self.title,
            "author": self.author,
            "approvedBy": list(self.approvers),
            "staleApprovals": list(self.stale),
        }


def load_approvals(path: Path) -> list[PullRequest]:
    """Parse an approvals file; raises :class:`ApprovalsError` with the file and entry."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ApprovalsError(f"--approvals {path}: cannot read: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApprovalsError(f"--approvals {path}: not valid JSON: {exc}") from exc
    entries = _entries(data)
    if entries is None:
        raise ApprovalsError(
            f"--approvals {path}: expected a JSON list of pull/merge requests, or an object "
            "with 'pullRequests' or 'mergeRequests'"
        )
    found: list[PullRequest] = []
    for i, entry in enumerate(entries):
        try:
            found.append(_parse(entry))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ApprovalsError(f"--approvals {path}: entry [{i}]: {exc}") from exc
    return found


def _entries(data: Any) -> Sequence[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in ("pullRequests", "mergeRequests"):
            if isinstance(data.get(key), list):
                return list(data[key])
    return None


def _parse(entry: Any) -> PullRequest:
    if not isinstance(entry, Mapping):
        raise TypeError("not an object")
    if "number" in entry and "reviews" in entry:
        return _github(entry)
    if "iid" in entry:
        return _gitlab(entry)
    raise ValueError(
        "neither a GitHub pull request with 'reviews' nor a GitLab merge request with 'iid'"
    )


def _login(user: Any, key: str) -> str:
    if not isinstance(user, Mapping) or not isinstance(user.get(key), str) or not user[key]:
        raise ValueError(f"user without {key!r}")
    return str(user[key])


def _shas(*values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values if isinstance(v, str) and v)


def _github(entry: Mapping[str, Any]) -> PullRequest:
    reviews = entry["reviews"]
    if not isinstance(reviews, list):
        raise TypeError("'reviews' is not the array the reviews API returns")
    head = (entry.get("head") or {}).get("sha", "")
    latest: dict[str, Mapping[str, Any]] = {}
    for review in reviews:
        if not isinstance(review, Mapping) or not isinstance(review.get("state"), str):
            raise ValueError("review without a 'state'")
        if review["state"] in _DECIDING:
            latest[_login(review.get("user"), "login")] = review
    approvers: list[str] = []
    stale: list[str] = []
    for login, review in sorted(latest.items()):
        if review["state"] != "APPROVED":
            continue
        commit = review.get("commit_id")
        (stale if head and commit and commit != head else approvers).append(login)
    return PullRequest(
        host="github",
        number=int(entry["number"]),
        title=str(entry.get("title") or ""),
        author=_login(entry.get("user"), "login"),
        approvers=tuple(approvers),
        commits=_shas(entry.get("merge_commit_sha")),
        stale=tuple(stale),
    )


def _gitlab(entry: Mapping[str, Any]) -> PullRequest:
    approvals = entry.get("approvals", entry)
    if not isinstance(approvals, Mapping) or not isinstance(approvals.get("approved_by"), list):
        raise ValueError("merge request without 'approved_by' (the approvals API's field)")
    approvers = sorted({_login(a.get("user"), "username") for a in approvals["approved_by"]})
    return PullRequest(
        host="gitlab",
        number=int(entry["iid"]),
        title=str(entry.get("title") or ""),
        author=_login(entry.get("author"), "username"),
        approvers=tuple(approvers),
        commits=_shas(entry.get("merge_commit_sha"), entry.get("squash_commit_sha")),
    )
