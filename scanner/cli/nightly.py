"""Options a scheduled audit needs: a run id, dated output paths, and metrics.

``--evidence /evidence/{date}/{run_id}.zip`` gives every run its own bundle (a same-day
re-run never overwrites the first: an existing bundle path is refused), and
``--metrics``/``--metrics-push`` report the run to Prometheus. Used by ``scan cluster``.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scanner import clock
from scanner.cli.util import OutputOptions, fail, options_into, write_file

if TYPE_CHECKING:
    from scanner.findings import ScanResult

#: A run id becomes part of file names: letters, digits, dot, dash and underscore only.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class RunOptions:
    """``--run-id``, ``--metrics`` and ``--metrics-push``, and the run's start time."""

    #: Empty (or None from click) until :func:`nightly_options` fills in the default.
    run_id: str = ""
    metrics: Path | None = None
    metrics_push: str | None = None
    started: float = field(default_factory=time.monotonic)

    def expand(self, path: Path | None) -> Path | None:
        """``{date}`` (UTC, YYYY-MM-DD) and ``{run_id}`` filled in."""
        if path is None:
            return None
        day = clock.now().strftime("%Y-%m-%d")
        return Path(str(path).replace("{date}", day).replace("{run_id}", self.run_id))

    def outputs(self, outputs: OutputOptions) -> OutputOptions:
        """The output paths with placeholders filled in."""
        return replace(
            outputs,
            output=self.expand(outputs.output),
            sarif=self.expand(outputs.sarif),
            json_out=self.expand(outputs.json_out),
        )

    def evidence(self, path: Path | str | None) -> Path | str | None:
        """The bundle path for this run; an existing one is refused (never overwritten).
        An ``s3://`` location gets its placeholders filled; Object Lock keeps it."""
        if isinstance(path, str):
            day = clock.now().strftime("%Y-%m-%d")
            return path.replace("{date}", day).replace("{run_id}", self.run_id)
        found = self.expand(path)
        if found is not None and found.exists():
            fail(f"refusing to overwrite the evidence bundle {found}: use {{run_id}} in --evidence")
        return found

    def reporter(self, bundle: Path | str | None) -> Callable[[ScanResult, int], None]:
        """The ``finish_scan`` hook that writes or pushes the metrics."""

        def report(result: ScanResult, exit_code: int) -> None:
            if self.metrics is None and not self.metrics_push:
                return
            from scanner.reporters.metrics import RunFacts, push, render

            digest = bundle_digest(bundle) if isinstance(bundle, Path) else ""
            run = RunFacts(
                run_id=self.run_id,
                finished=clock.now(),
                duration_s=time.monotonic() - self.started,
                exit_code=exit_code,
                bundle_digest=digest,
                bundle_path=str(bundle) if digest else "",
            )
            if self.metrics is not None:
                write_atomically(self.expand(self.metrics) or self.metrics, render(result, run))
            if self.metrics_push:
                try:
                    push(result, run, self.metrics_push)
                except OSError as exc:  # the dead-man's switch alerts on a missing push
                    click.echo(f"ledgergate: warning: metrics push failed: {exc}", err=True)

        return report


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename: a collector never reads half a metrics file."""
    partial = path.with_name(f".{path.name}.partial")
    write_file(partial, text)
    try:
        os.replace(partial, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


def new_run_id() -> str:
    """``20261201T023000Z-9f3a1c2e``: sortable, unique across same-second re-runs."""
    return f"{clock.now().strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def bundle_digest(path: Path) -> str:
    """``sha256:`` of the bundle's manifest.json (which hashes every other file), or ''."""
    try:
        if path.is_dir():
            data = (path / "manifest.json").read_bytes()
        else:
            with zipfile.ZipFile(path) as archive:
                data = archive.read("manifest.json")
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _checked_run(run: RunOptions) -> RunOptions:
    """A run id of the default form when none was given; a given one must be file-safe."""
    chosen = run.run_id or new_run_id()
    if not RUN_ID.match(chosen):
        fail(f"--run-id {chosen!r}: use letters, digits, '.', '-' and '_' only")
    return replace(run, run_id=chosen)


#: Add ``--run-id``, ``--metrics`` and ``--metrics-push``; the command receives ``run``.
nightly_options = options_into(
    RunOptions,
    "run",
    click.option(
        "--run-id",
        envvar="LEDGERGATE_RUN_ID",
        metavar="ID",
        help="Identity of this run, used for {run_id} in output paths [env LEDGERGATE_RUN_ID; "
        "default: UTC time plus 8 random hex digits]. Paths may also use {date}.",
    ),
    click.option(
        "--metrics",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write Prometheus text-format metrics here (findings by rule and severity, "
        "coverage gaps, duration, last success, bundle digest).",
    ),
    click.option(
        "--metrics-push",
        metavar="URL",
        help="Push the same metrics to this Prometheus Pushgateway (job "
        "ledgergate-nightly-audit, grouped by cluster context); a failed push only warns.",
    ),
    then=_checked_run,
)
