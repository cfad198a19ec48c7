"""``options_into``: a group of click options arrives as one dataclass value."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import click
import pytest
from click.testing import CliRunner

from scanner.cli.util import options_into

from .conftest import ROOT


@dataclass(frozen=True)
class _Pair:
    left: str = ""
    right: int = 0


def test_the_options_arrive_as_one_value_and_other_parameters_pass_through() -> None:
    seen = []

    @click.command()
    @click.argument("name")
    @options_into(_Pair, "pair", click.option("--left"), click.option("--right", type=int))
    def command(name: str, pair: _Pair) -> None:
        seen.append((name, pair))

    result = CliRunner().invoke(command, ["n", "--left", "a", "--right", "3"])
    assert result.exit_code == 0, result.output
    assert seen == [("n", _Pair("a", 3))]


def test_then_checks_and_completes_the_value() -> None:
    def then(pair: _Pair) -> _Pair:
        if pair.right < 0:
            raise click.UsageError("--right must not be negative")
        return _Pair(pair.left or "default", pair.right)

    seen = []

    @click.command()
    @options_into(
        _Pair, "pair", click.option("--left"), click.option("--right", type=int), then=then
    )
    def command(pair: _Pair) -> None:
        seen.append(pair)

    assert CliRunner().invoke(command, ["--right", "1"]).exit_code == 0
    assert seen == [_Pair("default", 1)]
    assert CliRunner().invoke(command, ["--right", "-1"]).exit_code == 2


def test_an_option_without_a_field_is_refused_when_the_command_is_defined() -> None:
    with pytest.raises(TypeError, match=r"_Pair has no field for option\(s\) \['middle'\]"):
        options_into(_Pair, "pair", click.option("--middle"))(lambda pair: None)


def test_no_command_module_pops_its_options_by_hand() -> None:
    """The four hand-popping decorators became ``options_into`` registrations."""
    popped = []
    for path in sorted(
        p for p in (ROOT / "scanner" / "cli").glob("*.py") if p.stem not in ("__init__", "util")
    ):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "pop"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("kwargs", "kw")
            ):
                popped.append(f"{path.name}:{node.lineno}")
    assert popped == []


def test_scan_image_always_scans_images_and_scan_repo_only_with_the_flag() -> None:
    from scanner.cli.image import ImageFlags, image_options

    seen: list[ImageFlags] = []

    for enable in (True, False):

        @click.command()
        @image_options(with_enable_flag=enable)
        def command(image_flags: ImageFlags) -> None:
            seen.append(image_flags)

        assert CliRunner().invoke(command, ["--insecure-registry", "r:5000"]).exit_code == 0
    assert [f.enabled for f in seen] == [False, True]
    assert seen[0].insecure == ("r:5000",)
