"""``ledgergate scan changes``: change-control evidence from a repository's history.

Attached under the ``scan`` group in cli/__init__.py; outputs, bundle and exit codes are those of
every scan command, plus the change log (``--changelog``, and in the bundle).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scanner.cli.evidence import AuditOptions, audit_options
from scanner.cli.util import (
    ExitCommand,
    OutputOptions,
    fail,
    finish_scan,
    load_scan_config,
    output_options,
    progress,
    write_file,
)


def trust_options(func: click.decorators.FC) -> click.decorators.FC:
    """``--keyring``, ``--allowed-signers`` and ``--approvals`` (shared with ``scan cluster``)."""
    for option in reversed(
        [
            click.option(
                "--keyring",
                "keyrings",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="OpenPGP public keys whose commit signatures are trusted (armored or "
                "binary; repeatable).",
            ),
            click.option(
                "--allowed-signers",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="SSH allowed-signers file (git's gpg.ssh.allowedSignersFile format).",
            ),
            click.option(
                "--approvals",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Pull/merge request reviews exported from the code host's API (JSON; "
                "GitHub pulls + reviews or GitLab merge requests + approvals).",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command("changes", cls=ExitCommand)
@click.argument("repo", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option(
    "--range",
    "range_text",
    metavar="START..END",
    help="Commits on END's first-parent history not reachable from START "
    "(e.g. origin/main~200..origin/main).",
)
@click.option("--since", metavar="DATE", help="Audit period start (git date, e.g. 2026-10-01).")
@click.option("--until", metavar="DATE", help="Audit period end (git date).")
@click.option(
    "--branch",
    default="HEAD",
    show_default=True,
    metavar="REF",
    help="The protected branch whose history --since/--until select from.",
)
@trust_options
@click.option(
    "--changelog",
    type=click.Path(path_type=Path),
    help="Also write the change log here (.csv for CSV, anything else JSON).",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="ledgergate.yaml.")
@output_options
@audit_options
def changes(
    repo: Path,
    range_text: str | None,
    since: str | None,
    until: str | None,
    branch: str,
    keyrings: tuple[Path, ...],
    allowed_signers: Path | None,
    approvals: Path | None,
    changelog: Path | None,
    config_path: Path | None,
    outputs: OutputOptions,
    audit: AuditOptions,
) -> None:
    """Judge every change on a protected branch's first-parent history (change control).

    Each commit in --range (or the --since/--until period) that reaches production must be
    signed by a trusted key, name a ticket, be approved by params.minApprovers people other
    than its authors (code owners of the changed paths where CODEOWNERS exists) and must
    not have been pushed directly; gate configuration changes always need approval.

    \b
    Examples:
      ledgergate scan changes . --range origin/main~200..origin/main \\
          --keyring release-keys.asc --allowed-signers allowed_signers \\
          --approvals reviews.json --changelog changes.csv --evidence q4.zip
      ledgergate scan changes . --since 2026-10-01 --until 2026-12-31 --branch origin/main

    The repository's ledgergate.yaml applies only as committed at the end of the range
    (an uncommitted edit is exit 2); --config overrides it.

    A history that cannot be read completely (a shallow clone that stops inside the range,
    a range that does not resolve) or an approvals file that does not parse is exit 2.
    """
    from scanner.changes import TrustSet, from_period, from_range, load_approvals, open_repository
    from scanner.changescan import check_config_committed, scan_changes
    from scanner.reporters.changelog import changelog_csv, changelog_json

    if bool(range_text) == bool(since or until):
        fail("give either --range START..END or --since/--until")
    config = load_scan_config(repo, config_path)
    git = open_repository(repo.resolve())
    population = (
        from_range(git, range_text) if range_text else from_period(git, branch, since, until)
    )
    if config_path is None:
        check_config_committed(git, population, config.path)
    reviews = load_approvals(approvals) if approvals else []
    scan = scan_changes(
        git,
        population,
        config,
        trust=TrustSet(keyrings, allowed_signers),
        approvals=reviews,
        progress=progress(sys.stderr.isatty()),
        waivers=audit.load_register(None),
    )
    audit.keep_inventory(scan.inventory)
    as_json = changelog_json(scan.rows, scan.result.target)
    as_csv = changelog_csv(scan.rows)
    audit.extra_files.update({"changelog.json": as_json.encode(), "changelog.csv": as_csv.encode()})
    if changelog is not None:
        write_file(changelog, as_csv if changelog.suffix == ".csv" else as_json)
    finish_scan(scan.result, config, outputs, bundle=audit.write_bundle)
