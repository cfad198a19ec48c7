"""The auditor's offline HTML report: one self-contained file, autoescaped, print-friendly."""

from __future__ import annotations

from typing import Any

from scanner.findings import ScanResult
from scanner.reporters.base import Reporter
from scanner.reporters.json import result_to_dict
from scanner.reporters.templating import environment, location
from scanner.reporters.view import NOT_EVALUATED, ReportView, build_view

TEMPLATE = "report.html.j2"


def catalogue_of(result: ScanResult) -> list[dict[str, Any]]:
    """The rule catalogue (id and controls) that lets a report list unevaluated controls."""
    return [
        {"id": r.id, "controls": [{"framework": c.framework, "id": c.id} for c in r.controls]}
        for r in result.rules
    ]


def render_html(view: ReportView) -> str:
    """The HTML document for a view."""
    doc = view.doc
    target = sorted((str(k), str(v)) for k, v in (doc.get("target") or {}).items())
    target_name = dict(target).get("remote") or dict(target).get("path") or "scan"
    return (
        environment(True)
        .get_template(TEMPLATE)
        .render(
            view=view,
            doc=doc,
            summary=view.summary,
            target=target,
            target_name=target_name,
            coverage=doc.get("coverage", []),
            skipped=doc.get("skipped", []),
            not_evaluated=[r for r in view.controls if r.status == NOT_EVALUATED],
            errors=[f for f in view.problems if f.get("status") == "error"],
            expired=_expired_waivers(view),
            bundle=view.bundle,
        )
    )


def _expired_waivers(view: ReportView) -> list[dict[str, str]]:
    """Expired waivers, read back from their ``waiver/expired`` findings."""
    out = []
    for f in view.problems:
        if f.get("ruleId") == "waiver/expired":
            ev = {str(e.get("path")): str(e.get("value", "")) for e in f.get("evidence", [])}
            out.append({**ev, "at": location(f)})
    return out


class HtmlReporter(Reporter):
    """HTML from a scan result (the evidence bundle adds its identity and hashes)."""

    name = "html"

    def render(self, result: ScanResult) -> str:
        """The report of one scan."""
        return render_html(build_view(result_to_dict(result), catalogue_of(result)))
