"""Change-control evidence from Git: the protected branch's history as ``Change`` resources."""

from scanner.changes.approvals import ApprovalsError, PullRequest, load_approvals
from scanner.changes.gitcmd import Git, GitError
from scanner.changes.history import Population, from_period, from_range
from scanner.changes.signatures import TrustSet
from scanner.changes.source import CHANGE_API_VERSION, CHANGE_KIND, ChangeSource, open_repository

__all__ = [
    "CHANGE_API_VERSION",
    "CHANGE_KIND",
    "ApprovalsError",
    "ChangeSource",
    "Git",
    "GitError",
    "Population",
    "PullRequest",
    "TrustSet",
    "from_period",
    "from_range",
    "load_approvals",
    "open_repository",
]
