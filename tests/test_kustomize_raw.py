"""A kustomization read raw (rendering off or failed) says what Kustomize would deploy:
generated names carry Kustomize's exact hash suffix, and inline patches are judged."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from scanner.config import RenderOptions
from scanner.model import Resource
from scanner.sources.base import Skipped
from scanner.sources.repo import RepoSource

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
GENERATORS = KUSTOMIZATION + (
    "configMapGenerator:\n"
    "  - name: app-config\n"
    "    literals: ['A=1', 'B=<x>&y', 'C=h\u00e9llo', 'D=\"quoted\"']\n"
    "  - name: from-env\n    envs: [app.env]\n"
    "  - name: from-file\n    files: [conf/odoo.conf, renamed=conf/odoo.conf]\n"
    "  - name: empty\n"
    "  - name: unhashed\n    literals: [X=1]\n    options: {disableNameSuffixHash: true}\n"
    "secretGenerator:\n"
    "  - name: db\n    literals: [password=Hv5-not-a-real-one]\n"
    "  - name: tls\n    type: kubernetes.io/tls\n    literals: [tls.crt=abc, tls.key=def]\n"
)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _raw(root: Path) -> list[Resource | Skipped]:
    source = RepoSource(root, render=RenderOptions(enabled=False))
    return [i for i in source.collect() if isinstance(i, Resource | Skipped)]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (Kustomize v5)")
@pytest.mark.parametrize("options", ["", "generatorOptions: {disableNameSuffixHash: true}\n"])
def test_generated_names_match_kubectl_kustomize(tmp_path: Path, options: str) -> None:
    _write(
        tmp_path,
        {
            "app/kustomization.yaml": GENERATORS + options,
            "app/app.env": "# comment\nMODE=prod\nEMPTY=\n",
            "app/conf/odoo.conf": "[options]\nworkers = 4\n",
        },
    )
    done = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "app")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    expected = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(done.stdout)}
    ours = {(r.ref.kind, r.ref.name) for r in _raw(tmp_path) if isinstance(r, Resource)}
    assert expected and expected <= ours
    assert ("ConfigMap", "unhashed") in expected


def test_inline_patches_are_judged_at_their_lines(tmp_path: Path) -> None:
    kust = KUSTOMIZATION + (
        "namespace: finance-prod\n"
        "resources: [deploy.yaml]\n"
        "patches:\n"
        "  - target: {kind: Deployment}\n"  # 6
        "    patch: |-\n"  # 7
        "      apiVersion: apps/v1\n"  # 8
        "      kind: Deployment\n"
        "      metadata: {name: api}\n"
        "      spec:\n"  # 11
        "        template:\n"
        "          spec:\n"
        "            containers:\n"
        "              - name: api\n"
        "                securityContext: {privileged: true}\n"  # 16
        "  - target: {kind: Deployment}\n"
        "    patch: '[{op: replace, path: /spec/replicas, value: 1}]'\n"  # 18
        "patchesStrategicMerge:\n"
        "  - |\n"  # 20
        "    apiVersion: v1\n"  # 21
        "    kind: ConfigMap\n"
        "    metadata: {name: inline-smp}\n"
    )
    _write(
        tmp_path,
        {
            "app/kustomization.yaml": kust,
            "app/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n",
        },
    )
    items = _raw(tmp_path)
    patch = [
        r for r in items if isinstance(r, Resource) and r.origin.path == "app/kustomization.yaml"
    ]
    by_kind = {r.ref.kind: r for r in patch}
    deploy = by_kind["Deployment"]
    assert deploy.origin.start_line == 8 and deploy.ref.namespace == "finance-prod"
    assert deploy.body["spec"]["template"]["spec"]["containers"][0]["securityContext"] == {
        "privileged": True
    }
    assert by_kind["ConfigMap"].origin.start_line == 21
    assert any(
        isinstance(s, Skipped) and "JSON 6902" in s.reason and s.origin.start_line == 18
        for s in items
    )


def test_an_inline_patch_finding_points_at_the_patch_line(tmp_path: Path) -> None:
    from scanner.config import load_config
    from scanner.pipeline import scan_repo

    _write(
        tmp_path,
        {
            "app/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-prod\nresources: [missing.yaml]\npatches:\n"
            + "  - patch: |-\n"  # 6
            + "      apiVersion: apps/v1\n"
            + "      kind: Deployment\n"
            + "      metadata: {name: api}\n"
            + "      spec:\n"
            + "        template:\n"
            + "          spec:\n"
            + "            containers:\n"
            + "              - name: api\n"
            + "                image: nginx\n"
            + "                securityContext: {privileged: true}\n",  # 16
        },
    )
    # the render fails (missing.yaml), so the folder is judged raw: the patch is read
    result = scan_repo(tmp_path, load_config(None))
    lines = {
        e.line
        for f in result.problems()
        if f.rule_id == "LG-WKL-001" and f.origin.path == "app/kustomization.yaml"
        for e in f.evidence
    }
    assert 16 in lines
