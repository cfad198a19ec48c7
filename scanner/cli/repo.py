"""``ledgergate scan repo``: the pre-merge gate over a repository's manifests.

Attached under the ``scan`` group in cli/__init__.py. Without ``--base`` one tree is
scanned; with it the merge base is scanned too (scanner/premerge.py) and only what the
change adds decides the exit code. Both end in the tail every scan shares
(:func:`~scanner.cli.util.finish_scan`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli.evidence import AuditOptions, audit_options
from scanner.cli.image import ImageFlags, image_options
from scanner.cli.util import (
    ExitCommand,
    OutputOptions,
    fail,
    finish_scan,
    load_scan_config,
    output_options,
    progress,
)


@click.command("repo", cls=ExitCommand)
@click.argument("path", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--base",
    metavar="REF",
    help="Pre-merge mode: also scan the merge base of REF and HEAD and fail only on findings "
    "the change adds or makes worse; configuration, waivers and rule folders are read from "
    "the merge base, and changes that loosen them are LG-GATE-001 findings.",
)
@click.option(
    "--only-changed-files",
    is_flag=True,
    help="With --base: show only findings located in changed files (display only; the exit "
    "code still judges every finding the change adds).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Configuration file (default: ledgergate.yaml at PATH, or at the merge base with "
    "--base). Given here it is trusted and replaces the repository's.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Content cache of parsed files and Helm/Kustomize renders, keyed by content "
    "digests so repeated scans (pre-commit, --base) skip unchanged work. Default: "
    "$LEDGERGATE_CACHE_DIR, else $XDG_CACHE_HOME/ledgergate; keep it outside the repository.",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the content cache.")
@output_options
@audit_options
@image_options()
def scan_repo_cmd(
    path: tuple[Path, ...],
    base: str | None,
    only_changed_files: bool,
    config_path: Path | None,
    cache_dir: Path | None,
    no_cache: bool,
    outputs: OutputOptions,
    audit: AuditOptions,
    image_flags: ImageFlags,
) -> None:
    """Scan the manifests and estate config files of a repository (default: .).

    One folder: that folder is scanned. Files or several paths (a pre-commit hook's
    staged files): the whole Git work tree is scanned as context, and only findings
    located in those paths are shown and decide the exit code.

    Inside a Git work tree the files git tracks plus untracked, not-ignored files are
    read; elsewhere the whole folder. Exit 0 when nothing reaches --fail-on, 1 when
    something does or a rule could not be evaluated, 2 on a usage or config error
    (with --base: also when git cannot compare the two trees), 4 when an input exists
    but could not be read (a coverage gap).
    """
    from scanner.pipeline import repo_source, run_scan
    from scanner.sources.repo import RepoSource
    from scanner.targets import resolve_targets

    if only_changed_files and not base:
        fail("--only-changed-files needs --base")
    targets = resolve_targets(path)
    _use_cache(targets.root, None if no_cache else cache_dir, default=not no_cache)
    root, spinner = targets.root, progress(sys.stderr.isatty())
    changed: set[str] = set()
    if base:
        from scanner.premerge import scan_premerge

        premerge = scan_premerge(
            root,
            base,
            cli_config=config_path,
            cli_waivers=audit.waivers,
            adjust=image_flags.apply,
            analyzers=image_flags.analyzers,
            progress=spinner,
        )
        # waivers and configuration are the merge base's (trusted), not the change's
        audit.register = premerge.trusted.register
        audit.waivers_file = premerge.trusted.waivers_path
        config, changed = premerge.trusted.config, set(premerge.changed)
        scanned, inventory = premerge.result, premerge.inventory
    else:
        config = image_flags.apply(load_scan_config(root, config_path))
        source = repo_source(root, config)
        if isinstance(source, RepoSource):
            source.kept = targets.selected
        outcome = run_scan(
            source,
            config,
            analyzers=image_flags.analyzers(config),
            progress=spinner,
            waivers=audit.load_register(root, config),
        )
        scanned, inventory = outcome.result, outcome.inventory
    audit.keep_inventory(inventory)
    result = targets.narrow(scanned)
    shown = result.only_paths(changed) if only_changed_files else result
    finish_scan(shown, config, outputs, bundle=audit.write_bundle, gate=result)


def _use_cache(root: Path, given: Path | None, *, default: bool) -> None:
    """Turn the content cache on (``given``, else the default folder) or off. Never inside
    the scanned tree, which is untrusted in pre-merge mode: a given folder there is an
    error, the default folder there (a scan of the home folder) means no cache."""
    from scanner import cache

    folder = given or (cache.default_dir() if default else None)
    if folder is not None and folder.resolve().is_relative_to(root.resolve()):
        if given is not None:
            fail(f"--cache-dir {given} is inside the scanned repository; choose one outside it")
        folder = None
    cache.configure(folder)
