"""Wire one scan: source -> inventory -> analyzers -> engine -> findings."""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner import __version__, clock
from scanner.analyzers import Analyzer, default_analyzers
from scanner.config import Config
from scanner.engine import AnalyzerFailure, Engine
from scanner.findings import ScanResult, coverage_errors
from scanner.inventory import Inventory, environment_coverage
from scanner.model import CoverageEntry
from scanner.rules import RuleSet, load_rules
from scanner.scope import effective_scope
from scanner.shipped import rules_dir
from scanner.sources.base import Source, SourceItem
from scanner.waiverrefs import file_lines, reference_findings
from scanner.waivers import WaiverRegister, apply_waivers

if TYPE_CHECKING:
    from scanner.sources.repo import RepoSource

Progress = Callable[[str], None]


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic collector while building large acyclic structures.

    Tens of thousands of parsed objects make every generation-2 pass walk them all;
    at 50k objects that was most of the scan time. Reference counting still frees
    everything; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def now_iso() -> str:
    """Current UTC time, or ``SOURCE_DATE_EPOCH`` when set (reproducible outputs)."""
    return clock.iso(clock.now())


#: Rule families that judge a Git history (``scan changes``), not manifests or objects.
HISTORY_FAMILIES = ("change",)


def load_ruleset(config: Config, *, families: Collection[str] | None = None) -> RuleSet:
    """The shipped packs plus the config's extra rule folders, filtered and overridden.

    ``families`` picks rule families; by default every family but the history ones,
    which only ``scan changes`` has objects for.
    """
    rules = load_rules(
        [rules_dir(), *config.rule_paths],
        include=config.include,
        exclude=config.exclude_rules,
        severity_overrides=config.severity_overrides,
        control_map=config.control_map,
    )
    if families is None:
        return RuleSet((r for r in rules if r.family not in HISTORY_FAMILIES), rules.excluded)
    return RuleSet((r for r in rules if r.family in families), rules.excluded)


#: Rules that judge whether namespaces are backed up at all: not evaluated in a repository whose
#: backups are configured elsewhere (``params.backupCoverage.mode: external``).
BACKUP_COVERAGE_RULES = ("LG-BAK-002",)


def external_backup_scope(
    ruleset: RuleSet, params: Mapping[str, Any]
) -> tuple[RuleSet, list[CoverageEntry]]:
    """Drop the coverage rules when another repository holds the backup configuration, and
    record that (with the stated reason) in the scan's scope: not evaluated, never passed."""
    setting = params.get("backupCoverage")
    if not isinstance(setting, Mapping) or setting.get("mode") != "external":
        return ruleset, []
    dropped = [r.id for r in ruleset if r.id in BACKUP_COVERAGE_RULES]
    if not dropped:
        return ruleset, []
    kept = RuleSet(r for r in ruleset if r.id not in BACKUP_COVERAGE_RULES)
    reason = str(setting.get("reason") or "").strip()
    entry = CoverageEntry(
        "config",
        "params.backupCoverage",
        f"{', '.join(dropped)} not evaluated: backup coverage is judged in another "
        f"repository ({reason})",
    )
    return kept, [entry]


@dataclass(frozen=True)
class ScanOutcome:
    """What one scan produced: the result, the inventory the rules saw (for the evidence
    bundle's snapshot) and the analyzers that failed (already in the result's coverage)."""

    result: ScanResult
    inventory: Inventory
    failures: tuple[AnalyzerFailure, ...] = ()


def run_scan(
    source: Source,
    config: Config,
    *,
    rules: RuleSet | None = None,
    progress: Progress | None = None,
    waivers: WaiverRegister | None = None,
    now: datetime | None = None,
    analyzers: Sequence[Analyzer] | None = None,
) -> ScanOutcome:
    """Scan one source with the configured rules; never raises for a bad input.

    ``now`` is the moment backup and restore ages are judged at (default: the clock).
    ``analyzers`` replaces the default ones (e.g. provenance with a change ledger).
    """
    started = now_iso()
    ruleset = rules if rules is not None else load_ruleset(config)
    ruleset, scope_notes = external_backup_scope(ruleset, config.params)
    say = progress or (lambda _msg: None)
    say(f"reading {source.name}")
    with no_cyclic_gc():
        items: list[SourceItem] = list(source.collect())
        inventory = Inventory.from_items(items)
        del items
        say(f"judging {len(inventory.resources)} resources with {len(ruleset)} rules")
        engine = Engine(
            ruleset,
            config.params,
            default_analyzers(now) if analyzers is None else analyzers,
            observed=source.observes_state,
        )
        judgement = engine.judge(inventory, source.may_show)
        findings = list(judgement.findings)
        findings.extend(coverage_errors(inventory.coverage, ruleset.rules, source.origin()))
        findings = source.select(source.locate(findings))
        findings = apply_waivers(findings, waivers)
        lines = file_lines(getattr(source, "root", None))  # inline `ledgergate: waiver` refs
        shown = (r for r in inventory.resources if source.may_show(r))
        findings.extend(reference_findings(shown, waivers, lines))
        coverage = [*inventory.coverage, *scope_notes]
        coverage.extend(environment_coverage(inventory, config.params))
        coverage.extend(
            CoverageEntry("analyzer", f.analyzer, f.message, f.provides) for f in judgement.failures
        )
        result = ScanResult.build(
            findings,
            ruleset.rules,
            coverage=tuple(coverage),
            skipped=[*inventory.skipped, *judgement.skipped],
            target=source.target(),
            started=started,
            finished=now_iso(),
            tool_version=__version__,
            resources_scanned=len(inventory.resources),
            scope=effective_scope(config, ruleset, findings, source.scope()),
        )
    return ScanOutcome(result, inventory, judgement.failures)


def repo_source(root: Path, config: Config) -> RepoSource:
    """The source that reads a repository folder as ``config`` says."""
    from scanner.sources.repo import RepoSource

    return RepoSource(
        root,
        excludes=config.exclude_paths,
        max_file_size=config.max_file_size,
        render=config.render,
    )


def scan_repo(root: Path, config: Config, **kw: Any) -> ScanResult:
    """Scan a repository folder; the result only (``run_scan`` gives the whole outcome)."""
    return run_scan(repo_source(root, config), config, **kw).result
