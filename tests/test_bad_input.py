"""Hostile and broken inputs: each is an error (or a reasoned skip) and the scan goes on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scanner.config import Config, RenderOptions, load_config
from scanner.model import Status
from scanner.pipeline import scan_repo
from scanner.reporters import get_reporter

GOOD = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admins}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: mallory}]
"""


def _scan(root: Path, config: Config | None = None):  # type: ignore[no-untyped-def]
    (root / "good.yaml").write_text(GOOD)
    result = scan_repo(root, config or load_config(None))
    # the rest of the scan completed: the good file was judged
    assert any(f.rule_id == "LG-RBAC-001" and f.status is Status.FAIL for f in result.findings)
    return result


def _only_error(result, path: str):  # type: ignore[no-untyped-def]
    errors = [f for f in result.findings if f.status is Status.ERROR]
    assert [f.origin.path for f in errors] == [path]
    for fmt in ("table", "json", "sarif"):
        text = get_reporter(fmt).render(result)
        assert path in text, f"{fmt} output must name {path}"
        assert "Traceback" not in text
    return errors[0]


def test_malformed_yaml(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n")
    err = _only_error(_scan(tmp_path), "bad.yaml")
    assert err.rule_id == "input/parse-error" and err.origin.start_line >= 4


def test_alias_bomb(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    err = _only_error(_scan(tmp_path), "bomb.yaml")
    assert err.rule_id == "input/alias-bomb"


def test_deeply_nested(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 500 + "]" * 500 + "\n")
    err = _only_error(_scan(tmp_path), "deep.yaml")
    assert err.rule_id == "input/too-deep"


def test_file_over_size_limit(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("# padding\n" * 2000)
    config = Config(params=load_config(None).params, max_file_size=1000)
    err = _only_error(_scan(tmp_path, config), "big.yaml")
    assert err.rule_id == "input/too-large" and "1,000-byte limit" in err.message


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "blob.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert _only_error(_scan(tmp_path), "blob.yaml").rule_id == "input/binary"


def test_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("kind: ConfigMap\nname: caf\xe9\n".encode("latin-1"))
    err = _only_error(_scan(tmp_path), "latin1.yaml")
    assert err.rule_id == "input/encoding" and err.origin.start_line == 2


def test_symlink_outside_repo(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(GOOD)
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside / "secret.yaml", repo / "link.yaml")
    err = _only_error(_scan(repo), "link.yaml")
    assert err.rule_id == "input/symlink-escape"


def test_helm_template_is_an_error_that_says_how_to_proceed(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "odoo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: odoo\nversion: 1.0.0\n")
    (chart / "templates" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    # With rendering switched off a chart template cannot be judged: an error, never a pass.
    unrendered = Config(params=load_config(None).params, render=RenderOptions(enabled=False))
    err = _only_error(_scan(tmp_path, unrendered), "charts/odoo/templates/deployment.yaml")
    assert err.rule_id == "input/helm-template"
    assert "helm template" in err.message and "exclude" in err.message


def test_unknown_kind_is_a_reasoned_skip(tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    )
    result = _scan(tmp_path)
    assert [f for f in result.findings if f.status is Status.ERROR] == []
    reasons = [s.reason for s in result.skipped if s.origin.path == "widget.yaml"]
    assert reasons and "unknown kind Widget" in reasons[0]
    assert "unknown kind Widget" in json.dumps(json.loads(get_reporter("json").render(result)))


@pytest.mark.parametrize("text", ['{"apiVersion": "v1",}', '{"kind": "Secret", data: {}}'])
def test_malformed_json_manifest_is_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "bad.json").write_text(text)
    assert _only_error(_scan(tmp_path), "bad.json").rule_id == "input/parse-error"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.json", "{"),
        ("list.json", "[1, 2"),
        (
            "tsconfig.json",
            '{\n  // comments are fine for tsc\n  "compilerOptions": {"strict": true,},\n}\n',
        ),
        ("values.yaml", "image:\n  tag: {{ .Chart.AppVersion }}\n"),
        ("ci.yml", "job:\n  script: [a: b: c]\n"),
    ],
)
def test_broken_non_manifest_is_skipped_with_its_reason(
    tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    result = _scan(tmp_path)
    assert [f.rule_id for f in result.findings if f.status is Status.ERROR] == []
    reasons = [s.reason for s in result.skipped if s.origin.path == name]
    assert reasons and reasons[0].startswith("not a Kubernetes manifest")


def test_crd_schema_holding_an_equals_sign_is_read(tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: a.example.com}\nspec:\n  x-enum:\n  - =\n  - '!='\n"
    )
    result = _scan(tmp_path)
    assert [f.rule_id for f in result.findings if f.status is Status.ERROR] == []


def test_excluded_path_is_not_scanned(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "bad.yaml").write_text("a: [\n")
    config = Config(params=load_config(None).params, exclude_paths=("vendor/",))
    result = _scan(tmp_path, config)
    assert [f for f in result.findings if f.status is Status.ERROR] == []


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1]\nb: *x\n",
        "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 32)),
        "- " * 45 + "x\n",
        "[" * 45 + "]" * 45 + "\n",
        "{a: " * 45 + "1" + "}" * 45 + "\n",
    ],
)
def test_texts_that_could_be_hostile_take_the_checked_path(text: str) -> None:
    from scanner.sources.kubeyaml import needs_limit_check

    assert needs_limit_check(text)


def test_ordinary_manifests_take_the_fast_path() -> None:
    from scanner.sources.kubeyaml import needs_limit_check

    assert not needs_limit_check(GOOD)


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n"
    (tmp_path / "deep-block.yaml").write_text(text)
    err = _only_error(_scan(tmp_path), "deep-block.yaml")
    assert err.rule_id == "input/too-deep"


def test_alias_bomb_spread_over_three_documents(tmp_path: Path) -> None:
    """About 1 KB: each document stays under the per-document limit (600k nodes), but the
    file as a whole is refused instead of costing minutes and hundreds of MB."""
    docs = []
    for d in range(3):
        lines = ["apiVersion: v1", "kind: ConfigMap", f"metadata: {{name: bomb-{d}}}", "x:"]
        lines.append("  a: &a [x, x, x, x, x, x, x, x, x]")
        for i in range(1, 6):
            prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
            lines.append(f"  {cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
        docs.append("\n".join(lines))
    (tmp_path / "bomb.yaml").write_text("\n---\n".join(docs) + "\n")
    assert len((tmp_path / "bomb.yaml").read_bytes()) < 1400
    err = _only_error(_scan(tmp_path), "bomb.yaml")
    assert err.rule_id == "input/alias-bomb" and "across the documents" in err.message


def test_a_container_list_emptied_by_unreadable_items_does_not_pass(tmp_path: Path) -> None:
    """``- "nginx:latest"`` is no container object; the workload rules must say so (error),
    not judge an empty list and pass (the image rules passed on ``:latest`` before)."""
    (tmp_path / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: finance-prod}\n"
        "spec:\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec:\n      containers:\n"
        '        - "nginx:latest"\n'
    )
    result = _scan(tmp_path)
    workload = {f.rule_id: f for f in result.findings if f.rule_id.startswith("LG-IMG-")}
    assert workload and all(f.status is Status.ERROR for f in workload.values())
    assert all(
        "spec.template.spec.containers[0] is not an object" in f.message for f in workload.values()
    )
