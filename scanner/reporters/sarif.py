"""SARIF 2.1.0 for GitHub code scanning, written as plain dicts.

Only what a reviewer must act on becomes a result: ``fail`` (``kind: fail``, level by
severity), ``error`` (a control that could not be checked: ``kind: open`` with
``level: none`` as SARIF requires for non-fail kinds, and also a tool execution
notification at level ``error``) and ``waived`` (a fail with an accepted external
suppression). Passes are counted per rule in the run's properties.

Artifact URIs are relative to the repository root (the folder holding ``.git`` above the
scanned path), under ``uriBaseId: %SRCROOT%``, so a scan of a subfolder still maps onto
the repository's files. The log stays within GitHub's upload limits (:data:`LIMITS`):
above them the highest-severity results are kept and the number dropped is stated in
the run's properties and in :attr:`SarifReporter.notes`.
"""

from __future__ import annotations

import gzip
from collections import Counter
from typing import Any
from urllib.parse import quote

from scanner import jsontext
from scanner.findings import ScanResult
from scanner.model import Finding, Severity, Status
from scanner.reporters.base import (
    Reporter,
    comparison_to_dict,
    pinpoint,
    repo_path,
    repository_root,
)
from scanner.rules import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://ledgergate.dev"

#: GitHub code scanning's limits on an upload (docs.github.com, "SARIF results exceed
#: limit"; the REST upload endpoint for the file size). Results above 5,000 per run are
#: not stored, so that, not the 25,000 hard limit, is where this writer stops.
LIMITS = {
    "resultsPerRun": 5_000,
    "rulesPerRun": 25_000,
    "locationsPerResult": 100,
    "tagsPerRule": 10,
    "gzipBytes": 10 * 1024 * 1024,
}

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
#: Statuses that become results; passes are only counted.
REPORTED = (Status.FAIL, Status.ERROR, Status.WAIVED)


def artifact_uri(path: str) -> str:
    """A relative URI reference for a repository path (RFC 3986: spaces, ``#``, ``?``,
    ``%`` and non-ASCII characters percent-encoded, ``/`` kept)."""
    return quote(path, safe="/")


def _message(text: str) -> dict[str, str]:
    return {"text": text}


def _descriptor(
    rule_id: str, title: str, full: str, help_text: str, help_md: str, level: str, **props: Any
) -> dict[str, Any]:
    tags = props.pop("tags")[: LIMITS["tagsPerRule"]]
    return {
        "id": rule_id,
        "name": rule_id.replace("/", "").replace("-", ""),
        "shortDescription": _message(title),
        "fullDescription": _message(full),
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": level},
        "properties": {"precision": "high", "tags": tags, **props},
    }


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    controls = ", ".join(f"{c.framework} {c.id}" for c in rule.controls)
    help_md = f"**Remediation.** {rule.remediation}\n\n**Controls.** {controls}"
    if rule.rationale:
        help_md = f"{rule.rationale}\n\n{help_md}"
    out = _descriptor(
        rule.id,
        rule.title,
        rule.rationale or rule.title,
        f"{rule.remediation}\n\nControls: {controls}",
        help_md,
        LEVEL[rule.severity],
        tags=["security", "compliance", rule.family],
        family=rule.family,
        controls=[f"{c.framework}:{c.id}" for c in rule.controls],
        **{"security-severity": SECURITY_SEVERITY[rule.severity]},
    )
    if rule.help_url:
        out["helpUri"] = rule.help_url
    return out


def _pseudo_descriptor(rule_id: str) -> dict[str, Any]:
    """Rules the tool adds itself: unreadable inputs and expired waivers."""
    if rule_id.startswith("waiver/"):
        return _descriptor(
            rule_id,
            "Waiver expired",
            "A waiver in the register is past its expiry date and no longer applies.",
            "Renew the waiver with a new approval and expiry, or fix the findings it covered.",
            "Renew the waiver with a new approval and `expires` date, "
            "or fix the findings it covered.",
            LEVEL[Severity.MEDIUM],
            tags=["compliance", "waiver"],
            **{"security-severity": SECURITY_SEVERITY[Severity.MEDIUM]},
        )
    return _descriptor(
        rule_id,
        "Input could not be evaluated",
        "An input file could not be parsed or read, so no rule judged it.",
        "Fix the file so it parses, or exclude its path in ledgergate.yaml.",
        "Fix the file so it parses, or exclude its path in `ledgergate.yaml`.",
        "error",
        tags=["security", "input"],
        **{"security-severity": SECURITY_SEVERITY[Severity.HIGH]},
    )


def _location(f: Finding, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if f.origin.path:
        path = repo_path(f, prefix)
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": artifact_uri(path), "uriBaseId": SRCROOT}
        }
        found = pinpoint(f)
        if found is not None:
            region: dict[str, Any] = {"startLine": found.line}
            if found.column:
                region["startColumn"] = found.column
            if found.column and found.end_column > found.column:
                region["endColumn"] = found.end_column
            physical["region"] = region
        elif f.origin.start_line:
            end = max(f.origin.end_line, f.origin.start_line)
            physical["region"] = {"startLine": f.origin.start_line, "endLine": end}
        out["physicalLocation"] = physical
    if f.resource is not None:
        ref = f.resource
        qualified = "/".join(p for p in (ref.api_version, ref.kind, ref.namespace, ref.name) if p)
        out["logicalLocations"] = [
            {"name": ref.name, "fullyQualifiedName": qualified, "kind": "resource"}
        ]
    return out


def _result(f: Finding, index: int, prefix: str) -> dict[str, Any]:
    text = f.message
    if f.evidence:
        text += " Evidence: " + "; ".join(
            f"{e.path}={e.value}" if e.value else e.path for e in f.evidence
        )
    error = f.status is Status.ERROR
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "message": _message(text),
        "kind": "open" if error else "fail",
        "level": "none" if error else LEVEL[f.severity],
        "locations": [_location(f, prefix)][: LIMITS["locationsPerResult"]],
        "partialFingerprints": {"ledgergate/v1": f.fingerprint},
        "properties": {"status": f.status.value, "severity": f.severity.value},
    }
    if f.status is Status.WAIVED and f.waiver:
        out["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f.waiver.get("justification", ""),
                "properties": {k: v for k, v in f.waiver.items() if k != "justification"},
            }
        ]
    return out


def _priority(f: Finding) -> tuple[int, int]:
    """Errors first (an unchecked control), then by severity; higher sorts first."""
    return (1 if f.status is Status.ERROR else 0, f.severity.rank)


def keep_within(findings: list[Finding], limit: int) -> list[Finding]:
    """The ``limit`` highest-priority findings, in their original (deterministic) order."""
    if len(findings) <= limit:
        return findings
    ranked = sorted(range(len(findings)), key=lambda i: _priority(findings[i]), reverse=True)
    kept = sorted(ranked[:limit])
    return [findings[i] for i in kept]


def _automation_id(result: ScanResult) -> str:
    """``ledgergate/repo/``, ``ledgergate/cluster/<context>/``, ``ledgergate/image/``:
    the category GitHub keeps separate analyses under (the trailing ``/`` makes the whole
    id the category)."""
    kind = result.target.get("type", "repo")
    where = result.target.get("context") or result.target.get("server") if kind == "cluster" else ""
    safe = quote(where, safe="") if where else ""
    return f"ledgergate/{kind}/{safe + '/' if safe else ''}"


def _run_properties(result: ScanResult, passes: Counter[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {"passes": dict(sorted(passes.items()))}
    if result.target:
        properties["target"] = dict(result.target)
    comparison = comparison_to_dict(result)
    if comparison is not None:
        properties["comparison"] = {k: v for k, v in comparison.items() if k != "fixed"}
    if result.scope:
        properties["scope"] = dict(result.scope)
    skipped = [f for f in result.findings if f.status is Status.NOT_EVALUATED]
    if skipped:  # rules whose input was not enabled: no alert, but not silence either
        properties["notEvaluated"] = [
            {"ruleId": f.rule_id, "message": f.message, **{e.path: e.value for e in f.evidence}}
            for f in skipped
        ]
    return properties


def build_log(result: ScanResult, limit: int = LIMITS["resultsPerRun"]) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict, at most ``limit`` results."""
    reported = [f for f in result.findings if f.status in REPORTED]
    passes = Counter(f.rule_id for f in result.findings if f.status is Status.PASS)
    kept = keep_within(reported, limit)
    rules = [_rule_descriptor(r) for r in result.rules]
    known = {r.id for r in result.rules}
    rules.extend(_pseudo_descriptor(i) for i in sorted({f.rule_id for f in reported} - known))
    index = {d["id"]: i for i, d in enumerate(rules)}
    root = repository_root(result)
    prefix = root[1] if root else ""
    notifications: list[dict[str, Any]] = [
        {
            "message": _message(f"{f.rule_id}: {f.message}"),
            "level": "error",
            "locations": [_location(f, prefix)],
            "descriptor": {"id": f.rule_id},
        }
        for f in kept
        if f.status is Status.ERROR
    ]
    notifications.extend(
        {"message": _message(f"coverage gap {c.target}: {c.reason}"), "level": "error"}
        for c in result.gaps()
    )
    invocation: dict[str, Any] = {"executionSuccessful": not result.incomplete()}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    if result.started:
        invocation["startTimeUtc"] = result.started
    if result.finished:
        invocation["endTimeUtc"] = result.finished
    driver: dict[str, Any] = {
        "name": "ledgergate",
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    if result.tool_version:
        driver["version"] = driver["semanticVersion"] = result.tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": _automation_id(result)},
        "columnKind": "unicodeCodePoints",
        "invocations": [invocation],
        "results": [_result(f, index[f.rule_id], prefix) for f in kept],
        "properties": _run_properties(result, passes),
    }
    if root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root[0].as_uri() + "/"}}
        if prefix:
            run["properties"]["scannedPath"] = prefix
    if len(kept) < len(reported):
        run["properties"]["truncated"] = {
            "reason": f"GitHub code scanning stores at most {limit} results per run",
            "results": len(reported),
            "kept": len(kept),
            "dropped": len(reported) - len(kept),
        }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _dump(log: dict[str, Any]) -> str:
    return jsontext.dumps(log) + "\n"


class SarifReporter(Reporter):
    """SARIF 2.1.0 accepted by GitHub code scanning, within its upload limits."""

    name = "sarif"

    def render(self, result: ScanResult) -> str:
        """Deterministic SARIF JSON; fewer results (highest severity kept) when the
        gzipped file would pass GitHub's size limit."""
        limit = LIMITS["resultsPerRun"]
        log = build_log(result, limit)
        text = _dump(log)
        while True:
            size = len(gzip.compress(text.encode(), compresslevel=6, mtime=0))
            if size <= LIMITS["gzipBytes"] or limit == 0:
                break
            limit = int(limit * LIMITS["gzipBytes"] / size * 0.9)
            log = build_log(result, limit)
            text = _dump(log)
        self.notes = []
        truncated = log["runs"][0]["properties"].get("truncated")
        if truncated:
            self.notes.append(
                f"SARIF: {truncated['dropped']} of {truncated['results']} results dropped to "
                f"stay within GitHub code scanning's limits (highest severity kept; "
                "the JSON report has them all)"
            )
        return text
