"""SARIF 2.1.0 for GitHub code scanning, built on the sarif-om object model.

Failures are ``kind: fail`` results; findings that could not be evaluated are
``kind: open`` results at level ``error`` (and input problems are also tool
execution notifications); waived findings carry an external suppression.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import attr
import sarif_om as om

from scanner.findings import ScanResult
from scanner.model import Finding, Severity, Status
from scanner.reporters.base import Reporter, comparison_to_dict
from scanner.rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://ledgergate.dev"

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}


def artifact_uri(path: str) -> str:
    """A relative URI reference for a repository path (RFC 3986: spaces, ``#``, ``?``,
    ``%`` and non-ASCII characters percent-encoded, ``/`` kept)."""
    return quote(path, safe="/")


def to_json(obj: Any) -> Any:
    """sarif-om objects to plain JSON, using each field's schema property name."""
    if attr.has(type(obj)):
        out: dict[str, Any] = {}
        for field in attr.fields(type(obj)):
            value = getattr(obj, field.name)
            if value is None or (
                field.default is not attr.NOTHING
                and value == field.default
                and field.name not in {"kind", "level"}
            ):
                continue
            out[field.metadata.get("schema_property_name", field.name)] = to_json(value)
        return out
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


def _descriptor(rule: Rule) -> om.ReportingDescriptor:
    controls = ", ".join(f"{c.framework} {c.id}" for c in rule.controls)
    help_text = f"{rule.remediation}\n\nControls: {controls}"
    help_md = f"**Remediation.** {rule.remediation}\n\n**Controls.** {controls}"
    if rule.rationale:
        help_md = f"{rule.rationale}\n\n{help_md}"
    return om.ReportingDescriptor(
        id=rule.id,
        name=rule.id.replace("-", ""),
        short_description=om.MultiformatMessageString(text=rule.title),
        full_description=om.MultiformatMessageString(text=rule.rationale or rule.title),
        help=om.MultiformatMessageString(text=help_text, markdown=help_md),
        help_uri=rule.help_url or None,
        default_configuration=om.ReportingConfiguration(level=LEVEL[rule.severity]),
        properties={
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "tags": ["security", "compliance", rule.family],
            "precision": "high",
            "family": rule.family,
            "controls": [f"{c.framework}:{c.id}" for c in rule.controls],
        },
    )


def _input_descriptor(rule_id: str) -> om.ReportingDescriptor:
    text = "Input could not be evaluated"
    return om.ReportingDescriptor(
        id=rule_id,
        name=rule_id.replace("/", "").replace("-", ""),
        short_description=om.MultiformatMessageString(text=text),
        full_description=om.MultiformatMessageString(
            text="An input file could not be parsed or read, so no rule judged it."
        ),
        help=om.MultiformatMessageString(
            text="Fix the file so it parses, or exclude its path in ledgergate.yaml.",
            markdown="Fix the file so it parses, or exclude its path in `ledgergate.yaml`.",
        ),
        default_configuration=om.ReportingConfiguration(level="error"),
        properties={
            "security-severity": SECURITY_SEVERITY[Severity.HIGH],
            "tags": ["security", "input"],
            "precision": "high",
        },
    )


def _waiver_descriptor(rule_id: str) -> om.ReportingDescriptor:
    """The pseudo-rule of an expired waiver (see scanner/waivers.py)."""
    return om.ReportingDescriptor(
        id=rule_id,
        name=rule_id.replace("/", "").replace("-", ""),
        short_description=om.MultiformatMessageString(text="Waiver expired"),
        full_description=om.MultiformatMessageString(
            text="A waiver in the register is past its expiry date and no longer applies."
        ),
        help=om.MultiformatMessageString(
            text="Renew the waiver with a new approval and expiry, or fix the findings it covered.",
            markdown="Renew the waiver with a new approval and `expires` date, "
            "or fix the findings it covered.",
        ),
        default_configuration=om.ReportingConfiguration(level=LEVEL[Severity.MEDIUM]),
        properties={
            "security-severity": SECURITY_SEVERITY[Severity.MEDIUM],
            "tags": ["compliance", "waiver"],
            "precision": "high",
        },
    )


def _location(f: Finding) -> om.Location:
    if f.origin.path:
        region = None
        pinpoint = next((e.line for e in f.evidence if e.line), 0)
        if pinpoint:
            region = om.Region(start_line=pinpoint)
        elif f.origin.start_line:
            region = om.Region(
                start_line=f.origin.start_line, end_line=max(f.origin.end_line, f.origin.start_line)
            )
        physical = om.PhysicalLocation(
            artifact_location=om.ArtifactLocation(
                uri=artifact_uri(f.origin.path), uri_base_id=SRCROOT
            ),
            region=region,
        )
        return om.Location(physical_location=physical, logical_locations=_logical(f))
    return om.Location(logical_locations=_logical(f))


def _logical(f: Finding) -> list[om.LogicalLocation] | None:
    if f.resource is None:
        return None
    ref = f.resource
    qualified = "/".join(p for p in (ref.api_version, ref.kind, ref.namespace, ref.name) if p)
    return [om.LogicalLocation(name=ref.name, fully_qualified_name=qualified, kind="resource")]


def _result(f: Finding, index: int) -> om.Result:
    text = f.message
    if f.evidence:
        text += " Evidence: " + "; ".join(
            f"{e.path}={e.value}" if e.value else e.path for e in f.evidence
        )
    result = om.Result(
        rule_id=f.rule_id,
        rule_index=index,
        message=om.Message(text=text),
        level="error" if f.status is Status.ERROR else LEVEL[f.severity],
        kind="open" if f.status is Status.ERROR else "fail",
        locations=[_location(f)],
        partial_fingerprints={"ledgergate/v1": f.fingerprint},
        properties={"status": f.status.value, "severity": f.severity.value},
    )
    if f.status is Status.WAIVED and f.waiver:
        result.suppressions = [
            om.Suppression(
                kind="external",
                justification=f.waiver.get("justification", ""),
                properties={k: v for k, v in f.waiver.items() if k != "justification"},
            )
        ]
    return result


def build_log(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    descriptors = [_descriptor(r) for r in result.rules]
    reported = [f for f in result.findings if f.status is not Status.PASS]
    known = {r.id for r in result.rules}
    descriptors.extend(
        _waiver_descriptor(i) if i.startswith("waiver/") else _input_descriptor(i)
        for i in sorted({f.rule_id for f in reported} - known)
    )
    index = {d.id: i for i, d in enumerate(descriptors)}
    notifications = [
        om.Notification(
            message=om.Message(text=f"{f.rule_id}: {f.message}"),
            level="error",
            locations=[_location(f)],
            descriptor=om.ReportingDescriptorReference(id=f.rule_id),
        )
        for f in reported
        if f.rule_id.startswith("input/")
    ]
    notifications.extend(
        om.Notification(
            message=om.Message(text=f"coverage gap {c.target}: {c.reason}"), level="error"
        )
        for c in result.gaps()
    )
    invocation = om.Invocation(
        execution_successful=not result.incomplete(),
        tool_execution_notifications=notifications or None,
        start_time_utc=result.started or None,
        end_time_utc=result.finished or None,
    )
    run = om.Run(
        tool=om.Tool(
            driver=om.ToolComponent(
                name="ledgergate",
                version=result.tool_version,
                semantic_version=result.tool_version,
                information_uri=INFORMATION_URI,
                rules=descriptors,
            )
        ),
        results=[_result(f, index[f.rule_id]) for f in reported],
        invocations=[invocation],
        column_kind="unicodeCodePoints",
    )
    log = om.SarifLog(version="2.1.0", runs=[run], schema_uri=SARIF_SCHEMA)
    data: dict[str, Any] = to_json(log)
    properties: dict[str, Any] = {"target": dict(result.target)} if result.target else {}
    comparison = comparison_to_dict(result)
    if comparison is not None:
        properties["comparison"] = {k: v for k, v in comparison.items() if k != "fixed"}
    if result.scope:
        properties["scope"] = dict(result.scope)
    if properties:
        data["runs"][0]["properties"] = properties
    for res in data["runs"][0].get("results", []):
        for suppression in res.get("suppressions", []):
            suppression["status"] = "accepted"  # SARIF 2.1.0 name; sarif-om 1.0.4 lacks it
    return data


class SarifReporter(Reporter):
    """SARIF 2.1.0 accepted by GitHub code scanning."""

    name = "sarif"

    def render(self, result: ScanResult) -> str:
        """Deterministic SARIF JSON."""
        return json.dumps(build_log(result), indent=2, sort_keys=True) + "\n"
