"""Who wrote and who approved each change, as facts the change rules read.

Authors are the commit's author, its ``Co-authored-by`` people, the authors of the
commits a merge brought in and the pull request's author: none of them can approve the
change. Approval evidence is the merger of a merge commit, ``Reviewed-by:`` and
``Approved-by:`` trailers, and approvals from the code host's export. Identities are
compared case-insensitively after ``params.changeIdentities`` maps each person's aliases
(e-mails, code-host logins) to one name, so a login cannot approve its own e-mail's work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.model import SYNTHETIC_GROUP

GITHUB_NOREPLY = "@users.noreply.github.com"


class Identities:
    """Maps every alias (``@login``, login, e-mail, name) to one person."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.alias: dict[str, str] = {}
        for person, aliases in (params.get("changeIdentities") or {}).items():
            for alias in (person, *(aliases or ())):
                self.alias[_norm(str(alias))] = _norm(str(person))
        self.teams = {
            _norm(str(team)): [self.of(str(m)) for m in members or ()]
            for team, members in (params.get("codeOwnerTeams") or {}).items()
        }

    def of(self, text: str) -> str:
        """The person an alias names (the alias itself when unmapped)."""
        key = _norm(text)
        return self.alias.get(key, key)

    def of_record(self, record: Mapping[str, Any] | None) -> str:
        """The person of a ``{name, email}`` record (e-mail first)."""
        if not record:
            return ""
        return self.of(str(record.get("email") or record.get("name") or ""))

    def owners(self, owners: Iterable[str]) -> set[str]:
        """People an owners list names, teams expanded."""
        found: set[str] = set()
        for owner in owners:
            key = _norm(owner)
            found.update(self.teams.get(key, [self.of(key)]))
        return found


def _norm(text: str) -> str:
    """Lower case, no ``@`` before a login; GitHub's no-reply e-mail is its login."""
    key = text.strip().lower().removeprefix("@")
    if key.endswith(GITHUB_NOREPLY):
        key = key.removesuffix(GITHUB_NOREPLY).rpartition("+")[2]
    return key


def change_fact(
    body: Mapping[str, Any], params: Mapping[str, Any], ids: Identities
) -> dict[str, Any]:
    """``facts.change`` for one Change body."""
    pr = body.get("pullRequest") or None
    # a merge commit's author is the merger (evidence of approval); the change's authors
    # are those of the commits it brought in
    merged = body.get("mergedAuthors") or ()
    authors = {ids.of_record(body.get("author"))} if not body.get("merge") or not merged else set()
    authors.update(ids.of_record(p) for p in body.get("coAuthors") or ())
    authors.update(ids.of_record(p) for p in body.get("mergedAuthors") or ())
    if pr:
        authors.add(ids.of(str(pr.get("author", ""))))
    authors.discard("")
    evidence: list[dict[str, str]] = []
    if body.get("merge"):
        evidence.append({"who": ids.of_record(body.get("author")), "via": "merge commit"})
    for key, via in (("reviewedBy", "Reviewed-by"), ("approvedBy", "Approved-by")):
        evidence.extend({"who": ids.of_record(p), "via": via} for p in body.get(key) or ())
    if pr:
        where = f"{pr.get('host')} #{pr.get('number')}"
        evidence.extend({"who": ids.of(str(a)), "via": where} for a in pr.get("approvedBy") or ())
    approvers = sorted({e["who"] for e in evidence if e["who"] and e["who"] not in authors})
    return {
        "authors": sorted(authors),
        "approvals": evidence,
        "approvers": approvers,
        "selfApprovals": sorted({e["who"] for e in evidence if e["who"] in authors}),
        "ticket": _ticket(body, pr, params),
        "directCommit": not body.get("merge") and not pr and not _trailer_review(body),
        "ownersMissing": _owners_missing(body.get("files") or (), approvers, ids),
    }


def _trailer_review(body: Mapping[str, Any]) -> bool:
    return bool(body.get("reviewedBy") or body.get("approvedBy"))


def _ticket(
    body: Mapping[str, Any], pr: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> str:
    """The first ticket reference in the message, or in the pull request's title."""
    pattern = re.compile(str(params.get("ticketPattern") or r"(?!)"))
    for text in (str(body.get("message") or ""), str((pr or {}).get("title") or "")):
        match = pattern.search(text)
        if match:
            return match.group(0)
    return ""


def _owners_missing(
    files: Sequence[Mapping[str, Any]], approvers: Sequence[str], ids: Identities
) -> list[str]:
    """Changed files that have code owners, none of whom approved."""
    chosen = set(approvers)
    return [
        str(f["path"]) for f in files if f.get("owners") and not ids.owners(f["owners"]) & chosen
    ]


class ChangeAnalyzer(Analyzer):
    """``facts.change`` on every ``Change`` (see :mod:`scanner.changes`)."""

    name = "changes"
    provides = ("change",)

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Derive authors, approvers, ticket and owner coverage; a bad pattern raises."""
        ids = Identities(params)
        result = AnalyzerResult()
        for index in inventory.of_kind("Change", groups=[SYNTHETIC_GROUP]):
            body = inventory.resources[index].body
            result.facts[index] = {"change": change_fact(body, params, ids)}
        return result
