"""The auditor's offline HTML report: one self-contained file, autoescaped, print-friendly."""

from __future__ import annotations

from typing import Any

from scanner.findings import ScanResult
from scanner.reporters.base import Reporter
from scanner.reporters.json import result_to_dict
from scanner.reporters.templating import environment, location
from scanner.reporters.view import NOT_EVALUATED, ReportView, build_view

TEMPLATE = "report.html.j2"
#: Findings the report lists in full (most severe first); a nightly estate has tens of
#: thousands, which made a 64 MB page Chromium took two minutes to render. The rest are
#: in the findings JSON and the bundle's population file.
FINDING_LIMIT = 1000
_RANK = {"error": 5, "critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _most_severe(problems: tuple[Any, ...], limit: int) -> list[Any]:
    """The ``limit`` most severe problems (errors first), in their original order."""
    if len(problems) <= limit:
        return list(problems)

    def rank(i: int) -> int:
        f = problems[i]
        return _RANK["error"] if f.get("status") == "error" else _RANK.get(f.get("severity"), 0)

    kept = sorted(sorted(range(len(problems)), key=rank, reverse=True)[:limit])
    return [problems[i] for i in kept]


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
            finding_limit=FINDING_LIMIT,
            shown_problems=_most_severe(view.problems, FINDING_LIMIT),
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
