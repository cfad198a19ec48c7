"""The tool's own YAML files (config, waivers, rules, the control catalogue) refuse a key
given twice, naming file and line, and the CLI exits 2 (#12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import shipped, yamlutil
from scanner.cli import cli

GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod}\n"
WAIVERS = """waivers:
  - id: W-1
    rule: LG-SEC-001
    resource: {kind: ConfigMap, name: a}
    owner: alice
    approver: bob
    reason: tested
    expires: 2099-01-01
    expires: 2199-01-01
"""
RULE = """id: LG-TEST-940
title: custom rule under test
severity: high
severity: low
family: workloads
controls: [{framework: soc2, id: CC6.1}, {framework: nist-800-53-r5, id: CM-6}]
match:
  resources: [{kinds: [ConfigMap]}]
assert: 'true'
message: never
remediation: Nothing.
procedure: Read the object.
"""


def _run(root: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scan", "repo", str(root), "--format", "json", *extra])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("files", "bad", "line"),
    [
        ({"ledgergate.yaml": "failOn: high\nfailOn: none\n"}, "ledgergate.yaml", 2),
        (
            {
                "ledgergate.yaml": "params:\n  productionNamespaces: [prod]\n"
                "  productionNamespaces: [nothing]\n"
            },
            "ledgergate.yaml",
            3,
        ),
        ({"waivers.yaml": WAIVERS}, "waivers.yaml", 9),
        (
            {
                "ledgergate.yaml": "rules:\n  paths: [policies]\n",
                "policies/LG-TEST-940.yaml": RULE,
            },
            "policies/LG-TEST-940.yaml",
            4,
        ),
    ],
)
def test_a_duplicate_key_in_the_tools_own_files_exits_2(
    tmp_path: Path, files: dict[str, str], bad: str, line: int
) -> None:
    (tmp_path / "cm.yaml").write_text(GOOD)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    code, output = _run(tmp_path)
    assert code == 2, output
    assert f"{bad}:{line}" in output.replace(str(tmp_path) + "/", "") or (
        bad in output and f"line {line}" in output.replace(str(tmp_path) + "/", "")
    ), output
    assert "duplicate key" in output


def test_flow_mappings_and_merge_keys() -> None:
    with pytest.raises(yamlutil.YamlLoadError, match="duplicate key 'a'"):
        yamlutil.load("x: {a: 1, a: 2}\n", unique_keys=True)
    # merge keys are not duplicates, and a key overriding a merged one is fine
    assert yamlutil.load("base: &b {a: 1}\nx:\n  <<: *b\n  a: 2\n", unique_keys=True)["x"] == {
        "a": 2
    }


def test_every_shipped_yaml_file_is_free_of_duplicates() -> None:
    for path in sorted(shipped.rules_dir().rglob("*.yaml")):
        if path.name.startswith(("pass.", "fail.")):
            continue  # fixtures are manifests, read by the manifest loader
        yamlutil.load_file(path)
