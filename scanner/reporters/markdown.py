"""A short Markdown summary for pull-request comments."""

from __future__ import annotations

from scanner.findings import ScanResult
from scanner.reporters.base import Reporter
from scanner.reporters.html import catalogue_of
from scanner.reporters.json import result_to_dict
from scanner.reporters.templating import environment
from scanner.reporters.view import ReportView, build_view

TEMPLATE = "summary.md.j2"
#: GitHub caps a comment at 65,536 characters; list at most this many findings.
MAX_FINDINGS = 50


def render_markdown(view: ReportView, limit: int = MAX_FINDINGS) -> str:
    """The Markdown summary for a view."""
    return environment(False).get_template(TEMPLATE).render(view=view, limit=limit)


class MarkdownReporter(Reporter):
    """Markdown from a scan result."""

    name = "md"

    def render(self, result: ScanResult) -> str:
        """The summary of one scan."""
        return render_markdown(build_view(result_to_dict(result), catalogue_of(result)))
