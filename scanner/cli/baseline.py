"""``ledgergate baseline create``: record today's failures as an approved, bounded baseline."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import click

from scanner.cli.util import ExitGroup, fail, load_scan_config, progress, write_file


@click.group("baseline", cls=ExitGroup)
def baseline() -> None:
    """Adopt the gate on a repository that already fails, without hiding the debt."""


@baseline.command("create")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--owner", required=True, help="Who owns the accepted risk.")
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    required=True,
    help="Who approved it (repeat; two besides the owner when a failure is critical).",
)
@click.option("--expires", required=True, metavar="YYYY-MM-DD", help="Last day it applies.")
@click.option("--ticket", required=True, help="Risk or change ticket recording the approval.")
@click.option("--config", "config_path", type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    help="Register to write [default: PATH/waivers.yaml; never replaced].",
)
def baseline_create(
    path: Path,
    owner: str,
    approvers: tuple[str, ...],
    expires: str,
    ticket: str,
    config_path: Path | None,
    output: Path | None,
) -> None:
    """Scan PATH and write its failures as waivers in the register's format.

    One entry per resource, naming its rules, with the owner, approvers, ticket, today
    as the approval date and --expires: the register's limits apply (owner and approver
    differ, waivers.maxDays, two approvers for critical). The waived findings show in
    every report; the gate then fails only on new findings, and on the baseline's expiry.
    """
    from scanner.baseline import Approval, baseline_entries, render_register
    from scanner.clock import today as today_utc
    from scanner.errors import ScannerError
    from scanner.pipeline import scan_repo
    from scanner.waivers import load_waivers

    target = output or path / "waivers.yaml"
    if target.exists():
        fail(f"{target} exists: merge the baseline into it by hand, or write it with --output")
    try:
        until = dt.date.fromisoformat(expires)
    except ValueError:
        fail(f"--expires {expires!r} is not a YYYY-MM-DD date")
    try:
        config = load_scan_config(path, config_path)
        approval = Approval(owner, approvers, ticket, today_utc(), until)
        result = scan_repo(path, config, progress=progress(sys.stderr.isatty()))
        text = render_register(baseline_entries(result.findings, approval), approval)
        with tempfile.TemporaryDirectory() as tmp:  # the register's own checks, before writing
            check = Path(tmp) / "waivers.yaml"
            check.write_text(text, encoding="utf-8")
            register = load_waivers(check, target.name, config=config)
    except ScannerError as exc:
        fail(exc.diagnostics())
    write_file(target, text)
    click.echo(f"wrote {target}: {len(register.waivers)} waiver(s) until {until}")
