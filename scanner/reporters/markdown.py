"""A short Markdown summary for pull-request comments and job step summaries.

It leads with what the change did: the gate decision and its reason, the new (or worse)
failures by severity with ``file:line`` links from the repository root, and the fixed
ones; the full counts, frameworks, findings and waivers follow collapsed in
``<details>``. Every data field is escaped (see ``templating.markdown_cell``); link
targets are percent-encoded, so a hostile file name cannot close the link.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from scanner.findings import ScanResult
from scanner.model import Severity
from scanner.reporters.base import Reporter, repository_root
from scanner.reporters.html import catalogue_of
from scanner.reporters.json import result_to_dict
from scanner.reporters.templating import environment, location
from scanner.reporters.view import ReportView, build_view

TEMPLATE = "summary.md.j2"
#: GitHub caps a comment at 65,536 characters; list at most this many findings.
MAX_FINDINGS = 50
SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: -s.rank))
#: ``https://host/owner/repo(.git)`` or ``git@host:owner/repo(.git)``: the only remotes
#: turned into links (anything else gets links relative to the repository root).
_REMOTE = re.compile(
    r"^(?:https://|git@)(?P<host>[A-Za-z0-9.-]+)[/:](?P<repo>[A-Za-z0-9._-]+/[A-Za-z0-9._-]+?)"
    r"(?:\.git)?/?$"
)
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class Links:
    """Where ``file:line`` links point: the blob of the scanned commit, or relative."""

    prefix: str = ""
    base: str = ""

    def href(self, finding: Mapping[str, Any]) -> str:
        """The percent-encoded link target of a finding; '' when it has no file or the
        blob URL is unknown (a relative link does not resolve in a PR comment)."""
        loc = finding.get("location") or {}
        path = str(loc.get("path") or "")
        if not path or not self.base:
            return ""
        full = f"{self.prefix}/{path}" if self.prefix else path
        line = loc.get("line") or loc.get("startLine")
        anchor = f"#L{int(line)}" if isinstance(line, int) and line > 0 else ""
        return f"{self.base}{quote(full, safe='/')}{anchor}"

    def text(self, finding: Mapping[str, Any]) -> str:
        """``file:line`` from the repository root."""
        where = location(finding)
        in_file = bool((finding.get("location") or {}).get("path"))
        return f"{self.prefix}/{where}" if self.prefix and in_file else where


def links_for(result: ScanResult) -> Links:
    """Links for a repo scan: to the commit's blobs when the remote is a plain web host."""
    root = repository_root(result)
    if root is None:
        return Links()
    remote = _REMOTE.match(str(result.target.get("remote", "")))
    commit = str(result.target.get("commit", ""))
    base = ""
    if remote and _COMMIT.match(commit):
        base = f"https://{remote['host']}/{remote['repo']}/blob/{commit}/"
    return Links(root[1], base)


@dataclass(frozen=True)
class PrSummary:
    """What the change did, for the head of the comment."""

    gate_failed: bool
    reason: str
    pre_merge: bool
    new_by_severity: Sequence[tuple[str, Sequence[Mapping[str, Any]]]] = ()
    fixed: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def pr_summary(view: ReportView) -> PrSummary:
    """The gate decision (threshold from the scan's recorded ``failOn``) and its reason."""
    doc = view.doc
    scope = doc.get("scope") or {}
    threshold = Severity(str(scope.get("failOn") or "high"))
    comparison = doc.get("comparison")
    problems = [f for f in view.problems if f.get("status") in ("fail", "error")]
    if comparison:
        gating = {*comparison.get("new", ()), *comparison.get("worse", {})}
        problems = [f for f in problems if f.get("fingerprint") in gating]
    errors = [f for f in problems if f.get("status") == "error"]
    blocking = [
        f
        for f in problems
        if f.get("status") == "fail" and Severity(str(f["severity"])).rank >= threshold.rank
    ]
    gaps = [c for c in doc.get("coverage", ()) if c.get("category") == "gap"]
    words = "new " if comparison else ""
    reasons = []
    if gaps:
        reasons.append(f"scan incomplete: {_count(len(gaps), 'coverage gap')}")
    if blocking:
        failures = _count(len(blocking), f"{words}failure")
        reasons.append(f"{failures} at or above {threshold.value}")
    if errors:
        reasons.append(f"{_count(len(errors), f'{words}result')} that could not be checked")
    failed = bool(reasons)
    if not failed:
        reasons.append(f"no {words}failure at or above {threshold.value}")
    by = [(s, [f for f in problems if f.get("severity") == s]) for s in SEVERITIES]
    return PrSummary(
        gate_failed=failed,
        reason="; ".join(reasons),
        pre_merge=bool(comparison),
        new_by_severity=[(s, fs) for s, fs in by if fs],
        fixed=tuple(comparison.get("fixed", ())) if comparison else (),
    )


def render_markdown(view: ReportView, limit: int = MAX_FINDINGS, links: Links | None = None) -> str:
    """The Markdown summary for a view."""
    return (
        environment(False)
        .get_template(TEMPLATE)
        .render(view=view, limit=limit, pr=pr_summary(view), links=links or Links())
    )


class MarkdownReporter(Reporter):
    """Markdown from a scan result."""

    name = "md"

    def render(self, result: ScanResult) -> str:
        """The summary of one scan."""
        view = build_view(result_to_dict(result), catalogue_of(result))
        return render_markdown(view, links=links_for(result))
