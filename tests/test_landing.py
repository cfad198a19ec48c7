"""Where each object lands when a folder is read raw: kustomization semantics, GitOps
destinations, and duplicate objects (kubectl applies the last)."""

from __future__ import annotations

import base64
from pathlib import Path

from scanner.config import default_params
from scanner.inventory import Inventory
from scanner.model import Resource
from scanner.rbac import analyze
from scanner.sources.base import Skipped
from scanner.sources.repo import RepoSource

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _resources(root: Path) -> dict[tuple[str, str], list[str]]:
    """(kind, name) -> namespaces of the resources the repo source yields."""
    found: dict[tuple[str, str], list[str]] = {}
    for item in RepoSource(root).collect():
        if isinstance(item, Resource):
            found.setdefault((item.ref.kind, item.ref.name), []).append(item.ref.namespace)
    return found


def _cm(name: str, namespace: str = "") -> str:
    ns = f", namespace: {namespace}" if namespace else ""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}{ns}}}\n"


def test_kustomization_namespace_overrides_an_explicit_one(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "app/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-prod\nresources: [cm.yaml]\n",
            "app/cm.yaml": _cm("a", "default"),
        },
    )
    assert _resources(tmp_path)[("ConfigMap", "a")] == ["finance-prod"]


def test_outermost_kustomization_wins_and_shared_bases_land_in_each_overlay(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "base/kustomization.yaml": KUSTOMIZATION + "namespace: base-ns\nresources: [cm.yaml]\n",
            "base/cm.yaml": _cm("a"),
            "prod/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-prod\nresources: [../base]\n",
            "dev/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-dev\nresources: [../base]\n",
        },
    )
    assert _resources(tmp_path)[("ConfigMap", "a")] == ["finance-dev", "finance-prod"]


def test_resources_without_yaml_suffix_and_patch_files_are_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "app/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-prod\nresources: [manifest.txt]\n"
            + "patches:\n  - path: patch.json\n",
            "app/manifest.txt": _cm("plain-text"),
            "app/patch.json": '{"apiVersion": "v1", "kind": "ConfigMap",'
            ' "metadata": {"name": "p"}}',
        },
    )
    found = _resources(tmp_path)
    assert found[("ConfigMap", "plain-text")] == ["finance-prod"]
    assert found[("ConfigMap", "p")] == ["finance-prod"]


def test_generator_literal_password_is_a_secret_in_the_repo(tmp_path: Path) -> None:
    from scanner.config import load_config
    from scanner.pipeline import scan_repo

    _write(
        tmp_path,
        {
            "app/kustomization.yaml": KUSTOMIZATION
            + "namespace: finance-prod\nsecretGenerator:\n"
            + "  - name: db\n    literals: [password=Sup3r-S3cret-Value]\n"
            + "configMapGenerator:\n  - name: env\n    envs: [app.env]\n",
            "app/app.env": "# comment\nMODE=prod\n",
        },
    )
    from scanner.config import RenderOptions

    # read raw (as when no render covers the folder): the generator's own line
    raw = RepoSource(tmp_path, render=RenderOptions(enabled=False))
    items = [i for i in raw.collect() if isinstance(i, Resource)]
    secret = next(r for r in items if r.ref.kind == "Secret")
    config = next(r for r in items if r.ref.kind == "ConfigMap")
    assert secret.ref.namespace == "finance-prod" and secret.origin.start_line == 5
    assert base64.b64decode(secret.body["data"]["password"]) == b"Sup3r-S3cret-Value"
    assert config.body["data"] == {"MODE": "prod"}
    result = scan_repo(tmp_path, load_config(None))
    # rendered by kubectl kustomize: the finding still names the kustomization, and its
    # evidence the literal's own line (6; the generator entry starts on 5)
    failed = {
        (f.rule_id, f.origin.path, e.line) for f in result.problems() for e in f.evidence if e.line
    }
    assert ("LG-SEC-001", "app/kustomization.yaml", 6) in failed
    assert "Sup3r-S3cret-Value" not in str([f.message for f in result.findings])


def test_an_object_without_namespace_is_unset_not_default(tmp_path: Path) -> None:
    _write(tmp_path, {"cm.yaml": _cm("a")})
    assert _resources(tmp_path)[("ConfigMap", "a")] == [""]


def test_argo_application_destination_is_a_default(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "argo/app.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
            "metadata: {name: erp, namespace: argocd}\n"
            "spec:\n  source: {repoURL: 'https://git.example/erp', path: apps/erp}\n"
            "  destination: {server: 'https://kubernetes.default.svc', namespace: finance-prod}\n",
            "apps/erp/cm.yaml": _cm("a"),
            "apps/erp/sub/own.yaml": _cm("b", "finance-staging"),
        },
    )
    found = _resources(tmp_path)
    assert found[("ConfigMap", "a")] == ["finance-prod"]
    assert found[("ConfigMap", "b")] == ["finance-staging"]


def test_application_set_git_directories_fill_in_the_basename(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "argo/set.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n"
            "metadata: {name: teams}\nspec:\n"
            "  generators:\n  - git: {repoURL: x, directories: [{path: 'teams/*'}]}\n"
            "  template:\n    spec:\n      source: {repoURL: x, path: '{{path}}'}\n"
            "      destination: {namespace: '{{path.basename}}'}\n",
            "teams/ledger-prod/cm.yaml": _cm("a"),
        },
    )
    assert _resources(tmp_path)[("ConfigMap", "a")] == ["ledger-prod"]


def test_flux_target_namespace_overrides(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "clusters/ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
            "metadata: {name: erp, namespace: flux-system}\n"
            "spec: {path: ./apps/erp, targetNamespace: finance-prod,"
            " sourceRef: {kind: GitRepository, name: r}}\n",
            "apps/erp/cm.yaml": _cm("a", "elsewhere"),
        },
    )
    assert _resources(tmp_path)[("ConfigMap", "a")] == ["finance-prod"]


def test_duplicate_object_kubectl_applies_the_last(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "cm.yaml": _cm("a", "ns")
            + "data: {v: first}\n---\n"
            + _cm("a", "ns")
            + "data: {v: last}\n"
        },
    )
    items = list(RepoSource(tmp_path).collect())
    resources = [i for i in items if isinstance(i, Resource)]
    assert [r.body["data"]["v"] for r in resources] == ["last"]
    (skipped,) = [i for i in items if isinstance(i, Skipped) and "duplicate" in i.reason]
    assert skipped.origin.start_line == 1 and "cm.yaml:6" in skipped.reason


def test_separation_of_duties_uses_the_applied_binding(tmp_path: Path) -> None:
    binding = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n"
        "metadata: {{name: b, namespace: finance-prod}}\n"
        "roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\n"
        "subjects: [{{kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}}]\n"
    )
    _write(
        tmp_path, {"rb.yaml": binding.format(role="admin") + "---\n" + binding.format(role="view")}
    )
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    (report,) = [
        s for s in analyze(inventory, default_params()).subjects if s.subject.name == "jane"
    ]
    assert "deploy-to-production" not in [d.name for d in report.duties]
