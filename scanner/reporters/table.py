"""The terminal table: problems grouped by severity then rule, then a one-line summary;
:func:`next_steps` adds the gate's reason and what to do next."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from scanner.findings import ScanResult
from scanner.model import Finding, Severity, Status
from scanner.reporters.base import Reporter, finding_where

if TYPE_CHECKING:
    from rich.console import Console

STATUS_STYLE = {
    "fail": "bold red",
    "error": "bold magenta",
    "waived": "yellow",
    "pass": "green",
    "not-evaluated": "dim",
}
SEVERITY_STYLE = {
    "critical": "bold red",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


class TableReporter(Reporter):
    """A rich table on a terminal; one grep-friendly line per finding elsewhere."""

    name = "table"

    def __init__(self, color: bool = False, width: int = 140) -> None:
        super().__init__()
        self.color = color
        self.width = width

    def render(self, result: ScanResult) -> str:
        """Fail, error and waived findings with location; passes are only counted."""
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            force_terminal=self.color,
            no_color=not self.color,
            width=self.width,
            highlight=False,
            # names and messages come from the scanned tree: ``[/oops]`` or ``:smile:`` in
            # them is data, never console markup (markup would crash or restyle the report)
            markup=False,
            emoji=False,
        )
        problems = grouped(result.problems())
        if problems and not self.color:
            for f in problems:
                resource = f.resource.display() if f.resource else "-"
                plain_line(
                    console,
                    buffer,
                    f"{self._status(result, f):<6} {f.severity.value:<8} {f.rule_id:<18} "
                    f"{finding_where(f)}  [{resource}]  {self._message(f)}",
                )
        elif problems:
            table = Table(show_lines=False, header_style="bold", expand=False)
            for column in ("Status", "Severity", "Rule", "Location", "Resource", "Message"):
                table.add_column(column, overflow="fold")
            for i, f in enumerate(problems):
                if i and _group(f) != _group(problems[i - 1]):
                    table.add_section()  # a rule between severities (and before waivers)
                table.add_row(
                    Text(f.status.value, style=STATUS_STYLE[f.status.value]),
                    Text(f.severity.value, style=SEVERITY_STYLE[f.severity.value]),
                    Text(f.rule_id),
                    Text(finding_where(f)),
                    Text(f.resource.display() if f.resource else ""),
                    Text(self._message(f)),
                )
            console.print(table)
        for entry in result.coverage:
            console.print(
                f"COVERAGE {entry.category.value} {entry.source} {entry.target}: {entry.reason}",
                soft_wrap=True,
            )
        comparison = result.comparison
        if comparison is not None:
            for f in comparison.fixed:
                console.print(
                    f"FIXED  {f.severity.value:<8} {f.rule_id:<18} {finding_where(f)}  {f.message}",
                    soft_wrap=True,
                )
            console.print(comparison.headline(), soft_wrap=True)
        counts = result.counts()
        console.print(
            f"{result.resources_scanned} resources, {len(result.rules)} rules: "
            f"{counts.get('fail', 0)} failed, {counts.get('error', 0)} errors, "
            f"{counts.get('waived', 0)} waived, {counts.get('pass', 0)} passed"
            + (
                f", {unevaluated} rules not evaluated"
                if (unevaluated := counts["not-evaluated"])
                else ""
            )
            + (f", {len(result.gaps())} coverage gaps: SCAN INCOMPLETE" if result.gaps() else "")
        )
        return buffer.getvalue()

    @staticmethod
    def _status(result: ScanResult, f: Finding) -> str:
        """``FAIL``, or in pre-merge mode ``FAIL/NEW``, ``FAIL/WORSE``."""
        change = result.comparison.change_of(f.fingerprint) if result.comparison else ""
        shown = f.status.value.upper()
        return f"{shown}/{change.upper()}" if change in ("new", "worse") else shown

    @staticmethod
    def _message(f: Finding) -> str:
        if f.status is Status.WAIVED:
            return f"{f.message} (waived: {dict(f.waiver or {}).get('ticket', '')})"
        return f.message


def plain_line(console: Console, buffer: io.StringIO, line: str) -> None:
    """``console.print(line, soft_wrap=True)`` on a console without colour or markup,
    without rich's per-call cost (7 s for a nightly estate's problems): such a print only
    strips control codes and expands tabs; a line with a tab still goes through rich."""
    from rich.control import strip_control_codes

    if "\t" in line:
        console.print(line, soft_wrap=True)
    else:
        buffer.write(strip_control_codes(line) + "\n")


def _group(f: Finding) -> tuple[bool, int]:
    """Waived findings after the rest; within each, the most severe first."""
    return f.status is Status.WAIVED, -f.severity.rank


def grouped(problems: list[Finding]) -> list[Finding]:
    """By severity, then rule, then place: the reader meets the worst rule's findings
    together rather than scattered over the file order."""
    return sorted(problems, key=lambda f: (*_group(f), f.rule_id, f.sort_key()))


def next_steps(result: ScanResult, code: int, fail_on: Severity | None) -> str:
    """The line after the summary: why the scan exits with ``code`` and what to do next.

    ``fail_on`` None is ``--fail-on none`` (findings never fail the run).
    """
    pre_merge = " new or worse" if result.comparison is not None else ""
    if code == 4:
        reason = (
            f"Scan incomplete (exit 4): {len(result.gaps())} input(s) could not be read "
            "(the COVERAGE lines above) or a required input was not enabled."
        )
    elif fail_on is None:
        reason = "Gate off (--fail-on none, exit 0)."
    elif code == 1:
        found = result.gating_findings(fail_on)
        errors = sum(1 for f in found if f.status is Status.ERROR)
        parts = [f"{len(found) - errors}{pre_merge} failure(s) at or above {fail_on.value}"]
        if errors:
            parts.append(f"{errors} rule(s) that could not be evaluated")
        reason = f"Gate failed (exit 1): {' and '.join(parts)}."
    else:
        reason = f"Gate passed (exit 0): nothing{pre_merge} at or above {fail_on.value}."
    problems = grouped([f for f in result.problems() if f.status is not Status.WAIVED])
    if not problems:
        return reason
    first = problems[0].rule_id
    return (
        f"{reason} Next: `ledgergate rules show {first}` explains a rule and its fix; "
        "`--format json` or `--format html -o report.html` gives every detail; an accepted "
        "finding is waived in waivers.yaml (`ledgergate baseline create` records all current "
        "ones)."
    )
