"""Tests of real external programs skip when one is missing, except in CI
(LEDGERGATE_REQUIRE_TOOLS=1), where a program install.sh installs must be there."""

from __future__ import annotations

import pytest

from . import conftest


def test_a_missing_ci_tool_fails_when_tools_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_TOOLS", True)
    with pytest.raises(pytest.fail.Exception, match="openssl not installed"):
        conftest.missing_tool("openssl")


def test_a_tool_ci_does_not_install_still_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_TOOLS", True)
    with pytest.raises(pytest.skip.Exception, match="kubectl not installed"):
        conftest.missing_tool("kubectl")


def test_without_the_requirement_a_missing_tool_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "REQUIRE_TOOLS", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.missing_tool("openssl", "apt-get install openssl")


def test_ci_sets_the_requirement_and_installs_the_packages() -> None:
    ci = (conftest.ROOT / ".ci" / "run").read_text()
    assert f"\nexport LEDGERGATE_REQUIRE_TOOLS=1\n{readme_test_command()}\n" in ci
    install = (conftest.ROOT / "scripts" / "install.sh").read_text()
    for package in ("chromium", "openssl", "docker-registry", "apache2-utils", "softhsm2"):
        assert package in install


def readme_test_command() -> str:
    """The test command of the README's set-up block (the line that runs pytest)."""
    readme = (conftest.ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set-up") :]
    block = setup[setup.index("```bash\n") + 8 : setup.index("\n```", setup.index("```bash"))]
    (line,) = [ln for ln in block.splitlines() if "pytest" in ln]
    return line.split(" #", 1)[0].strip()


def test_ci_runs_the_readme_test_command_in_parallel() -> None:
    """What a contributor is told to run is what CI runs, and it uses pytest-xdist."""
    command = readme_test_command()
    assert command.startswith("python -m pytest -n ")
    assert f"\n{command}\n" in (conftest.ROOT / ".ci" / "run").read_text()
