"""``ledgergate init``: write a starting, fully commented ``ledgergate.yaml``."""

from __future__ import annotations

from pathlib import Path

import click

from scanner.cli.util import ExitCommand, fail, write_file


@click.command("init", cls=ExitCommand)
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Replace an existing ledgergate.yaml.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the file instead of writing it.")
def init_cmd(path: Path, force: bool, to_stdout: bool) -> None:
    """Write a starting ledgergate.yaml for the repository at PATH (default: .).

    It lists the namespaces the repository's objects land in, each classified as
    production or not with the reason (the classification every scan uses), the
    registries its images come from, and whether the image rules need --images. Every
    line is commented so that the reviewer approves it knowingly. An existing file is
    never replaced without --force.
    """
    from scanner.adopt import render_config, survey
    from scanner.config import load_config
    from scanner.errors import ScannerError

    target = path / "ledgergate.yaml"
    if not to_stdout and target.exists() and not force:
        fail(f"{target} exists; review it, or replace it with --force")
    try:
        text = render_config(survey(path, load_config(None)))
    except ScannerError as exc:
        fail(exc.diagnostics())
    if to_stdout:
        click.echo(text, nl=False)
        return
    write_file(target, text)
    click.echo(f"wrote {target}: review it, then commit it with the repository")
