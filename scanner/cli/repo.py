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
@output_options
@audit_options
@image_options()
def scan_repo_cmd(
    path: tuple[Path, ...],
    base: str | None,
    only_changed_files: bool,
    config_path: Path | None,
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
    from scanner.targets import resolve_targets

    if only_changed_files and not base:
        fail("--only-changed-files needs --base")
    targets = resolve_targets(path)
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
        outcome = run_scan(
            repo_source(root, config),
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
