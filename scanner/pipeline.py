"""Wire one scan: source -> inventory -> analyzers -> engine -> findings."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from scanner import __version__
from scanner.analyzers import default_analyzers
from scanner.config import Config
from scanner.engine import Engine
from scanner.findings import ScanResult, coverage_errors
from scanner.inventory import Inventory
from scanner.model import CoverageEntry
from scanner.rules import RuleSet, load_rules
from scanner.shipped import rules_dir
from scanner.sources.base import Source, SourceItem
from scanner.waivers import WaiverRegister, apply_waivers

Progress = Callable[[str], None]


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
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
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def load_ruleset(config: Config) -> RuleSet:
    """The shipped packs plus the config's extra rule folders, filtered and overridden."""
    return load_rules(
        [rules_dir(), *config.rule_paths],
        include=config.include,
        exclude=config.exclude_rules,
        severity_overrides=config.severity_overrides,
        control_map=config.control_map,
    )


def run_scan(
    source: Source,
    config: Config,
    *,
    rules: RuleSet | None = None,
    progress: Progress | None = None,
    waivers: WaiverRegister | None = None,
    on_inventory: Callable[[Inventory], None] | None = None,
) -> ScanResult:
    """Scan one source with the configured rules; never raises for a bad input."""
    started = now_iso()
    ruleset = rules if rules is not None else load_ruleset(config)
    say = progress or (lambda _msg: None)
    say(f"reading {source.name}")
    with _no_cyclic_gc():
        items: list[SourceItem] = list(source.collect())
        inventory = Inventory.from_items(items)
        say(f"judging {len(inventory.resources)} resources with {len(ruleset)} rules")
        engine = Engine(ruleset, config.params, default_analyzers())
        findings, unknown = engine.run(inventory)
        findings.extend(coverage_errors(inventory.coverage, ruleset.rules, source.origin()))
        findings = source.locate(findings)
        findings = apply_waivers(findings, waivers)
        if on_inventory is not None:  # the evidence bundle snapshots what the rules saw
            on_inventory(inventory)
    coverage = list(inventory.coverage)
    coverage.extend(
        CoverageEntry("analyzer", f.analyzer, f.message, f.provides) for f in engine.failures
    )
    return ScanResult.build(
        findings,
        ruleset.rules,
        coverage=tuple(coverage),
        skipped=[*inventory.skipped, *unknown],
        target=source.target(),
        started=started,
        finished=now_iso(),
        tool_version=__version__,
        resources_scanned=len(inventory.resources),
    )


def scan_repo(root: Path, config: Config, **kw: object) -> ScanResult:
    """Scan a repository folder."""
    from scanner.sources.repo import RepoSource

    source = RepoSource(root, excludes=config.exclude_paths, max_file_size=config.max_file_size)
    return run_scan(source, config, **kw)  # type: ignore[arg-type]
