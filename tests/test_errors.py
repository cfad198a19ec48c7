"""One error hierarchy, one exit point: every error the scanner raises on purpose is a
ScannerError, and the root command group maps its class to the exit code."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import Result

import scanner
from scanner import errors
from scanner.cli.util import ERROR_EXITS, EXIT_CODES, error_exit

from .conftest import ROOT


def _modules() -> Iterator[str]:
    for info in pkgutil.walk_packages(scanner.__path__, "scanner."):
        if info.name != "scanner.__main__":  # importing it runs the CLI
            yield info.name


def _error_classes() -> list[type[BaseException]]:
    """Public exception classes defined in the package (private ones are control flow)."""
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseException)
                and obj.__module__ == name
                and not obj.__name__.startswith("_")
            ):
                found.append(obj)
    return found


def test_every_public_error_is_a_scanner_error() -> None:
    classes = _error_classes()
    named = {c.__name__ for c in classes}
    # the classes the issue names: a listing that lost them would make this test vacuous
    assert {"CelCompileError", "CelEvalError", "YamlLoadError", "CronError"} <= named
    assert {"KubeRequestError", "ConfigParseError", "SignatureError"} <= named
    outside = sorted(c.__qualname__ for c in classes if not issubclass(c, errors.ScannerError))
    assert outside == []


def test_every_error_class_maps_to_a_documented_exit_code() -> None:
    for cls in _error_classes():
        assert issubclass(cls, errors.ScannerError)
        code = next(ERROR_EXITS[c] for c in cls.__mro__ if c in ERROR_EXITS)
        assert code in EXIT_CODES, cls


def test_every_class_in_errors_py_is_raised_or_refined_somewhere() -> None:
    """A class nobody raises or subclasses (the old SourceError/AnalyzerError) is dead."""
    used: set[str] = set()
    for path in (ROOT / "scanner").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "scanner":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(call, ast.Name):
                    used.add(call.id)
            elif isinstance(node, ast.ClassDef):
                used.update(b.id for b in node.bases if isinstance(b, ast.Name))
    declared = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, Exception) and obj.__module__ == errors.__name__
    }
    assert declared - used == set()


def _raising(exc: BaseException) -> Callable[[], None]:
    def command() -> None:
        raise exc

    return command


def _run(exc: BaseException) -> Result:
    from click.testing import CliRunner

    from scanner.cli import cli

    cli.add_command(click.command("raise-for-test")(_raising(exc)))
    try:
        return CliRunner().invoke(cli, ["raise-for-test"], catch_exceptions=False)
    finally:
        cli.commands.pop("raise-for-test")


def _cases() -> list[tuple[BaseException, int]]:
    from scanner.analyzers.cron import CronError
    from scanner.celrt import CelCompileError, CelEvalError
    from scanner.sources.configfiles import ConfigParseError
    from scanner.sources.kubeclient import KubeRequestError
    from scanner.yamlutil import YamlLoadError

    return [
        (errors.ConfigError("bad key"), 2),
        (YamlLoadError(3, "mapping values are not allowed here"), 2),
        (ConfigParseError(4, "INI error"), 2),
        (errors.SignatureError("no valid signature by key abc"), 2),
        (KubeRequestError(0, "timeout", "no answer"), 4),
        (CronError("minute field: 61 is outside 0-59"), 4),
        (CelCompileError("Syntax error"), 3),
        (CelEvalError("no such key"), 3),
    ]


@pytest.mark.parametrize(("exc", "code"), _cases(), ids=lambda v: type(v).__name__)
def test_a_command_that_raises_exits_with_the_class_code(exc: BaseException, code: int) -> None:
    result = _run(exc)
    assert result.exit_code == code
    assert isinstance(exc, errors.ScannerError)
    assert error_exit(exc) == code
    assert f"ledgergate: {exc.diagnostics()}" in result.stderr


def test_console_script_maps_a_bad_config_to_exit_2(tmp_path: Path) -> None:
    """Through ``main()`` (the console script), not only the in-process runner."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "ledgergate.yaml"
    bad.write_text("failOn: [unclosed\n")
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "rules", "list", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ledgergate: ")
    assert "Traceback" not in done.stderr


def test_every_command_maps_errors_itself() -> None:
    """Commands are also invoked on their own (tests, embedding): each one maps errors,
    not only the root group."""
    from scanner.cli import cli
    from scanner.cli.util import ExitCommand, ExitGroup

    def walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
        yield path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")

    found = dict(walk(cli, "ledgergate"))
    assert len(found) > 10
    plain = [p for p, c in found.items() if not isinstance(c, ExitCommand | ExitGroup)]
    assert plain == []


def test_a_subcommand_invoked_alone_maps_the_error_too(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scanner.cli.rbac import rbac

    (tmp_path / "ledgergate.yaml").write_text("params:\n  duties: {broken: {}}\n")
    result = CliRunner().invoke(rbac, ["subject", "User/x", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("ledgergate: ")
