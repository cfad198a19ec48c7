"""Rules whose input the user did not enable (the registry rules without ``--images``)
report one ``not-evaluated`` entry per rule, not one ``error`` per workload; the controls
they map to show not evaluated in every format; ``requireInputs`` makes it exit 4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.config import load_config
from scanner.model import Status
from scanner.pipeline import scan_repo
from scanner.reporters import get_reporter

REGISTRY_RULES = {"LG-IMG-050", "LG-IMG-051", "LG-IMG-052"}
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{n}, namespace: team-{n}}}
spec:
  selector: {{matchLabels: {{app: a}}}}
  template:
    metadata: {{labels: {{app: a}}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app@sha256:{digest}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for n in range(3):
        text = DEPLOYMENT.format(n=n, digest=str(n) * 64)
        (root / f"app{n}.yaml").write_text(text)
    return root


def test_one_not_evaluated_entry_per_rule_with_the_object_count(repo: Path) -> None:
    result = scan_repo(repo, load_config(None))
    mine = [f for f in result.findings if f.rule_id in REGISTRY_RULES]
    assert {f.rule_id for f in mine} == REGISTRY_RULES
    assert all(f.status is Status.NOT_EVALUATED for f in mine)
    assert len(mine) == len(REGISTRY_RULES)
    for f in mine:
        assert {e.path: e.value for e in f.evidence} == {"input": "images", "objects": "3"}
        assert "--images" in f.message and "would have judged 3 objects" in f.message
    assert not any(f.status is Status.ERROR for f in result.findings)


def test_every_format_shows_the_controls_not_evaluated(repo: Path) -> None:
    result = scan_repo(repo, load_config(None))
    controls = {
        f"{c.framework} {c.id}"
        for f in result.findings
        if f.status is Status.NOT_EVALUATED
        for c in f.controls
    }
    doc = json.loads(get_reporter("json").render(result))
    assert doc["summary"]["notEvaluated"] == 3
    assert {f["ruleId"] for f in doc["findings"] if f["status"] == "not-evaluated"} == (
        REGISTRY_RULES
    )
    sarif = json.loads(get_reporter("sarif").render(result))["runs"][0]
    assert {e["ruleId"] for e in sarif["properties"]["notEvaluated"]} == REGISTRY_RULES
    assert not any(r["ruleId"] in REGISTRY_RULES for r in sarif["results"])
    html = get_reporter("html").render(result)
    assert 'data-control="CM-04" data-status="not-evaluated"' in html
    table = get_reporter("table").render(result)
    assert table.count("NOT-EVALUATED") == len(REGISTRY_RULES)
    assert "3 rules not evaluated" in table
    md = get_reporter("md").render(result)
    assert "not-evaluated" in md and "LG-IMG-050" in md
    assert controls  # the rules map to controls at all


def _scan(repo: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--fail-on", "none", *extra])
    return res.exit_code, res.output


def test_require_inputs_makes_a_missing_input_exit_4(repo: Path, tmp_path: Path) -> None:
    assert _scan(repo)[0] == 0  # off by default for scan repo
    config = tmp_path / "ledgergate.yaml"
    config.write_text("requireInputs: [images]\n")
    code, output = _scan(repo, "--config", str(config))
    assert code == 4, output
    assert "requireInputs lists images" in output


def test_require_inputs_rejects_an_unknown_input(repo: Path, tmp_path: Path) -> None:
    config = tmp_path / "ledgergate.yaml"
    config.write_text("requireInputs: [telepathy]\n")
    assert _scan(repo, "--config", str(config))[0] == 2
