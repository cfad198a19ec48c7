"""Rendering on the shared corpus of real repositories: asserted by identity, not totals."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from scanner.config import Config, RenderOptions, default_params
from scanner.findings import ScanResult
from scanner.model import Finding, Resource, Status
from scanner.pipeline import scan_repo
from scanner.sources.render import render_repo
from scanner.sources.repo import RepoSource, list_files

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
needs_helm = pytest.mark.skipif(find_spec("helm_python") is None, reason="needs helm-python-sdk")

Unpack = Callable[[str], Path]


@pytest.fixture(scope="module")
def unpack(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Unpack:
    """The repository root of one unpacked archive of the corpus."""
    return lambda name: corpus / name / name


def _scan(root: Path) -> ScanResult:
    return scan_repo(root, Config(params=default_params()))


def _rendered(root: Path) -> list[Resource]:
    items = RepoSource(root).collect()
    return [i for i in items if isinstance(i, Resource) and i.origin.rendered_from]


def _each_failure_once(findings: list[Finding]) -> Counter[str]:
    failures = Counter(
        f.origin.path for f in findings if f.rule_id in ("input/kustomize", "input/helm")
    )
    assert all(n == 1 for n in failures.values()), failures
    return failures


def _no_duplicates(findings: list[Finding]) -> None:
    keys = Counter(
        (f.rule_id, f.resource, f.origin.rendered_from, f.origin.path, f.status)
        for f in findings
        if f.resource is not None
    )
    assert [k for k, n in keys.items() if n > 1] == []


def test_kubeflow_overlay_patch_line_and_both_overlays(unpack: Unpack) -> None:
    root = unpack("kubeflow-manifests") / "applications" / "profiles" / "upstream"
    result = _scan(root)
    registry = [
        f
        for f in result.problems()
        if f.rule_id == "LG-IMG-003" and f.resource and f.resource.name == "profiles-deployment"
    ]
    by_overlay = {f.origin.rendered_from: f for f in registry}
    assert set(by_overlay) == {"overlays/kubeflow", "overlays/standalone"}
    kfam = by_overlay["overlays/kubeflow"]
    assert kfam.resource is not None and kfam.resource.namespace == "kubeflow"
    assert kfam.origin.path == "overlays/kubeflow/patches/kfam.yaml"
    assert kfam.evidence[0].line == 26  # `image: ghcr.io/kubeflow/kubeflow/kfam` in the patch
    standalone = by_overlay["overlays/standalone"]
    assert standalone.resource is not None and standalone.resource.namespace == "profiles-system"
    assert standalone.origin.path == "manager/manager.yaml"  # no patch touched the image there
    # manager.yaml is covered by the renders: never judged raw as well
    assert not [
        f
        for f in result.findings
        if f.origin.path == "manager/manager.yaml" and not f.origin.rendered_from
    ]
    _no_duplicates(result.findings)
    _each_failure_once(result.findings)


def test_kubeflow_failed_overlays_are_reported_once_and_judged_raw(unpack: Unpack) -> None:
    # The corpus keeps text files only, so base/kubeflow-logo.svg (a configMapGenerator
    # file) is missing and every overlay over that base fails to render.
    root = unpack("kubeflow-manifests") / "common" / "oauth2-proxy"
    result = _scan(root)
    failures = _each_failure_once(result.findings)
    assert set(failures) == {
        f"overlays/{name}/kustomization.yaml"
        for name in ("m2m-dex-and-eks", "m2m-dex-and-kind", "m2m-dex-only")
    }
    messages = [f.message for f in result.findings if f.rule_id == "input/kustomize"]
    assert all("base/kubeflow-logo.svg" in m for m in messages)
    raw = {f.origin.path for f in result.findings if f.resource and not f.origin.rendered_from}
    assert "base/deployment.yaml" in raw  # below a failed render: judged as written


def test_kubeflow_remote_bases_are_refused_offline(unpack: Unpack) -> None:
    root = unpack("kubeflow-manifests") / "applications" / "training-operator" / "upstream"
    result = _scan(root)
    failures = _each_failure_once(result.findings)
    refused = [
        f
        for f in result.findings
        if f.rule_id == "input/kustomize" and "refused offline" in f.message
    ]
    assert {f.origin.path for f in refused} >= {"v2/overlays/standalone/kustomization.yaml"}
    assert set(failures) >= {f.origin.path for f in refused}


def test_flux_example_overlays_render_patched_helmreleases(unpack: Unpack) -> None:
    root = unpack("flux2-kustomize-helm-example")
    out = render_repo(root, list_files(root), RenderOptions(), lambda p: (root / p).read_text())
    assert out.problems == []
    releases = {
        (o.origin.rendered_from, o.body["metadata"]["namespace"], o.body["metadata"]["name"]): o
        for o in out.objects
        if o.body["kind"] == "HelmRelease"
    }
    assert ("apps/production", "podinfo", "podinfo") in releases
    assert ("apps/staging", "podinfo", "podinfo") in releases
    prod = releases[("apps/production", "podinfo", "podinfo")]
    assert prod.body["spec"]["values"]["httpRoute"]["hostnames"] == ["podinfo.production"]
    where = prod.fields.where("spec.values.httpRoute.hostnames")
    assert where is not None and (where.path, where.line) == (
        "apps/production/podinfo-values.yaml",
        12,
    )
    base = prod.fields.where("spec.interval")
    assert base is not None and base.path == "apps/base/podinfo/release.yaml"
    assert "apps/base/podinfo/release.yaml" in out.covered


def test_home_ops_bootstrap_secret_located_in_its_file(unpack: Unpack) -> None:
    root = unpack("home-ops")
    result = _scan(root)
    judged = {
        (f.origin.rendered_from, f.origin.path, f.status)
        for f in result.findings
        if f.rule_id == "LG-SEC-001" and f.resource
        if f.resource.name == "onepassword-connect-credentials-secret"
    }
    # rendered from the overlay, located in its own file; its data are op:// references
    # to 1Password (addresses of secrets, not values), so the rule passes
    assert judged == {
        (
            "bootstrap/kustomize/personal",
            "bootstrap/kustomize/personal/external-secrets/secret.yaml",
            Status.PASS,
        )
    }
    _no_duplicates(result.findings)
    _each_failure_once(result.findings)


@needs_helm
def test_argo_cd_install_rendered_and_unvendored_chart_is_one_error(unpack: Unpack) -> None:
    root = unpack("argo-cd-manifests")
    result = _scan(root)
    servers = {
        (f.origin.rendered_from, f.resource.namespace, f.origin.path)
        for f in result.findings
        if f.resource and f.resource.kind == "Deployment" and f.resource.name == "argocd-server"
    }
    # cluster-install is a base of cluster-install-with-hydrator, itself a base of dev-tilt:
    # only the root is rendered, once
    assert (
        "manifests/dev-tilt",
        "argocd",
        "manifests/base/server/argocd-server-deployment.yaml",
    ) in servers
    assert not {"manifests/cluster-install", "manifests/cluster-install-with-hydrator"} & {
        rendered for rendered, _, _ in servers
    }
    charts = [f for f in result.findings if f.rule_id == "input/helm"]
    assert [(f.origin.path, "helm dependency build" in f.message) for f in charts] == [
        ("manifests/ha/base/redis-ha/chart/Chart.yaml", True)
    ]
    assert not [f for f in result.findings if f.rule_id == "input/helm-template"]
    _each_failure_once(result.findings)
    _no_duplicates(result.findings)


@needs_helm
def test_traefik_chart_rendered_and_mapped_to_its_pod_template(unpack: Unpack) -> None:
    root = unpack("traefik-helm-chart")
    result = _scan(root)
    assert not [f for f in result.findings if f.rule_id.startswith("input/helm")]
    registry = [f for f in result.problems() if f.rule_id == "LG-IMG-003"]
    assert len(registry) == 1
    finding = registry[0]
    assert (
        finding.resource is not None and finding.resource.display() == "Deployment default/traefik"
    )
    assert finding.origin.rendered_from == "helm traefik"
    assert finding.origin.path == "traefik/templates/_podtemplate.tpl"
    line = (root / finding.origin.path).read_text().splitlines()[finding.evidence[0].line - 1]
    assert line.strip().startswith("- image:")


@needs_helm
def test_bitnami_charts_without_vendored_dependencies_are_one_error_each(unpack: Unpack) -> None:
    root = unpack("bitnami-odoo-stack")
    result = _scan(root)
    errors = [f for f in result.findings if f.status is Status.ERROR]
    assert sorted(f.origin.path for f in errors) == [
        "bitnami/odoo/Chart.yaml",
        "bitnami/postgresql/Chart.yaml",
        "bitnami/redis/Chart.yaml",
    ]
    assert all("helm dependency build" in f.message and "common" in f.message for f in errors)
