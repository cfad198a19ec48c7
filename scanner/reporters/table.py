"""The terminal table: problems first, then a one-line summary."""

from __future__ import annotations

import io

from scanner.findings import ScanResult
from scanner.model import Finding, Status
from scanner.reporters.base import Reporter, finding_where

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
        problems = result.problems()
        if problems and not self.color:
            for f in problems:
                resource = f.resource.display() if f.resource else "-"
                console.print(
                    f"{self._status(result, f):<6} {f.severity.value:<8} {f.rule_id:<18} "
                    f"{finding_where(f)}  [{resource}]  {self._message(f)}",
                    soft_wrap=True,
                )
        elif problems:
            table = Table(show_lines=False, header_style="bold", expand=False)
            for column in ("Status", "Severity", "Rule", "Location", "Resource", "Message"):
                table.add_column(column, overflow="fold")
            for f in problems:
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
