"""Helpers for tests that scan the fixture cluster through the real source and pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from scanner.analyzers import kinds_read_by_analyzers, kinds_synthesised_by_analyzers
from scanner.config import load_config
from scanner.findings import ScanResult
from scanner.pipeline import run_scan
from scanner.rules import RuleSet, load_rules
from scanner.sources.kube import KubeSource
from scanner.sources.kubeclient import KubeClient, connect
from scanner.sources.kubeplan import matched_kinds
from tests.kubeapi.fixtures import CLUSTER_FIXTURE


def scan_cluster(
    kubeconfig: Path,
    *,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] | None = None,
    rules: RuleSet | None = None,
    ca_file: Path | None = None,
    now: datetime | None = None,
    **kw: Any,
) -> tuple[ScanResult, KubeClient]:
    """A full scan with the shipped rules; ``sleep`` defaults to a no-op (fast retries), and
    ``now`` to the fixture's (so backup ages do not drift with the wall clock)."""
    # The image-content rules need a registry; tests/images covers them.
    ruleset = rules if rules is not None else load_rules(exclude=TEST_RULE_EXCLUDES)
    client = KubeClient(
        connect(kubeconfig, ca_file=ca_file), timeout_s=timeout_s, sleep=sleep or (lambda _s: None)
    )
    kw.setdefault("context_kinds", kinds_read_by_analyzers())
    kw.setdefault("synthesised_kinds", kinds_synthesised_by_analyzers())
    source = KubeSource(client, matched_kinds(ruleset), **kw)
    outcome = run_scan(source, load_config(None), rules=ruleset, now=now or fixture_now())
    return outcome.result, client


def fixture_now() -> datetime:
    """The moment the fixture cluster's run history is judged at (expected-findings.yaml)."""
    data = yaml.safe_load((CLUSTER_FIXTURE / "expected-findings.yaml").read_text())
    return datetime.fromisoformat(str(data["now"]).replace("Z", "+00:00"))


def problems(result: ScanResult) -> set[tuple[str, str, str, str, str]]:
    """(rule, status, kind, namespace, name) of every fail and error finding."""
    return {
        (
            f.rule_id,
            f.status.value,
            f.resource.kind if f.resource else "",
            f.resource.namespace if f.resource else "",
            f.resource.name if f.resource else "",
        )
        for f in result.problems()
    }


def expected_problems() -> set[tuple[str, str, str, str, str]]:
    """The fixture cluster's expected-findings.yaml as the same tuples."""
    data = yaml.safe_load((CLUSTER_FIXTURE / "expected-findings.yaml").read_text())
    return {
        (e["rule"], e["status"], e["kind"], e["namespace"], e["name"]) for e in data["findings"]
    }


#: Rules the cluster tests run: all shipped rules but the registry-bound image ones.
TEST_RULE_EXCLUDES = ["LG-IMG-05*"]


def rules_judging(*kinds: str) -> set[str]:
    """Ids of the test rule set that match any of the kinds (what a gap must turn to error);
    a kind is ``Kind`` or ``group/Kind`` (k8up's Schedule is not Velero's)."""
    return {
        r.id
        for r in load_rules(exclude=TEST_RULE_EXCLUDES)
        if any(kind in kinds or f"{g}/{kind}" in kinds or kind == "*" for g, kind in r.match.kinds)
    }


def rules_requiring(*facts: str) -> set[str]:
    """Ids of the test rule set that require any of the facts (their context must be read)."""
    return {
        r.id
        for r in load_rules(exclude=TEST_RULE_EXCLUDES)
        if any(name.split(".", 1)[0] in facts for name in r.requires)
    }


def cli_scan(
    kubeconfig: Path, folder: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """``scan cluster --format json`` through the CLI with the test rule set: (exit, JSON)."""
    from click.testing import CliRunner

    from scanner.cli.cluster import cluster

    config = folder / "ledgergate.yaml"
    config.write_text(f"rules:\n  exclude: {TEST_RULE_EXCLUDES}\n")
    res = CliRunner().invoke(
        cluster,
        ["--kubeconfig", str(kubeconfig), "--config", str(config), "--format", "json", *args],
        catch_exceptions=False,
        env=env,
    )
    return res.exit_code, json.loads(res.stdout)
