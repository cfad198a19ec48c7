"""Reporter registry: output format name -> reporter class."""

from __future__ import annotations

from scanner.reporters.base import OUTPUT_SCHEMA_VERSION, Reporter, finding_to_dict


def reporter_names() -> tuple[str, ...]:
    """Formats ``--format`` accepts."""
    return ("table", "json", "sarif", "html", "md")


def get_reporter(name: str, *, color: bool = False) -> Reporter:
    """The reporter for a format name (imported lazily to keep start-up fast)."""
    if name == "table":
        from scanner.reporters.table import TableReporter

        return TableReporter(color=color)
    if name == "json":
        from scanner.reporters.json import JsonReporter

        return JsonReporter()
    if name == "sarif":
        from scanner.reporters.sarif import SarifReporter

        return SarifReporter()
    if name == "html":
        from scanner.reporters.html import HtmlReporter

        return HtmlReporter()
    if name == "md":
        from scanner.reporters.markdown import MarkdownReporter

        return MarkdownReporter()
    raise ValueError(f"unknown format {name!r}")


__all__ = ["OUTPUT_SCHEMA_VERSION", "Reporter", "finding_to_dict", "get_reporter", "reporter_names"]
