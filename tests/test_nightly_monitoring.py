"""Metrics of the nightly audit, read by a real Prometheus parser, and the alerts on them,
checked and unit-tested by the real ``promtool``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli.cluster import cluster
from tests.conftest import ROOT
from tests.kubeapi.fixtures import KubeTarget
from tests.kubeapi.scan import cli_scan
from tests.kubeapi.server import Fault, FixtureApiServer

parser = pytest.importorskip("prometheus_client.parser")
RULES = ROOT / "deploy" / "nightly-audit" / "components" / "monitoring" / "prometheusrule.yaml"
PROMTOOL = shutil.which("promtool")
NOW = "1796104800"  # 2026-12-01T06:00:00Z, the fixture cluster's "now"


def _scan(kube_target: KubeTarget, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = ("--fail-on", "none", "--run-id", "night-1", *args)
    return cli_scan(kube_target.kubeconfig, tmp_path, *run, env={"SOURCE_DATE_EPOCH": NOW})


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in parser.text_string_to_metric_families(path.read_text()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_file_of_a_complete_run(kube_target: KubeTarget, tmp_path: Path) -> None:
    bundle = tmp_path / "evidence" / "{date}" / "{run_id}.zip"
    metrics = tmp_path / "metrics" / "{run_id}.prom"
    code, doc = _scan(kube_target, tmp_path, "--evidence", str(bundle), "--metrics", str(metrics))
    assert code == 0
    written = tmp_path / "evidence" / "2026-12-01" / "night-1.zip"
    samples = _samples(tmp_path / "metrics" / "night-1.prom")
    fails = [f for f in doc["findings"] if f["status"] == "fail"]
    for severity in ("critical", "high", "medium", "low", "info"):
        expected = sum(f["severity"] == severity for f in fails)
        got = _value(samples, "ledgergate_scan_findings", status="fail", severity=severity)
        assert got == expected, severity
    assert _value(
        samples, "ledgergate_scan_rule_findings", rule="LG-BAK-013", status="fail", severity="high"
    ) == sum(f["ruleId"] == "LG-BAK-013" for f in fails)
    assert (
        _value(
            samples,
            "ledgergate_scan_rule_findings",
            rule="LG-BAK-014",
            status="fail",
            severity="high",
        )
        == 0
    )  # zeros are written: series stay continuous
    assert _value(samples, "ledgergate_scan_coverage_entries", category="gap") == 0
    assert _value(samples, "ledgergate_scan_incomplete") == 0
    assert _value(samples, "ledgergate_scan_exit_code") == 0
    assert _value(samples, "ledgergate_scan_last_success_timestamp_seconds") == float(NOW)
    assert _value(samples, "ledgergate_scan_duration_seconds") > 0
    with zipfile.ZipFile(written) as archive:
        digest = "sha256:" + hashlib.sha256(archive.read("manifest.json")).hexdigest()
    assert _value(samples, "ledgergate_evidence_bundle_info", digest=digest, path=str(written)) == 1
    assert _value(samples, "ledgergate_evidence_bundle_timestamp_seconds") == float(NOW)
    info = [k for k in samples if k[0] == "ledgergate_scan_info"]
    assert dict(info[0][1])["run_id"] == "night-1"


def test_a_same_day_rerun_never_overwrites_the_bundle(
    kube_target: KubeTarget, tmp_path: Path
) -> None:
    bundle = tmp_path / "{date}" / "{run_id}.zip"
    assert _scan(kube_target, tmp_path, "--evidence", str(bundle))[0] == 0
    res = CliRunner().invoke(
        cluster,
        [
            "--kubeconfig",
            str(kube_target.kubeconfig),
            "--run-id",
            "night-1",
            "--evidence",
            str(bundle),
        ],
        env={"SOURCE_DATE_EPOCH": NOW},
    )
    assert res.exit_code == 2 and "refusing to overwrite" in res.stderr
    assert len(list(tmp_path.glob("2026-12-01/*.zip"))) == 1


def test_run_ids_cannot_leave_the_evidence_folder(kube_target: KubeTarget) -> None:
    res = CliRunner().invoke(
        cluster, ["--kubeconfig", str(kube_target.kubeconfig), "--run-id", "../../etc"]
    )
    assert res.exit_code == 2 and "--run-id" in res.stderr


def test_metrics_of_an_incomplete_run(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    kube_server.faults["velero.io/backups"] = Fault(status=403)
    metrics = tmp_path / "m.prom"
    code, _ = _scan(kube_target, tmp_path, "--metrics", str(metrics))
    assert code == 4
    samples = _samples(metrics)
    assert _value(samples, "ledgergate_scan_incomplete") == 1
    assert _value(samples, "ledgergate_scan_coverage_entries", category="gap") == 1
    assert _value(samples, "ledgergate_scan_exit_code") == 4
    assert not [k for k in samples if k[0] == "ledgergate_scan_last_success_timestamp_seconds"]


def _rule_file(tmp_path: Path) -> Path:
    doc = yaml.safe_load(RULES.read_text())
    assert doc["kind"] == "PrometheusRule"
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc["spec"]))
    return path


SERIES = 'ledgergate_scan_{}{{job="ledgergate-nightly-audit",cluster="prod"{}}}'
UNIT_TESTS = {
    "tests": [
        {  # a success at t=0: quiet for 26 h, then the dead-man's switch fires
            "interval": "1h",
            "input_series": [
                {"series": SERIES.format("last_success_timestamp_seconds", ""), "values": "0x40"}
            ],
            "alert_rule_test": [
                {
                    "eval_time": "20h",
                    "alertname": "LedgergateNightlyAuditMissing",
                    "exp_alerts": [],
                },
                {
                    "eval_time": "27h",
                    "alertname": "LedgergateNightlyAuditMissing",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "team": "compliance",
                                "cluster": "prod",
                            },
                        }
                    ],
                },
            ],
        },
        {  # never a success at all
            "interval": "1h",
            "input_series": [],
            "alert_rule_test": [
                {
                    "eval_time": "1h",
                    "alertname": "LedgergateNightlyAuditMissing",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "team": "compliance",
                                "job": "ledgergate-nightly-audit",
                            }
                        }
                    ],
                }
            ],
        },
        {
            "interval": "1h",
            "input_series": [{"series": SERIES.format("incomplete", ""), "values": "0 0 1 1"}],
            "alert_rule_test": [
                {
                    "eval_time": "1h",
                    "alertname": "LedgergateNightlyAuditIncomplete",
                    "exp_alerts": [],
                },
                {
                    "eval_time": "3h",
                    "alertname": "LedgergateNightlyAuditIncomplete",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "warning",
                                "team": "platform",
                                "cluster": "prod",
                            }
                        }
                    ],
                },
            ],
        },
        {  # one critical failure for a day and a half, then a second object fails
            "interval": "1h",
            "input_series": [
                {
                    "series": SERIES.format(
                        "rule_findings", ',rule="LG-BAK-002",status="fail",severity="critical"'
                    ),
                    "values": "1x30 2x10",
                }
            ],
            "alert_rule_test": [
                {"eval_time": "30h", "alertname": "LedgergateNewCriticalFinding", "exp_alerts": []},
                {
                    "eval_time": "35h",
                    "alertname": "LedgergateNewCriticalFinding",
                    "exp_alerts": [
                        {
                            "exp_labels": {
                                "severity": "critical",
                                "team": "compliance",
                                "job": "ledgergate-nightly-audit",
                                "cluster": "prod",
                                "rule": "LG-BAK-002",
                                "status": "fail",
                            }
                        }
                    ],
                },
            ],
        },
    ]
}


@pytest.mark.needs_tool("promtool", hint="Debian package prometheus")
def test_prometheusrule_passes_promtool_check_and_its_unit_tests(tmp_path: Path) -> None:
    assert PROMTOOL is not None
    rules = _rule_file(tmp_path)
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "tests.yaml"
    tests.write_text(yaml.safe_dump({"rule_files": [rules.name], **_with_annotations(rules)}))
    ran = subprocess.run(
        [PROMTOOL, "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr


def _with_annotations(rules: Path) -> dict[str, Any]:
    """UNIT_TESTS with each expected alert's annotations, templates expanded from its labels."""
    import copy
    import re

    annotations = {
        r["alert"]: r.get("annotations", {})
        for group in yaml.safe_load(rules.read_text())["groups"]
        for r in group["rules"]
    }
    tests = copy.deepcopy(UNIT_TESTS)
    for test in tests["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case["exp_alerts"]:
                labels = alert["exp_labels"]
                alert["exp_annotations"] = {
                    k: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m, at=labels: at[m.group(1)], v)
                    for k, v in annotations[case["alertname"]].items()
                }
    return tests


def _cronjob_run(
    kube_target: KubeTarget, tmp_path: Path, epoch: str, run_id: str
) -> tuple[Any, list[str]]:
    """The base CronJob's arguments, run as given (only the mounted paths moved and the
    kubeconfig added), at ``epoch`` as pod ``run_id``."""
    from scanner.cli import cli
    from tests.test_nightly_deploy import _pod, render

    docs = render("base")
    args = [
        a.replace("/evidence/", f"{tmp_path}/evidence/")
        for a in _pod(docs)["containers"][0]["args"]
    ]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["ledgergate.yaml"]
    (tmp_path / "ledgergate.yaml").write_text(config)
    args = [
        f"--config={tmp_path / 'ledgergate.yaml'}" if a.startswith("--config=") else a for a in args
    ]
    env = {"SOURCE_DATE_EPOCH": epoch, "LEDGERGATE_RUN_ID": run_id}
    done = CliRunner().invoke(cli, [*args, f"--kubeconfig={kube_target.kubeconfig}"], env=env)
    return done, args


def test_the_cronjobs_own_arguments_log_the_summary_and_why_it_is_incomplete(
    kube_target: KubeTarget, tmp_path: Path
) -> None:
    """The job log is the summary line, the findings are in the evidence. Without
    ``--quiet`` the table of a 50,000-object estate was 112 MB of log a night."""
    done, args = _cronjob_run(kube_target, tmp_path, NOW, "night-1")
    assert args[:3] == ["--quiet", "scan", "cluster"]
    assert done.exit_code == 4, done.output  # requireInputs: [images] and no --images: incomplete
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and "failed" in lines[0], done.stdout
    assert "requireInputs lists images" in done.stderr  # why exit 4 stays in the log
    assert (tmp_path / "evidence" / "bundles" / "2026-12-01-night-1.zip").is_file()
    assert (tmp_path / "evidence" / "2026-12-01" / "night-1.prom").is_file()


def test_each_nights_bundle_chains_to_the_night_before(
    kube_target: KubeTarget, tmp_path: Path
) -> None:
    """Two nights of the CronJob's own arguments: the second bundle's manifest names the
    first's. With a folder per date each night began a series of its own (``--previous``
    finds the latest bundle beside the new one), so no missed night could show as a gap."""
    first, _ = _cronjob_run(kube_target, tmp_path, NOW, "night-1")
    second, _ = _cronjob_run(kube_target, tmp_path, str(int(NOW) + 86400), "night-2")
    assert (first.exit_code, second.exit_code) == (4, 4), second.output
    bundles = tmp_path / "evidence" / "bundles"
    with zipfile.ZipFile(bundles / "2026-12-01-night-1.zip") as archive:
        first_manifest = archive.read("manifest.json")
    with zipfile.ZipFile(bundles / "2026-12-02-night-2.zip") as archive:
        series = json.loads(archive.read("manifest.json"))["series"]
    assert series["previous"]["manifestSha256"] == hashlib.sha256(first_manifest).hexdigest()
