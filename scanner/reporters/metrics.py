"""Prometheus metrics of one scan, for the nightly audit's alerts.

Written in the text exposition format (``--metrics FILE``, atomically) or pushed to a
Pushgateway (``--metrics-push URL``); `deploy/nightly-audit/monitoring/` holds the alerts
that read them. Series names are part of the interface: the PrometheusRule depends on them.
prometheus_client is imported lazily (only when metrics are asked for).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scanner.findings import ScanResult
from scanner.model import CoverageCategory, Severity, Status

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

PREFIX = "ledgergate"
#: Pushgateway job name; the alerts select on it.
PUSH_JOB = "ledgergate-nightly-audit"
#: Statuses that are counted (``pass`` is not a finding anyone acts on).
COUNTED = (Status.FAIL, Status.ERROR, Status.WAIVED)


@dataclass(frozen=True)
class RunFacts:
    """What the scan result alone does not know: the run's identity, timing and bundle."""

    run_id: str
    finished: datetime
    duration_s: float
    exit_code: int
    bundle_digest: str = ""
    bundle_path: str = ""


def build_registry(result: ScanResult, run: RunFacts) -> CollectorRegistry:
    """Every series of one run in a fresh registry."""
    from prometheus_client import CollectorRegistry, Gauge

    reg = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
        return Gauge(f"{PREFIX}_{name}", doc, labels, registry=reg)

    target = result.target
    gauge(
        "scan_info",
        "Identity of the last run (value 1).",
        ("run_id", "context", "namespaces", "version"),
    ).labels(
        run.run_id, target.get("context", ""), target.get("namespaces", ""), result.tool_version
    ).set(1)
    by_severity = gauge("scan_findings", "Findings by status and severity.", ("status", "severity"))
    by_rule = gauge(
        "scan_rule_findings",
        "Findings by rule, status and severity.",
        ("rule", "status", "severity"),
    )
    counts = Counter((f.rule_id, f.status, f.severity.value) for f in result.findings)
    for status in COUNTED:
        for severity in Severity:  # declaration order: most severe first
            total = sum(n for (_, s, v), n in counts.items() if s is status and v == severity)
            by_severity.labels(status.value, severity.value).set(total)
        for rule in result.rules:  # every rule, zeros included: series stay continuous
            by_rule.labels(rule.id, status.value, rule.severity.value).set(
                counts.get((rule.id, status, rule.severity.value), 0)
            )
    coverage = gauge("scan_coverage_entries", "Coverage entries by category.", ("category",))
    for category in CoverageCategory:
        coverage.labels(category.value).set(sum(c.category is category for c in result.coverage))
    gauge("scan_incomplete", "1 when a coverage gap made the scan incomplete (exit 4).").set(
        int(result.incomplete())
    )
    gauge("scan_resources", "Resources judged.").set(result.resources_scanned)
    gauge("scan_duration_seconds", "Wall time of the scan.").set(round(run.duration_s, 3))
    gauge("scan_exit_code", "Exit code of the run.").set(run.exit_code)
    finished = run.finished.timestamp()
    gauge("scan_last_run_timestamp_seconds", "When the run finished.").set(finished)
    if not result.incomplete() and run.exit_code in (0, 1):
        gauge(
            "scan_last_success_timestamp_seconds",
            "When the last complete scan finished (absent on an incomplete run).",
        ).set(finished)
    if run.bundle_digest:
        gauge(
            "evidence_bundle_info", "The evidence bundle written (value 1).", ("digest", "path")
        ).labels(run.bundle_digest, run.bundle_path).set(1)
        gauge("evidence_bundle_timestamp_seconds", "When the evidence bundle was written.").set(
            finished
        )
    return reg


def render(result: ScanResult, run: RunFacts) -> str:
    """The text exposition format."""
    from prometheus_client import generate_latest

    return generate_latest(build_registry(result, run)).decode()


def push(result: ScanResult, run: RunFacts, gateway: str, timeout_s: float = 10.0) -> None:
    """Replace this cluster's group on a Pushgateway (PUT); raises OSError when unreachable."""
    from prometheus_client import push_to_gateway

    context = result.target.get("context", "") or "default"
    push_to_gateway(
        gateway,
        job=PUSH_JOB,
        registry=build_registry(result, run),
        grouping_key={"cluster": context},
        timeout=timeout_s,
    )
