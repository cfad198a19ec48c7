"""Hostile shapes an attacker's pull request can commit (issue 12 §2): each one is an
``input/*`` error for that file, and the scan completes in every output format."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.reporters import reporter_names

from .conftest import custom_rule_repo

OUTPUT_FORMATS = reporter_names()
GOOD = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: mallory}]
"""


def scan_all_formats(root: Path, tmp_path: Path) -> dict[str, object]:
    """Scan in every format (plus --sarif/--json files); returns the JSON document."""
    (root / "good.yaml").write_text(GOOD)
    for fmt in OUTPUT_FORMATS:
        result = CliRunner().invoke(
            cli, ["scan", "repo", str(root), "--format", fmt], catch_exceptions=False
        )
        assert result.exit_code == 1, (fmt, result.output)
        assert "Traceback" not in result.output
    sarif, out = tmp_path / "o.sarif", tmp_path / "o.json"
    result = CliRunner().invoke(
        cli,
        ["scan", "repo", str(root), "--sarif", str(sarif), "--json", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    json.loads(sarif.read_text())
    doc: dict[str, object] = json.loads(out.read_text(), parse_constant=_strict)
    assert any(f["ruleId"] == "LG-RBAC-001" for f in doc["findings"])  # type: ignore[index, union-attr]
    return doc


def _strict(name: str) -> object:
    raise AssertionError(f"output is not strict JSON: {name}")


def errors_of(doc: dict[str, object]) -> set[tuple[str, str]]:
    return {
        (f["location"]["path"], f["ruleId"])  # type: ignore[index]
        for f in doc["findings"]  # type: ignore[attr-defined]
        if f["ruleId"].startswith("input/")  # type: ignore[index]
    }


def test_rich_markup_in_names_and_messages_is_data(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\n"
        'metadata: {name: "[/oops]", namespace: "[bold]x"}\n'
        'data: {DB_PASSWORD: "[/red]:smile:"}\n'
    )
    for color in (False, True):
        from scanner.cli.util import load_scan_config
        from scanner.pipeline import scan_repo
        from scanner.reporters.table import TableReporter

        result = scan_repo(root, load_scan_config(root, None))
        text = TableReporter(color=color).render(result)
        assert "[/oops]" in text and "[bold]x" in text
    scan_all_formats(root, tmp_path)


def test_json_depth_constants_and_duplicate_keys(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    head = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}'
    (root / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (root / "deep150.json").write_text(head + ', "x": ' + "[" * 150 + "]" * 150 + "}")
    (root / "nan.json").write_text(head + ', "data": {"a": NaN}, "b": Infinity}')
    (root / "dup.json").write_text(head + ', "metadata": {"name": "y"}}')
    doc = scan_all_formats(root, tmp_path)
    # 200,000 levels and no apiVersion/kind: no manifest, listed as skipped with its reason
    assert any(s["path"] == "deep.json" and "nest" in s["reason"] for s in doc["skipped"])
    assert errors_of(doc) == {
        ("deep150.json", "input/too-deep"),
        ("nan.json", "input/parse-error"),
        ("dup.json", "input/duplicate-key"),
    }


def test_fifo_symlink_loop_and_non_utf8_name(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    os.mkfifo(root / "pipe.yaml")
    (root / "loop.yaml").symlink_to("loop.yaml")
    bad = os.fsencode(str(root)) + b"/bad\xff.yaml"
    with open(bad, "w") as handle:
        handle.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    doc = scan_all_formats(root, tmp_path)
    assert errors_of(doc) == {
        ("pipe.yaml", "input/not-a-file"),
        ("loop.yaml", "input/symlink-loop"),
        ("bad\\xff.yaml", "input/file-name"),
    }


def test_non_utf8_name_tracked_by_git(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    with open(os.fsencode(str(root)) + b"/caf\xe9.yaml", "w") as handle:
        handle.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    doc = scan_all_formats(root, tmp_path)
    assert errors_of(doc) == {("caf\\xe9.yaml", "input/file-name")}


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ("{name: finance-prod, labels: [a, b]}", "metadata.labels is not a map"),
        ('"not-a-map"', "metadata is not a map"),
        ("{name: [x]}", "metadata.name is not a string"),
        ("{name: nm, annotations: {a: {b: c}}}", "metadata.annotations values are not all"),
    ],
)
def test_identity_fields_of_the_wrong_type(tmp_path: Path, metadata: str, reason: str) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "ns.yaml").write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {metadata}\n")
    doc = scan_all_formats(root, tmp_path)
    assert errors_of(doc) == {("ns.yaml", "input/invalid-object")}
    messages = [f["message"] for f in doc["findings"] if f["ruleId"] == "input/invalid-object"]  # type: ignore[attr-defined, index]
    assert messages[0].startswith(reason)


ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
)


@pytest.mark.parametrize("name", ["waivers.yaml", "ledgergate.yaml"])
def test_alias_bomb_in_the_tools_own_files_is_refused_quickly(tmp_path: Path, name: str) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    (root / name).write_text(ALIAS_BOMB + "\n")
    result = CliRunner().invoke(cli, ["scan", "repo", str(root)], catch_exceptions=False)
    assert result.exit_code == 2
    assert "alias bomb" in result.output and name in result.output


def test_alias_bomb_in_a_rule_folder_is_refused(tmp_path: Path) -> None:
    from scanner.errors import RuleError
    from scanner.rules import load_rule

    rule = tmp_path / "LG-X-1.yaml"
    rule.write_text(ALIAS_BOMB + "\n")
    with pytest.raises(RuleError, match="alias bomb"):
        load_rule(rule)


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: finance-prod}
spec: {replicas: 0, template: {metadata: {labels: {a: aaaaaaaaaa}}, spec: {containers: []}}}
"""


def _custom_rule_result(tmp_path: Path, rule_id: str, extra: str) -> dict[str, object]:
    root = custom_rule_repo(tmp_path / "r", rule_id, extra)
    (root / "d.yaml").write_text(DEPLOYMENT)
    result = CliRunner().invoke(cli, ["scan", "repo", str(root), "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.output)
    (finding,) = [f for f in doc["findings"] if f["ruleId"] == rule_id]
    return finding  # type: ignore[no-any-return]


def test_a_condition_that_is_not_a_bool_is_an_error(tmp_path: Path) -> None:
    finding = _custom_rule_result(
        tmp_path,
        "LG-TEST-920",
        "  condition: object.spec.replicas\nassert: 'true'\nmessage: never",
    )
    assert finding["status"] == "error"
    assert "condition returned int, not bool" in finding["message"]  # type: ignore[operator]


def test_string_growth_over_the_cel_budget_is_an_error(tmp_path: Path) -> None:
    grow = "object.spec.template.metadata.labels.a" + ".replace('a', 'aaaaaaaaaa')" * 9
    finding = _custom_rule_result(
        tmp_path,
        "LG-TEST-921",
        f"assert: 'false'\nmessage: x\nmessageExpression: \"{grow}\"",
    )
    assert finding["status"] == "error"
    assert "CEL cost limit" in finding["message"]  # type: ignore[operator]


def test_files_the_scanner_cannot_see_are_listed(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "x.yaml").write_text(GOOD)
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", "-C", str(sub), *args], check=True)
    subprocess.run(
        ["git", "-C", str(sub), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
        check=True,
    )
    root = tmp_path / "r"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    add = ["submodule", "add", "-q", str(sub), "vendor/platform"]
    subprocess.run(["git", "-C", str(root), "-c", "protocol.file.allow=always", *add], check=True)
    (root / "charts").mkdir()
    (root / "charts" / "redis-18.1.0.tgz").write_bytes(b"\x1f\x8b not really")
    (root / "big.yaml").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12\n"
    )
    doc = scan_all_formats(root, tmp_path)
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}  # type: ignore[attr-defined, index]
    assert "Git submodule" in skipped["vendor/platform"]
    assert "Helm subchart" in skipped["charts/redis-18.1.0.tgz"]
    assert "Git LFS pointer" in skipped["big.yaml"]


def test_include_directives_are_listed(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "postgresql.conf").write_text("ssl = on\ninclude 'tuning.conf'\n")
    (root / "redis.conf").write_text("port 0\ninclude /etc/redis/common.conf\n")
    doc = scan_all_formats(root, tmp_path)
    listed = {
        s["path"]  # type: ignore[index]
        for s in doc["skipped"]  # type: ignore[attr-defined]
        if "not followed" in s["reason"]  # type: ignore[index]
    }
    assert listed == {"postgresql.conf", "redis.conf"}


def test_a_960_deep_value_does_not_crash_the_bundle_writer(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "good.yaml").write_text(GOOD)
    deep = "[" * 960 + "]" * 960
    (root / "deep.json").write_text(
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "x": ' + deep + "}"
    )
    bundle = tmp_path / "bundle"
    result = CliRunner().invoke(
        cli, ["scan", "repo", str(root), "--evidence", str(bundle)], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    findings = json.loads((bundle / "findings.json").read_text())["findings"]
    assert {f["ruleId"] for f in findings if f["location"]["path"] == "deep.json"} == {
        "input/too-deep"
    }


def test_many_tiny_documents_make_one_skip_entry(tmp_path: Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "many.yaml").write_text("---\n".join(f"n: {i}\n" for i in range(5000)))
    doc = scan_all_formats(root, tmp_path)
    skipped = [s for s in doc["skipped"] if s["path"] == "many.yaml"]  # type: ignore[attr-defined, index]
    assert len(skipped) == 1
    assert "(5,000 documents in this file)" in skipped[0]["reason"]


TRAEFIK_DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: ingress}
spec:
  template:
    spec:
      containers:
      - name: traefik
        image: docker.io/library/traefik:v3.1
        args: ["--api.insecure=true", "--entrypoints.websecure.address=:443"]
"""
TRAEFIK_CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata: {name: traefik-config, namespace: ingress}
data:
  traefik.yml: |
    api:
      insecure: true
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TRAEFIK_DEPLOYMENT, "Deployment traefik (traefik args)"),
        (TRAEFIK_CONFIGMAP, "ConfigMap traefik-config (traefik.yml)"),
    ],
)
def test_traefik_static_config_in_args_or_configmap_is_judged(
    tmp_path: Path, text: str, expected: str
) -> None:
    from scanner.cli.util import load_scan_config
    from scanner.model import Status
    from scanner.pipeline import scan_repo

    root = tmp_path / "r"
    root.mkdir()
    (root / "ingress.yaml").write_text(text)
    result = scan_repo(root, load_scan_config(root, None))
    failed = {
        (f.resource.name, f.origin.path)
        for f in result.findings
        if f.rule_id == "LG-TLS-009" and f.status is Status.FAIL and f.resource
    }
    assert failed == {(expected, "ingress.yaml")}
