"""The registry of report formats: name -> writer, file extension, description.

Adding a format is one module with a :class:`~scanner.reporters.base.Reporter` subclass
and one entry in :data:`FORMATS`; the CLI's ``--format`` choices are read from here. The
writer is named by ``module:Class`` and imported only when used, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.reporters.base import Reporter


@dataclass(frozen=True)
class Format:
    """One output format ``--format`` accepts."""

    name: str
    #: ``module:Class`` of the :class:`Reporter` that writes it.
    writer: str
    #: File extension a file of this format usually carries.
    extension: str
    description: str
    #: The writer takes ``color=`` (the terminal table).
    color: bool = False


_ENTRIES = (
    Format(
        "table",
        "scanner.reporters.table:TableReporter",
        ".txt",
        "Terminal table of problems and a summary line",
        color=True,
    ),
    Format(
        "json",
        "scanner.reporters.json:JsonReporter",
        ".json",
        "Failures and errors in full, passes as per-rule counts",
    ),
    Format(
        "sarif",
        "scanner.reporters.sarif:SarifReporter",
        ".sarif",
        "SARIF 2.1.0 for GitHub code scanning (fail and error results only)",
    ),
    Format(
        "html",
        "scanner.reporters.html:HtmlReporter",
        ".html",
        "Self-contained HTML report for auditors",
    ),
    Format(
        "md",
        "scanner.reporters.markdown:MarkdownReporter",
        ".md",
        "Markdown summary for a pull-request comment or step summary",
    ),
    Format(
        "junit",
        "scanner.reporters.junit:JunitReporter",
        ".xml",
        "JUnit XML: one test case per rule x resource failure",
    ),
    Format(
        "gitlab-sast",
        "scanner.reporters.gitlab:SastReporter",
        ".json",
        "GitLab SAST security report (artifacts:reports:sast)",
    ),
    Format(
        "gitlab-codequality",
        "scanner.reporters.gitlab:CodeQualityReporter",
        ".json",
        "GitLab Code Quality report (artifacts:reports:codequality)",
    ),
)
#: Every format by name, in the order ``--help`` lists them.
FORMATS: dict[str, Format] = {f.name: f for f in _ENTRIES}


def reporter_names() -> tuple[str, ...]:
    """Formats ``--format`` accepts."""
    return tuple(FORMATS)


def get_reporter(name: str, *, color: bool = False) -> Reporter:
    """The reporter for a format name (imported lazily to keep start-up fast)."""
    try:
        entry = FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}") from None
    module, _, cls_name = entry.writer.partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    reporter: Reporter = cls(color=color) if entry.color else cls()
    return reporter


__all__ = ["FORMATS", "Format", "get_reporter", "reporter_names"]
