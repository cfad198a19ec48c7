"""GitLab's merge-request reports: the SAST security report and the Code Quality report.

Both list the ``fail`` and ``error`` findings with paths relative to the repository root
(GitLab resolves them against the project), and identify each by the finding's stable
fingerprint so GitLab tracks it across pipelines. Waived findings are left out: an
approved exception is not a new vulnerability in a merge request.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from scanner.findings import ScanResult
from scanner.model import Finding, Severity, Status
from scanner.reporters.base import Reporter, finding_line, repo_path, repository_root

#: The security-report-schemas release the SAST report follows.
SAST_SCHEMA_VERSION = "15.1.4"
SAST_SCHEMA_URL = (
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
    f"v{SAST_SCHEMA_VERSION}/dist/sast-report-format.json"
)
#: A fixed namespace: a finding's UUID is derived from its fingerprint alone.
_NAMESPACE = uuid.UUID("6f1c2c62-8f0a-5d3e-9a57-4c1f4d1b7e21")
INFORMATION_URI = "https://ledgergate.dev"
SAST_SEVERITY = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFO: "Info",
}
#: Code Quality's scale: info, minor, major, critical, blocker.
QUALITY_SEVERITY = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}


def _reported(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.status in (Status.FAIL, Status.ERROR)]


def _prefix(result: ScanResult) -> str:
    root = repository_root(result)
    return root[1] if root else ""


def _where(f: Finding, prefix: str) -> str:
    """A file path, or for a cluster/image finding the object it is about."""
    if f.origin.path:
        return repo_path(f, prefix)
    ref = f.resource
    name = f"{ref.kind}/{ref.namespace + '/' if ref.namespace else ''}{ref.name}" if ref else ""
    return name or f.origin.display() or f.rule_id


def _stamp(text: str) -> str:
    """GitLab's ``YYYY-MM-DDTHH:MM:SS`` (no zone, no fraction)."""
    return text[:19] if len(text) >= 19 else "1970-01-01T00:00:00"


def _component(result: ScanResult) -> dict[str, Any]:
    return {
        "id": "ledgergate",
        "name": "Ledgergate",
        "url": INFORMATION_URI,
        "vendor": {"name": "Ledgergate"},
        "version": result.tool_version or "0",
    }


def _vulnerability(f: Finding, prefix: str) -> dict[str, Any]:
    location: dict[str, Any] = {"file": _where(f, prefix)}
    if f.origin.path and finding_line(f):
        location["start_line"] = finding_line(f)
        location["end_line"] = max(f.origin.end_line, finding_line(f))
    evidence = "; ".join(f"{e.path}={e.value}" if e.value else e.path for e in f.evidence)
    description = f.message + (f"\n\nEvidence: {evidence}" if evidence else "")
    if f.status is Status.ERROR:
        description = f"Could not be checked (counts as not passed): {description}"
    identifiers = [{"type": "ledgergate_rule", "name": f.rule_id, "value": f.rule_id}]
    identifiers += [
        {"type": "compliance_control", "name": f"{c.framework} {c.id}", "value": c.id}
        for c in f.controls
    ]
    return {
        "id": str(uuid.uuid5(_NAMESPACE, f.fingerprint or f"{f.rule_id}:{_where(f, prefix)}")),
        "category": "sast",
        "name": f.title[:255],
        "description": description,
        "severity": SAST_SEVERITY[f.severity],
        "location": location,
        "identifiers": identifiers,
    }


def sast_report(result: ScanResult) -> dict[str, Any]:
    """The ``gl-sast-report.json`` document."""
    prefix = _prefix(result)
    return {
        "schema": SAST_SCHEMA_URL,
        "version": SAST_SCHEMA_VERSION,
        "scan": {
            "analyzer": _component(result),
            "scanner": _component(result),
            "type": "sast",
            "start_time": _stamp(result.started),
            "end_time": _stamp(result.finished or result.started),
            "status": "failure" if result.incomplete() else "success",
        },
        "vulnerabilities": [_vulnerability(f, prefix) for f in _reported(result)],
    }


def code_quality_report(result: ScanResult) -> list[dict[str, Any]]:
    """The ``gl-code-quality-report.json`` document (GitLab's Code Climate subset)."""
    prefix = _prefix(result)
    out = []
    for f in _reported(result):
        prefix_text = "could not be checked: " if f.status is Status.ERROR else ""
        out.append(
            {
                "description": f"{f.rule_id}: {prefix_text}{f.message}",
                "check_name": f.rule_id,
                "fingerprint": f.fingerprint or f"{f.rule_id}:{_where(f, prefix)}",
                "severity": QUALITY_SEVERITY[f.severity],
                "location": {
                    "path": _where(f, prefix),
                    "lines": {"begin": max(finding_line(f), 1)},
                },
            }
        )
    return out


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


class SastReporter(Reporter):
    """GitLab SAST security report (``artifacts:reports:sast``)."""

    name = "gitlab-sast"

    def render(self, result: ScanResult) -> str:
        """Deterministic JSON."""
        return _dump(sast_report(result))


class CodeQualityReporter(Reporter):
    """GitLab Code Quality report (``artifacts:reports:codequality``)."""

    name = "gitlab-codequality"

    def render(self, result: ScanResult) -> str:
        """Deterministic JSON."""
        return _dump(code_quality_report(result))
