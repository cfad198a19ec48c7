"""Helpers every command module shares: exit codes, errors, progress, outputs.

Command modules (``cli/__init__.py``, ``cli/cluster.py``, ...) import these rather than each
other, so registering a command never creates an import cycle.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from scanner.errors import (
    AnalyzerError,
    ExpressionError,
    ScannerError,
    SourceUnavailable,
    WorkerError,
)
from scanner.model import Severity
from scanner.reporters import FORMATS

if TYPE_CHECKING:
    from scanner.config import Config
    from scanner.findings import ScanResult

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
#: What each exit code of a scan command means; the README's table is checked against it.
EXIT_CODES = {
    EXIT_OK: "nothing at or above the `--fail-on` threshold (default `high`), and the scan is "
    "complete",
    EXIT_FINDINGS: "a `fail` at or above the threshold, or any `error` result (a control "
    "that could not be checked has not passed); never with `--fail-on none`",
    EXIT_USAGE: "usage or configuration error (bad flag, invalid `ledgergate.yaml` or waiver "
    "register, rule pack that does not load, a repo-local config that names a program or a "
    "file outside the repository, unwritable output; with `--base`, any git failure)",
    EXIT_INTERNAL: "internal error (a bug; please report it)",
    EXIT_INCOMPLETE: "scan incomplete: a coverage *gap* (a kind answered 403, timed out or "
    "kept failing; discovery failed; an analyzer failed; an input `requireInputs` lists was "
    "not enabled). Wins over 1; the outputs are "
    "written first",
}
#: The exit code of an error that reaches the CLI: the entry of the nearest class in its
#: MRO. Everything the scanner raises on purpose is a usage or configuration problem
#: unless it says that an input could not be read (4) or that an expression the engine
#: should have judged escaped it (a bug, 3).
ERROR_EXITS: dict[type[ScannerError], int] = {
    ScannerError: EXIT_USAGE,
    SourceUnavailable: EXIT_INCOMPLETE,
    AnalyzerError: EXIT_INCOMPLETE,
    WorkerError: EXIT_INCOMPLETE,
    ExpressionError: EXIT_INTERNAL,
}
#: ``--fail-on`` choices, most severe first: the :class:`~scanner.model.Severity` values.
SEVERITIES = tuple(s.value for s in Severity)
#: ``--fail-on none``: findings never change the exit code (a CronJob that only fails on 3/4).
FAIL_ON_NONE = "none"


def error_exit(exc: ScannerError) -> int:
    """The exit code :data:`ERROR_EXITS` gives the class of ``exc``."""
    return next(ERROR_EXITS[c] for c in type(exc).__mro__ if c in ERROR_EXITS)


def _invoke_mapped(invoke: Callable[[click.Context], Any], ctx: click.Context) -> Any:
    try:
        return invoke(ctx)
    except ScannerError as exc:
        from scanner.terminal import TERMINAL

        TERMINAL.stop_progress()
        click.echo(f"ledgergate: {exc.diagnostics()}", err=True)
        ctx.exit(error_exit(exc))


class ExitCommand(click.Command):
    """A command whose :class:`ScannerError` becomes a message on stderr and the exit code
    of its class: the one place that happens (commands do not catch them)."""

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke_mapped(super().invoke, ctx)


class ExitGroup(click.Group):
    """A command group whose commands and subgroups are :class:`ExitCommand`/``ExitGroup``."""

    command_class = ExitCommand
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        return _invoke_mapped(super().invoke, ctx)


def options_into(
    cls: type[T],
    name: str,
    *options: Callable[[Any], Any],
    then: Callable[[T], T] | None = None,
) -> Callable[[F], F]:
    """Add click ``options`` to a command and hand it their values as one ``cls`` under the
    keyword ``name``, instead of one keyword each.

    Each option's parameter name must be a field of the dataclass ``cls`` (a mismatch is a
    ``TypeError`` when the command is defined, not when it runs). ``then`` checks or
    completes the value (a cross-flag rule, a default computed at run time).
    """
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    def decorate(func: F) -> F:
        taken: list[str] = []

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = cls(**{key: kwargs.pop(key) for key in taken})
            return func(*args, **{name: then(value) if then else value}, **kwargs)

        before = list(getattr(wrapper, "__click_params__", ()))
        wrapped: Any = wrapper
        for option in reversed(options):
            wrapped = option(wrapped)
        added = [p for p in wrapped.__click_params__ if all(p is not q for q in before)]
        taken.extend(str(p.name) for p in added)
        unknown = sorted(set(taken) - fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field for option(s) {unknown}")
        return wrapped  # type: ignore[no-any-return]

    return decorate


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    from scanner.terminal import TERMINAL

    TERMINAL.stop_progress()
    click.echo(f"ledgergate: {message}", err=True)
    sys.exit(code)


def progress(enabled: bool) -> Any:
    """The scan's progress callback: a spinner on stderr once a scan passes one second
    (``enabled``: stderr is a TTY), erased before the report; silent with ``--quiet``."""
    import atexit

    from scanner.terminal import TERMINAL, Spinner

    spinner = Spinner(enabled)
    TERMINAL.spinners.append(spinner)
    atexit.register(spinner.stop)
    return spinner


def load_scan_config(root: Path, config_path: Path | None) -> Config:
    """``--config`` (trusted, the CI's own), else the scanned root's file (confined to it)."""
    from scanner.config import find_config, load_config

    confine = None if config_path is not None else (root if root.is_dir() else root.parent)
    return load_config(find_config(root, config_path), confine=confine)


def write_outputs(
    result: ScanResult, fmt: str, output: Path | None, sarif: Path | None, json_out: Path | None
) -> None:
    from scanner.reporters import get_reporter
    from scanner.terminal import TERMINAL

    TERMINAL.stop_progress()
    notes: list[str] = []
    # Files first: a reporter that fails on odd data must not cost the SARIF and JSON.
    for path, name in ((sarif, "sarif"), (json_out, "json")):
        if path is not None:
            reporter = get_reporter(name)
            write_file(path, reporter.render(result))
            notes.extend(reporter.notes)
    from scanner.terminal import quiet_text

    color = output is None and fmt == "table" and TERMINAL.color(sys.stdout.isatty())
    reporter = get_reporter(fmt, color=color)
    text = reporter.render(result)
    notes.extend(reporter.notes)
    for note in dict.fromkeys(notes):  # once each, when --sarif and --format sarif agree
        click.echo(f"ledgergate: {note}", err=True)
    if output is None or str(output) == "-":
        click.echo(quiet_text(text) if TERMINAL.quiet and fmt == "table" else text, nl=False)
    else:
        write_file(output, text)


def write_file(path: Path, text: str) -> None:
    """Write an output file (``-`` is stdout) atomically; refuse a symlink that leads out.

    An unwritable or refused path is a usage error.
    """
    from scanner.outputs import OutputError, write_atomic

    if str(path) == "-":
        click.echo(text, nl=False)
        return
    try:
        write_atomic(path, text.encode("utf-8"))
    except OutputError as exc:
        fail(exc.diagnostics())
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")


EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class _Terminated(BaseException):
    """SIGTERM, raised in the main process so outputs in progress are cleaned up."""


class _Interrupted(BaseException):
    """SIGINT, raised instead of KeyboardInterrupt: a KeyboardInterrupt that passes through
    an ``exec`` of source text (dataclass and namedtuple creation during a lazy import) sets
    CPython's "unhandled KeyboardInterrupt" flag even when caught, and the process then dies
    by SIGINT (-2) instead of exiting 130; an exception of our own never sets it."""


_EXITS: dict[type[BaseException], tuple[str, int]] = {
    _Interrupted: ("interrupted", EXIT_SIGINT),
    _Terminated: ("terminated", EXIT_SIGTERM),
}


#: How long after a swallowed stop it is raised again (the callback has returned by then).
_RAISE_AGAIN_AFTER_S = 0.001


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Exit 130 on SIGINT and 143 on SIGTERM (the shell's convention), after the
    temporary files of any output in progress are removed.

    A handler's exception raised inside a weakref callback or a ``__del__`` (an import
    lock's callback, say) is swallowed by CPython, which only prints "Exception ignored
    in ..."; the scan would then run on and write its reports. Such a swallowed stop is
    caught by ``sys.unraisablehook`` and raised again by a SIGALRM a moment later, outside
    the callback (a signal sent from the hook itself would be handled inside the hook,
    and swallowed again)."""
    main = os.getpid()
    earlier_hook = sys.unraisablehook
    swallowed: list[type[BaseException]] = []

    def on_unraisable(unraisable: Any) -> None:
        stop = type(unraisable.exc_value)
        if stop not in _EXITS or os.getpid() != main:
            earlier_hook(unraisable)
            return
        swallowed.append(stop)
        signal.setitimer(signal.ITIMER_REAL, _RAISE_AGAIN_AFTER_S)

    def on_alarm(_signum: int, _frame: object) -> None:
        if swallowed:
            raise swallowed.pop()

    def handler(raised: type[BaseException]) -> Callable[[int, object], None]:
        def on_signal(signum: int, frame: object) -> None:
            if os.getpid() != main:  # a forked worker: die as the default handler would
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
                return
            raise raised

        return on_signal

    try:
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, handler(_Interrupted)),
            signal.SIGTERM: signal.signal(signal.SIGTERM, handler(_Terminated)),
            signal.SIGALRM: signal.signal(signal.SIGALRM, on_alarm),
        }
    except ValueError:  # not the main thread (embedded use): keep the default handling
        yield
        return
    sys.unraisablehook = on_unraisable
    try:
        yield
        if swallowed:  # the block ended before the alarm came: stopped all the same
            raise swallowed.pop()
    except (_Interrupted, _Terminated, KeyboardInterrupt) as stop:
        what, code = _EXITS.get(type(stop), _EXITS[_Interrupted])
        click.echo(f"ledgergate: {what}; no report written", err=True)
        sys.exit(code)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook = earlier_hook
        for signum, before in previous.items():
            signal.signal(signum, before)


@dataclass(frozen=True)
class OutputOptions:
    """What ``--format``, ``--output``, ``--sarif``, ``--json`` and ``--fail-on`` asked for."""

    fmt: str = "table"
    output: Path | None = None
    sarif: Path | None = None
    json_out: Path | None = None
    fail_on: str | None = None


def use_fingerprint_key(key_file: Path | None, scanned: object = None) -> None:
    """Key secret fingerprints with the organisation key from ``--fingerprint-key FILE``.

    The key never comes from the scanned tree: a key the PR author can read lets them
    run the dictionary attack the HMAC exists to prevent.
    """
    from scanner.redaction import set_fingerprint_key

    set_fingerprint_key(None)
    if key_file is None:
        return
    if isinstance(scanned, tuple):  # ``scan repo PATH...``: the tree scanned as context
        from scanner.errors import ScannerError
        from scanner.targets import resolve_targets

        try:
            scanned = resolve_targets(scanned).root
        except ScannerError:
            scanned = None  # the command reports the bad path itself
    if isinstance(scanned, Path) and key_file.resolve().is_relative_to(scanned.resolve()):
        fail(f"--fingerprint-key {key_file}: the key must not live inside the scanned tree")
    try:
        key = key_file.read_bytes().strip()
    except OSError as exc:
        fail(f"--fingerprint-key {key_file}: {exc.strerror}")
    if len(key) < 16:
        fail(f"--fingerprint-key {key_file}: a key needs at least 16 bytes")
    set_fingerprint_key(key)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic collector off from the start of a scan command until ``finish_scan``
    freezes the scan's objects: re-enabled any earlier, its first pass walks every object
    the scan made (0.2 s of a 3.4 s pre-commit hook run)."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:  # as the caller had it (``finish_scan`` turns it on for the writers)
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def output_options(func: F) -> F:
    """Add the output options to a scan command; it receives them as ``outputs``."""

    @functools.wraps(func)
    def guarded(*args: Any, outputs: OutputOptions, **kwargs: Any) -> Any:
        use_fingerprint_key(kwargs.pop("fingerprint_key"), kwargs.get("path"))
        from scanner.outputs import OutputError, remove_stale

        # signals are handled from before the stale reports go: once they are gone (what a
        # caller can watch for), an interrupt always ends in 130/143 and no report
        with interruptible(), _collector_paused():
            try:  # an earlier run's report must not survive a run that fails or is stopped
                remove_stale((outputs.output, outputs.sarif, outputs.json_out))
            except (OutputError, OSError) as exc:
                fail(exc.diagnostics() if isinstance(exc, OutputError) else str(exc))
            return func(*args, outputs=outputs, **kwargs)

    fingerprint = click.option(
        "--fingerprint-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="File holding the organisation key for secret fingerprints (HMAC-SHA256) "
        "[default: $LEDGERGATE_FINGERPRINT_KEY]. Keep it outside the scanned tree. "
        "Without a key a redacted value shows only its detector type and length.",
    )
    into = options_into(
        OutputOptions,
        "outputs",
        click.option(
            "--format",
            "fmt",
            type=click.Choice(tuple(FORMATS)),
            default="table",
            show_default=True,
            help="Format written to stdout (or --output): "
            + "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())
            + ".",
        ),
        click.option(
            "--output", "-o", type=click.Path(path_type=Path), help="Write --format here."
        ),
        click.option(
            "--sarif", type=click.Path(path_type=Path), help="Also write SARIF 2.1.0 here."
        ),
        click.option(
            "--json",
            "json_out",
            type=click.Path(path_type=Path),
            help="Also write the JSON report here.",
        ),
        click.option(
            "--fail-on",
            type=click.Choice((*SEVERITIES, FAIL_ON_NONE)),
            help="Lowest severity that makes the exit code 1 [default: high, or failOn in the "
            "config]. Any `error` result (a control that could not be checked) always does. "
            "`none`: findings go to the outputs only, exit 0 (a nightly job that should fail "
            "only when the scan is incomplete, 4, or broken, 3).",
        ),
    )
    wrapped: Any = fingerprint(guarded)
    return into(wrapped)  # type: ignore[no-any-return]


def finish_scan(
    result: ScanResult,
    config: Config,
    outputs: OutputOptions,
    bundle: Callable[[ScanResult, Config], None] | None = None,
    gate: ScanResult | None = None,
    after: Callable[[ScanResult, int], None] | None = None,
) -> NoReturn:
    """The tail every scan command shares: outputs, the evidence bundle, the exit code.

    ``gate`` is the result that decides the exit code when the outputs show less of it
    (``--only-changed-files``); by default ``result`` does. ``after`` sees the result
    and the exit code before the exit (metrics).
    """
    import gc

    # The scan's objects live until the exit: leave them out of every later cyclic
    # collection (the SARIF writer's allocations triggered full passes over all of them,
    # 19 s of a 60 s corpus scan). Reference counting still frees what the writers drop.
    gc.freeze()
    gc.enable()  # the writers' own cycles are collected; the frozen scan is not walked
    write_outputs(result, outputs.fmt, outputs.output, outputs.sarif, outputs.json_out)
    if bundle is not None:
        bundle(result, config)
    code = exit_code(gate if gate is not None else result, config, outputs.fail_on)
    _say_missing_inputs(result, config)
    _say_next_steps(gate if gate is not None else result, config, outputs, code)
    if after is not None:
        after(result, code)
    sys.exit(code)


def _say_next_steps(result: ScanResult, config: Config, outputs: OutputOptions, code: int) -> None:
    """After the terminal table (not --quiet, not into a file): the exit reason, what next."""
    from scanner.reporters.table import next_steps
    from scanner.terminal import TERMINAL

    to_file = outputs.output is not None and str(outputs.output) != "-"
    if outputs.fmt != "table" or to_file or TERMINAL.quiet:
        return
    fail_on = outputs.fail_on or config.fail_on.value
    threshold = None if fail_on == FAIL_ON_NONE else Severity(fail_on)
    click.echo(next_steps(result, code, threshold))


def _say_missing_inputs(result: ScanResult, config: Config) -> None:
    from scanner.inputs import missing_required

    for name in missing_required(result.findings, config.require_inputs):
        click.echo(
            f"ledgergate: requireInputs lists {name}, but this run did not read it "
            f"(enable --{name}): the scan is incomplete",
            err=True,
        )


def exit_code(result: ScanResult, config: Config, fail_on: str | None) -> int:
    """4 when the scan is incomplete, 1 when the gate fails (``--fail-on`` or the config's
    ``failOn``; never with ``none``), else 0."""
    from scanner.inputs import missing_required

    if result.incomplete() or missing_required(result.findings, config.require_inputs):
        return EXIT_INCOMPLETE
    if fail_on == FAIL_ON_NONE:
        return EXIT_OK
    threshold = Severity(fail_on) if fail_on else config.fail_on
    return EXIT_FINDINGS if result.gate_failed(threshold) else EXIT_OK


def exit_by_gate(result: ScanResult, config: Config, fail_on: str | None) -> NoReturn:
    """Exit with :func:`exit_code`."""
    sys.exit(exit_code(result, config, fail_on))
