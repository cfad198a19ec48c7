"""Helpers every command module shares: exit codes, errors, progress, outputs.

Command modules (``cli.py``, ``cli_cluster.py``, ...) import these rather than each
other, so registering a command never creates an import cycle.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.findings import ScanResult

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
SEVERITIES = ("critical", "high", "medium", "low", "info")
FORMATS = ("table", "json", "sarif", "html", "md")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"ledgergate: {message}", err=True)
    sys.exit(code)


def progress(enabled: bool) -> Any:
    def say(message: str) -> None:
        if enabled:
            click.echo(f"… {message}", err=True)

    return say


def load_scan_config(root: Path, config_path: Path | None) -> Config:
    from scanner.config import find_config, load_config

    return load_config(find_config(root, config_path))


def write_outputs(
    result: ScanResult, fmt: str, output: Path | None, sarif: Path | None, json_out: Path | None
) -> None:
    from scanner.reporters import get_reporter

    color = output is None and fmt == "table" and sys.stdout.isatty()
    text = get_reporter(fmt, color=color).render(result)
    for path, name in ((sarif, "sarif"), (json_out, "json")):
        if path is not None:
            write_file(path, get_reporter(name).render(result))
    if output is None or str(output) == "-":
        click.echo(text, nl=False)
    else:
        write_file(output, text)


def write_file(path: Path, text: str) -> None:
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
