"""Wire a change scan: Git history -> Change resources -> changes analyzer -> change rules.

Also the change ledger a cluster scan asks "did the commit this Application synced pass
change control?" (``scan cluster --repo``), judged by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.changes import (
    CHANGE_KIND,
    ChangeSource,
    Git,
    Population,
    PullRequest,
    TrustSet,
    open_repository,
)
from scanner.config import Config
from scanner.errors import ConfigError, ScannerError
from scanner.findings import ScanResult
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.pipeline import HISTORY_FAMILIES, load_ruleset, run_scan
from scanner.reporters.changelog import change_rows
from scanner.waivers import WaiverRegister

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ChangeScan:
    """The scan result and the change log rows built from what the rules saw."""

    result: ScanResult
    rows: list[dict[str, Any]]
    #: What the rules saw, for the evidence bundle's snapshot.
    inventory: Inventory


def scan_changes(
    git: Git,
    population: Population,
    config: Config,
    *,
    trust: TrustSet | None = None,
    approvals: Sequence[PullRequest] = (),
    progress: Progress | None = None,
    waivers: WaiverRegister | None = None,
) -> ChangeScan:
    """Judge every change of the population with the change rules."""
    source = ChangeSource(git, population, config.params, trust=trust, approvals=approvals)
    outcome = run_scan(
        source,
        config,
        rules=load_ruleset(config, families=HISTORY_FAMILIES),
        progress=progress,
        waivers=waivers,
    )
    result, inventory = outcome.result, outcome.inventory
    changes = [
        (r, [h.value for h in inventory.secrets.get(i, [])])
        for i, r in enumerate(inventory.resources)
        if r.ref.kind == CHANGE_KIND
    ]
    return ChangeScan(result, change_rows(changes, result.findings), inventory)


def check_config_committed(git: Git, population: Population, config_path: Path | None) -> None:
    """The repository's own ``ledgergate.yaml`` judges its history only as committed at the
    end of the range, where changing it needed approval (LG-CHG-006); a working-tree edit
    (a lower ``minApprovers``) would judge the audit by rules no one approved."""
    if config_path is None:
        return
    try:
        rel = config_path.resolve().relative_to(git.repo.resolve()).as_posix()
    except ValueError:
        return  # a config from outside the repository was given on the command line
    done = git.run("show", f"{population.tip}:{rel}", check=False)
    if done.returncode != 0 or done.stdout != config_path.read_bytes():
        raise ConfigError(
            f"{rel} differs from the one committed at {population.tip[:12]}: the audit would "
            "apply settings no change control approved; commit it, or pass --config"
        )


class ChangeLedger:
    """Answers, for a commit a GitOps controller synced, whether it passed change control.

    The commit must be on the first-parent history of a protected branch; its change is
    then judged alone (``sha^..sha``) by the change rules, once per commit.
    """

    def __init__(
        self,
        repo: Path,
        config: Config,
        *,
        trust: TrustSet | None = None,
        approvals: Sequence[PullRequest] = (),
    ) -> None:
        self.git = open_repository(repo)
        self.config = config
        self.trust = trust
        self.approvals = approvals
        self._seen: dict[str, dict[str, Any]] = {}

    def lookup(self, revision: str) -> dict[str, Any]:
        """``{known, protected, branch, passed, failedRules, ticket, approvers, reason}``."""
        if revision not in self._seen:
            try:
                self._seen[revision] = self._judge(revision)
            except ScannerError as exc:  # git could not answer: the revision is not proven
                self._seen[revision] = _answer(revision, reason=exc.diagnostics())
        return self._seen[revision]

    def _judge(self, revision: str) -> dict[str, Any]:
        sha = self.git.commit_of(revision) if revision else None
        if sha is None:
            return _answer(
                revision, reason=f"revision {revision or '(none)'} is not in the repository"
            )
        branch = self._protected_branch_of(sha)
        if branch is None:
            return _answer(
                sha, known=True, reason="not on the first-parent history of a protected branch"
            )
        selection = {"revision": sha}
        population = Population(branch, sha, (sha,), selection)
        scan = scan_changes(
            self.git, population, self.config, trust=self.trust, approvals=self.approvals
        )
        row = scan.rows[0] if scan.rows else {}
        failed = sorted(
            {f.rule_id for f in scan.result.findings if f.status in (Status.FAIL, Status.ERROR)}
        )
        return {
            **_answer(sha, known=True, protected=True, branch=branch),
            "passed": not failed,
            "failedRules": failed,
            "ticket": row.get("ticket", ""),
            "approvers": row.get("approvers", []),
            "reason": "" if not failed else "change rules failed: " + ", ".join(failed),
        }

    def _protected_branch_of(self, sha: str) -> str | None:
        for branch in self.config.params.get("protectedBranches") or ():
            ref = str(branch)
            for candidate in (ref, f"origin/{ref}"):
                tip = self.git.commit_of(candidate)
                if tip is None:
                    continue
                out = self.git.text("rev-list", "--first-parent", tip, "--")
                if sha in out.split():
                    return ref
        return None


def _answer(
    revision: str,
    *,
    known: bool = False,
    protected: bool = False,
    branch: str = "",
    reason: str = "",
) -> dict[str, Any]:
    return {
        "revision": revision,
        "known": known,
        "protected": protected,
        "branch": branch,
        "passed": False,
        "failedRules": [],
        "ticket": "",
        "approvers": [],
        "reason": reason,
    }
