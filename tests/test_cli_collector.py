"""A scan command keeps the cyclic collector off from its start until its objects are
frozen, so no collection walks everything the scan made; the outputs are written with the
collector on (their own cycles are freed) and the caller gets it back as it was."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scanner import pipeline
from scanner.cli import util

from .conftest import FIXTURE_REPOS


def test_the_collector_is_off_while_scanning_on_while_writing_and_restored(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, bool] = {}
    real_scan, real_write = pipeline.run_scan, util.write_outputs

    def scan(*args: Any, **kwargs: Any) -> Any:
        seen["scanning"] = gc.isenabled()
        return real_scan(*args, **kwargs)

    def write(*args: Any, **kwargs: Any) -> Any:
        seen["writing"] = gc.isenabled()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_scan", scan)
    monkeypatch.setattr(util, "write_outputs", write)
    assert gc.isenabled()
    out = tmp_path / "report.json"
    result = run_cli(
        "scan",
        "repo",
        str(FIXTURE_REPOS / "odoo-finance-compliant"),
        "--format",
        "json",
        "-o",
        str(out),
    )
    assert result.exit_code in (0, 1), result.output
    assert out.is_file()
    assert seen == {"scanning": False, "writing": True}
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    gc.disable()
    try:
        run_cli("scan", "repo", str(FIXTURE_REPOS / "odoo-finance-compliant"), "--quiet")
        # finish_scan turns it on for the writers; the command's end restores the caller's
        assert not gc.isenabled()
    finally:
        gc.enable()
