"""Helm charts are rendered by the Helm engine and judged as deployed; plain templates are not."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import pytest

from scanner.config import Config, HelmChartConfig, RenderOptions, default_params
from scanner.model import Finding, Status
from scanner.pipeline import scan_repo
from scanner.sources.render import helm as helm_render

from .conftest import write_tree

needs_helm = pytest.mark.skipif(find_spec("helm_python") is None, reason="needs helm-python-sdk")
PROD = {**default_params(), "productionNamespaces": ["finance-prod"]}
CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: reports\nversion: 0.1.0\n",
    "chart/values.yaml": 'image:\n  tag: 2.4.0\nenv:\n  token: ""\n',
    "chart/templates/_helpers.tpl": (
        '{{- define "reports.container" -}}\n'
        "- name: reports\n"
        '  image: "registry.finance.internal/erp/reports:{{ .Values.image.tag }}"\n'
        "{{- end }}\n"
    ),
    "chart/templates/deployment.yaml": (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: {{ .Release.Name }}\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      serviceAccountName: reports\n"
        "      automountServiceAccountToken: false\n"
        "      containers:\n"
        '        {{- include "reports.container" . | nindent 8 }}\n'
    ),
}


def _scan(root: Path, charts: dict[str, HelmChartConfig] | None = None) -> list[Finding]:
    config = Config(params=PROD, render=RenderOptions(charts=charts or {}))
    return scan_repo(root, config).findings


def _problems(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.status in (Status.FAIL, Status.ERROR) and f.rule_id == rule]


@needs_helm
def test_chart_is_rendered_and_findings_point_into_named_templates(tmp_path: Path) -> None:
    repo = write_tree(tmp_path, CHART)
    findings = _scan(repo, {"chart": HelmChartConfig(namespace="finance-prod")})
    assert not [f for f in findings if f.rule_id.startswith("input/")]
    pinned = _problems(findings, "LG-IMG-001")
    assert len(pinned) == 1
    finding = pinned[0]
    assert finding.resource is not None
    assert finding.resource.display() == "Deployment finance-prod/reports"
    assert finding.origin.rendered_from == "helm chart"
    assert finding.origin.path == "chart/templates/_helpers.tpl"
    assert [e.line for e in finding.evidence] == [3]
    assert "value from chart/values.yaml:2 (.Values.image.tag)" in finding.message


@needs_helm
def test_values_from_an_argo_application_are_rendered_and_named(tmp_path: Path) -> None:
    app = (
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Application\n"
        "metadata:\n"
        "  name: reports-prod\n"
        "spec:\n"
        "  destination:\n"
        "    namespace: finance-prod\n"
        "  source:\n"
        "    path: ./chart\n"
        "    helm:\n"
        "      valuesObject:\n"
        "        image:\n"
        "          tag: latest\n"
    )
    repo = write_tree(tmp_path, {**CHART, "apps/reports.yaml": app})
    findings = _scan(repo)
    tags = _problems(findings, "LG-IMG-002")
    assert len(tags) == 1
    assert tags[0].origin.rendered_from.startswith("helm chart via Application reports-prod")
    assert "value from apps/reports.yaml:13 (.Values.image.tag)" in tags[0].message
    assert tags[0].resource is not None and tags[0].resource.name == "reports-prod"


@needs_helm
def test_values_from_a_flux_helmrelease_are_rendered(tmp_path: Path) -> None:
    release = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\n"
        "kind: HelmRelease\n"
        "metadata:\n"
        "  name: reports\n"
        "  namespace: finance-prod\n"
        "spec:\n"
        "  chart:\n"
        "    spec:\n"
        "      chart: ./chart\n"
        "      sourceRef: {kind: GitRepository, name: platform}\n"
        "  values:\n"
        "    image:\n"
        "      tag: latest\n"
    )
    repo = write_tree(tmp_path, {**CHART, "flux/reports.yaml": release})
    tags = _problems(_scan(repo), "LG-IMG-002")
    assert len(tags) == 1
    assert "value from flux/reports.yaml:13 (.Values.image.tag)" in tags[0].message


@needs_helm
def test_missing_dependencies_are_one_error_saying_how_to_vendor(tmp_path: Path) -> None:
    chart = dict(CHART)
    chart["chart/Chart.yaml"] += (
        "dependencies:\n  - name: postgresql\n    version: 16.x.x\n"
        "    repository: oci://registry-1.docker.io/bitnamicharts\n"
    )
    findings = _scan(write_tree(tmp_path, chart))
    errors = _problems(findings, "input/helm")
    assert len(errors) == 1
    assert errors[0].origin.path == "chart/Chart.yaml"
    assert "postgresql" in errors[0].message and "helm dependency build chart" in errors[0].message
    assert not [f for f in findings if f.origin.path.startswith("chart/templates/")]


@needs_helm
def test_template_failure_is_one_error(tmp_path: Path) -> None:
    chart = {**CHART, "chart/templates/broken.yaml": '{{ fail "values must set db.host" }}\n'}
    errors = _problems(_scan(write_tree(tmp_path, chart)), "input/helm")
    assert len(errors) == 1 and "values must set db.host" in errors[0].message


@needs_helm
def test_a_chart_cannot_read_files_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("password=from-outside-the-repo")
    chart = {
        **CHART,
        "chart/templates/leak.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\n"
            'data:\n  got: {{ .Files.Get "stolen.txt" | quote }}\n'
        ),
    }
    repo = write_tree(tmp_path / "repo", chart)
    os.symlink(tmp_path / "outside.txt", repo / "chart" / "stolen.txt")
    result = scan_repo(repo, Config(params=PROD))
    assert "from-outside" not in str([f.message for f in result.findings])
    assert not _problems(result.findings, "LG-SEC-004")


def test_without_a_helm_engine_each_chart_is_one_actionable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helm_render, "ENGINE_PACKAGE", "no_such_helm_engine")
    findings = _scan(write_tree(tmp_path, CHART))
    errors = _problems(findings, "input/helm")
    assert len(errors) == 1 and "pip install helm-python-sdk" in errors[0].message
    assert not [f for f in findings if f.origin.path.startswith("chart/templates/")]


def test_templated_yaml_outside_a_chart_is_an_input_template_error(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "deploy/app.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Values.name }}\n"
            ),
            "deploy/guarded.yaml": (
                "{{- if .Values.enabled }}\napiVersion: v1\nkind: Service\nmetadata:\n"
                "  name: svc\n{{- end }}\n"
            ),
            # Go templates as data are fine: block scalars, quoted and mid-scalar text.
            "deploy/alerts.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: alerts\ndata:\n"
                "  rule: |\n    {{ range .Alerts }}\n    {{ end }}\n"
                '  quoted: "{{ .x }}"\n  plain: Instance {{ $labels.instance }} down\n'
                '  multi: "first line\n    {{ .Name }} on the next line"\n'
            ),
        },
    )
    findings = _scan(repo)
    errors = sorted(
        (f.origin.path, f.origin.start_line) for f in _problems(findings, "input/template")
    )
    assert errors == [("deploy/app.yaml", 4), ("deploy/guarded.yaml", 1)]
    names = {f.resource.name for f in findings if f.resource is not None}
    assert names == {"alerts"}  # never an object named by a Python repr


LOCAL_DEP = {
    "charts-src/common/Chart.yaml": "apiVersion: v2\nname: common\nversion: 0.1.0\n",
    "charts-src/common/values.yaml": "worker:\n  image: busybox\n",
    "charts-src/common/templates/worker.yaml": (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: {{ .Release.Name }}-worker\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      automountServiceAccountToken: false\n"
        "      containers:\n"
        "        - name: worker\n"
        "          image: {{ .Values.worker.image }}\n"
    ),
}


@needs_helm
def test_a_local_file_dependency_inside_the_repo_is_rendered_with_its_parent(
    tmp_path: Path,
) -> None:
    chart = {**CHART, **LOCAL_DEP}
    chart["chart/Chart.yaml"] += (
        "dependencies:\n  - name: common\n    version: 0.1.0\n"
        "    repository: file://../charts-src/common\n"
    )
    findings = _scan(
        write_tree(tmp_path, chart), {"chart": HelmChartConfig(namespace="finance-prod")}
    )
    assert not _problems(findings, "input/helm")
    unpinned = [
        f
        for f in _problems(findings, "LG-IMG-001")
        if f.origin.rendered_from == "helm chart" and f.resource is not None
    ]
    # the subchart's object, rendered through the parent, points at the subchart's own file
    worker = [f for f in unpinned if f.resource is not None and f.resource.name == "reports-worker"]
    assert worker and worker[0].origin.path == "charts-src/common/templates/worker.yaml"
    assert [e.line for e in worker[0].evidence] == [11]


@needs_helm
def test_a_local_file_dependency_outside_the_repo_is_refused(tmp_path: Path) -> None:
    write_tree(
        tmp_path / "outside", {k.replace("charts-src/", ""): v for k, v in LOCAL_DEP.items()}
    )
    chart = dict(CHART)
    chart["chart/Chart.yaml"] += (
        "dependencies:\n  - name: common\n    version: 0.1.0\n"
        "    repository: file://../../outside/common\n"
    )
    findings = _scan(write_tree(tmp_path / "repo", chart))
    errors = _problems(findings, "input/helm")
    assert len(errors) == 1 and "leaves the repository; refused" in errors[0].message
    assert not [f for f in findings if f.resource is not None and "worker" in f.resource.name]


@needs_helm
def test_a_failing_render_does_not_echo_a_secret_value(tmp_path: Path) -> None:
    planted = "Zq8-planted-Db-Passw0rd-41x"
    chart = {
        **CHART,
        "chart/values.yaml": CHART["chart/values.yaml"] + f"db:\n  password: {planted}\n",
        "chart/templates/broken.yaml": (
            '{{ fail (printf "bad db password %s" .Values.db.password) }}\n'
        ),
    }
    result = scan_repo(write_tree(tmp_path, chart), Config(params=PROD))
    errors = _problems(result.findings, "input/helm")
    assert len(errors) == 1 and "bad db password" in errors[0].message
    assert planted not in str([(f.message, f.evidence) for f in result.findings])
