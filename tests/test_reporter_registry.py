"""The reporter registry is the one list of formats: the CLI offers exactly its names,
and every entry names a real reporter class."""

from __future__ import annotations

import click

from scanner.cli import cli
from scanner.reporters import FORMATS, get_reporter
from scanner.reporters.base import Reporter


def _format_choices(command: click.Command) -> set[str]:
    for param in command.params:
        if param.name == "fmt" and isinstance(param.type, click.Choice):
            return set(param.type.choices)
    return set()


def _scan_commands() -> dict[str, click.Command]:
    scan = cli.commands["scan"]
    assert isinstance(scan, click.Group)
    return dict(scan.commands)


def test_every_scan_command_offers_exactly_the_registry() -> None:
    commands = _scan_commands()
    with_format = {n: _format_choices(c) for n, c in commands.items() if _format_choices(c)}
    assert {"repo", "cluster", "image"} <= set(with_format)
    for name, choices in with_format.items():
        assert choices == set(FORMATS), name


def test_every_entry_builds_its_reporter() -> None:
    for name, entry in FORMATS.items():
        reporter = get_reporter(name)
        assert isinstance(reporter, Reporter)
        assert reporter.name == name
        assert entry.extension.startswith(".") and entry.description


def test_unknown_format_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown format"):
        get_reporter("xml")
