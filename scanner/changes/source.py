"""The change source: one synthetic ``Change`` resource per first-parent commit.

Each Change carries what an auditor samples: author, committer, co-authors, the
signature verdict under the configured trust set, review trailers, the merged-in
authors of a merge, the matching pull/merge request from an approvals export, and
the changed files with whether each reaches production and who owns it (CODEOWNERS
at the first parent). The change rules judge these through the ``changes`` analyzer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner.changes import history
from scanner.changes.approvals import PullRequest
from scanner.changes.codeowners import LOCATIONS, CodeOwners
from scanner.changes.gitcmd import Git
from scanner.changes.history import Commit, Person, Population
from scanner.changes.production import MAX_MANIFEST_BYTES, classify, is_gate_config
from scanner.changes.signatures import TrustSet, Verifier, verifier
from scanner.model import SYNTHETIC_GROUP, Origin, Resource, ResourceRef
from scanner.sources.base import Source, SourceItem

CHANGE_KIND = "Change"
CHANGE_API_VERSION = f"{SYNTHETIC_GROUP}/v1"
SOURCE = "changes"
_PR_REFERENCE = (
    ("github", re.compile(r"^Merge pull request #(\d+)\b")),
    ("github", re.compile(r"\(#(\d+)\)\s*$", re.MULTILINE)),
    ("gitlab", re.compile(r"See merge request \S*!(\d+)\b")),
)


class ChangeSource(Source):
    """Reads the population of a repository's protected branch (see :mod:`history`)."""

    name = SOURCE

    def __init__(
        self,
        git: Git,
        population: Population,
        params: Mapping[str, Any],
        *,
        trust: TrustSet | None = None,
        approvals: Sequence[PullRequest] = (),
    ) -> None:
        self.git = git
        self.population = population
        self.params = params
        self.trust = trust or TrustSet()
        self.by_sha = {sha: pr for pr in approvals for sha in pr.commits}
        self.by_number = {(pr.host, pr.number): pr for pr in approvals}
        self._owners: dict[str, CodeOwners | None] = {}

    def target(self) -> dict[str, str]:
        """The repository and the selection of commits."""
        return {
            "type": "changes",
            "path": str(self.git.repo),
            "branch": self.population.branch,
            **self.population.selection,
        }

    def origin(self) -> Origin:
        """Findings about the history as a whole point at the branch tip."""
        return Origin(git_source=f"commit:{self.population.tip}")

    def collect(self) -> Iterator[SourceItem]:
        """One Change per commit, oldest first; raises GitError when git cannot answer."""
        with verifier(self.git, self.trust) as check:
            config, env = check.log_config()
            commits = history.read_commits(
                self.git, self.population.commits, config=config, env=env
            )
            for commit in commits:
                yield self._change(commit, check)

    def _change(self, commit: Commit, check: Verifier) -> Resource:
        files = history.changed_files(self.git, commit)
        texts = self._texts(commit, files)
        owners = self._codeowners(commit.parents[0]) if commit.parents else None
        records: list[dict[str, Any]] = []
        for status, path in files:
            reach = classify(path, texts.get(path), self.params)
            records.append(
                {
                    "path": path,
                    "status": status,
                    "production": reach.production,
                    "objects": list(reach.objects),
                    "gate": is_gate_config(path, self.params),
                    "owners": list(owners.owners_of(path)) if owners else [],
                }
            )
        merge = len(commit.parents) > 1
        merged = history.merged_commits(self.git, commit) if merge else []
        verdict = check.verify(commit.sha, commit.sig_letter, commit.sig_key, commit.sig_signer)
        pr = self._pull_request(commit)
        body: dict[str, Any] = {
            "apiVersion": CHANGE_API_VERSION,
            "kind": CHANGE_KIND,
            "metadata": {"name": commit.sha},
            "commit": commit.sha,
            "parents": list(commit.parents),
            "merge": merge,
            "branch": self.population.branch,
            "author": {**commit.author.to_dict(), "date": commit.author_date},
            "committer": {**commit.committer.to_dict(), "date": commit.committer_date},
            "coAuthors": _people(commit.trailer_values("Co-authored-by")),
            "reviewedBy": _people(commit.trailer_values("Reviewed-by")),
            "approvedBy": _people(commit.trailer_values("Approved-by")),
            "mergedAuthors": _merged_authors(merged),
            "subject": commit.message.split("\n", 1)[0],
            "message": commit.message,
            "signature": verdict.to_dict(),
            "pullRequest": pr.to_dict() if pr else None,
            "codeowners": owners.path if owners else "",
            "files": records,
            "production": any(r["production"] for r in records),
            "productionObjects": sorted({o for r in records for o in r["objects"]}),
            "gateFiles": [r["path"] for r in records if r["gate"]],
        }
        shown = next((r["path"] for r in records if r["production"]), "")
        origin = Origin(
            path=shown or (records[0]["path"] if records else ""), git_source=f"commit:{commit.sha}"
        )
        ref = ResourceRef(CHANGE_API_VERSION, CHANGE_KIND, "", commit.sha)
        return Resource(ref, body, origin)

    def _texts(self, commit: Commit, files: Sequence[tuple[str, str]]) -> dict[str, str]:
        """File contents after the change (before it, for deletions)."""
        specs = {}
        for status, path in files:
            rev = commit.parents[0] if status == "D" and commit.parents else commit.sha
            specs[f"{rev}:{path}"] = path
        blobs = history.read_blobs(self.git, list(specs), limit=MAX_MANIFEST_BYTES)
        return {specs[spec]: text for spec, text in blobs.items()}

    def _codeowners(self, rev: str) -> CodeOwners | None:
        """CODEOWNERS as it stood at ``rev`` (GitHub's order of locations), cached."""
        if rev not in self._owners:
            blobs = history.read_blobs(
                self.git, [f"{rev}:{loc}" for loc in LOCATIONS], limit=MAX_MANIFEST_BYTES
            )
            found = next(
                (
                    CodeOwners.parse(loc, blobs[f"{rev}:{loc}"])
                    for loc in LOCATIONS
                    if f"{rev}:{loc}" in blobs
                ),
                None,
            )
            self._owners[rev] = found
        return self._owners[rev]

    def _pull_request(self, commit: Commit) -> PullRequest | None:
        if commit.sha in self.by_sha:
            return self.by_sha[commit.sha]
        for host, pattern in _PR_REFERENCE:
            match = pattern.search(commit.message)
            if match and (host, int(match[1])) in self.by_number:
                return self.by_number[(host, int(match[1]))]
        return None


def _people(values: Sequence[str]) -> list[dict[str, str]]:
    return [Person.parse(v).to_dict() for v in values]


def _merged_authors(merged: Sequence[Commit]) -> list[dict[str, str]]:
    """Authors and co-authors of the commits a merge brought in (each once, sorted)."""
    seen: dict[str, dict[str, str]] = {}
    for c in merged:
        for person in (c.author, *(Person.parse(v) for v in c.trailer_values("Co-authored-by"))):
            record = person.to_dict()
            seen.setdefault(record["email"] or record["name"], record)
    return [seen[k] for k in sorted(seen)]


def open_repository(repo: Path) -> Git:
    """A :class:`Git` for ``repo``; raises GitError when it is not a repository."""
    git = Git(repo)
    git.text("rev-parse", "--git-dir")
    return git
