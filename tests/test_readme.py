"""Every command the README shows exists, and every option it uses is one the command takes."""

from __future__ import annotations

import shlex

import click
import pytest

from scanner.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def _shell_lines(text: str) -> list[str]:
    """Lines of the README's shell code blocks (fenced ``bash``/``sh``/untagged)."""
    found: list[str] = []
    language: str | None = None
    for raw in text.splitlines():
        if raw.startswith("```"):
            language = None if language is not None else (raw[3:].strip() or "sh")
        elif language in ("bash", "sh", "console"):
            found.append(raw)
    return found


LINES = sorted(
    {
        line.split(" #", 1)[0].strip().rstrip("\\").strip()
        for line in _shell_lines(README)
        if line.strip().startswith("ledgergate ")
    }
)


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = words[1:]
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def test_the_readme_shows_commands() -> None:
    assert len(LINES) >= 10


@pytest.mark.parametrize("line", LINES)
def test_readme_command_exists_with_its_options(line: str) -> None:
    words = shlex.split(line.replace("...", ""))
    command, rest = _resolve(words)
    group_options_only = bool(rest) and all(w.startswith("-") for w in rest)  # --version
    assert not isinstance(command, click.Group) or group_options_only, (
        f"{line!r}: no such subcommand"
    )
    known = {opt for p in command.params for opt in getattr(p, "opts", [])}
    known |= {opt for p in command.params for opt in getattr(p, "secondary_opts", [])}
    used = {w.split("=", 1)[0] for w in rest if w.startswith("-") and w != "-"}
    assert used <= known | {"--help", "-h"}, f"{line!r}: unknown options {used - known}"


def test_exit_code_table_matches_the_code() -> None:
    """The README's exit-code table is exactly ``EXIT_CODES`` (codes and meanings)."""
    from scanner.cli.util import EXIT_CODES

    section = README.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].isdigit():
            rows[int(cells[0])] = cells[1]
    assert rows == EXIT_CODES
