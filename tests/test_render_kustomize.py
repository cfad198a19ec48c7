"""Kustomize roots are rendered by the real ``kubectl kustomize`` and judged as deployed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from scanner.config import Config, RenderOptions, default_params
from scanner.model import Finding, Status
from scanner.pipeline import scan_repo

from .conftest import FIXTURE_REPOS, marker_lines, write_tree

pytestmark = pytest.mark.needs_tool("kubectl")

PROD = {**default_params(), "productionNamespaces": ["finance-prod"]}
DIGEST = "sha256:9b2e3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e84f1c7a"
BASE_DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger-api
spec:
  template:
    spec:
      serviceAccountName: ledger-api
      automountServiceAccountToken: false
      containers:
        - name: api
          image: registry.finance.internal/erp/ledger-api:3.2.0@{DIGEST}
          imagePullPolicy: IfNotPresent
"""
PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger-api
spec:
  template:
    spec:
      containers:
        - name: api
          image: docker.io/acme/ledger-api:hotfix
"""


def _overlay_repo(root: Path, overlay_extra: str = "", **extra: str) -> Path:
    return write_tree(
        root,
        {
            "base/kustomization.yaml": "resources: [deployment.yaml]\n",
            "base/deployment.yaml": BASE_DEPLOYMENT,
            "overlays/prod/kustomization.yaml": (
                "namespace: finance-prod\nresources: [../../base]\n"
                "patches:\n  - path: patch.yaml\n" + overlay_extra
            ),
            "overlays/prod/patch.yaml": PATCH,
            **extra,
        },
    )


def _scan(root: Path, **render: object) -> list[Finding]:
    config = Config(params=PROD, render=RenderOptions(**render))  # type: ignore[arg-type]
    return scan_repo(root, config).findings


def _problems(findings: list[Finding], rule: str | None = None) -> list[Finding]:
    return [
        f
        for f in findings
        if f.status in (Status.FAIL, Status.ERROR) and (rule is None or f.rule_id == rule)
    ]


def test_patch_violation_is_located_at_the_patch_line_and_names_the_overlay(
    tmp_path: Path,
) -> None:
    findings = _scan(_overlay_repo(tmp_path))
    pinned = _problems(findings, "LG-IMG-001")
    assert len(pinned) == 1
    finding = pinned[0]
    assert finding.resource is not None
    assert finding.resource.display() == "Deployment finance-prod/ledger-api"
    assert finding.origin.path == "overlays/prod/patch.yaml"
    assert finding.origin.rendered_from == "overlays/prod"
    assert [e.line for e in finding.evidence] == [10]  # `image:` in the patch
    assert finding.origin.display().startswith("overlays/prod → overlays/prod/patch.yaml:")


def test_field_no_patch_touched_is_located_in_the_base(tmp_path: Path) -> None:
    repo = _overlay_repo(tmp_path)
    (repo / "base/deployment.yaml").write_text(
        BASE_DEPLOYMENT.replace(
            "automountServiceAccountToken: false", "automountServiceAccountToken: true"
        ).replace("serviceAccountName: ledger-api", "serviceAccountName: default")
    )
    found = _problems(_scan(repo), "LG-RBAC-007")
    assert [(f.origin.path, f.origin.rendered_from) for f in found] == [
        ("base/deployment.yaml", "overlays/prod")
    ]
    assert [e.line for e in found[0].evidence] == [9]


def test_covered_raw_files_are_not_judged_again(tmp_path: Path) -> None:
    findings = _scan(_overlay_repo(tmp_path))
    raw = [
        f
        for f in findings
        if f.origin.path.startswith(("base/", "overlays/")) and not f.origin.rendered_from
    ]
    assert raw == []  # neither the base nor the loose patch fragment is judged on its own
    keys = [(f.rule_id, f.resource, f.origin.rendered_from) for f in findings]
    assert len(keys) == len(set(keys))


def test_inline_json6902_patch_is_located_at_its_operation(tmp_path: Path) -> None:
    repo = _overlay_repo(
        tmp_path,
        "  - target: {kind: Deployment, name: ledger-api}\n"
        "    patch: |-\n"
        "      - op: replace\n"
        "        path: /spec/template/spec/automountServiceAccountToken\n"
        "        value: true\n"
        "      - op: replace\n"
        "        path: /spec/template/spec/serviceAccountName\n"
        "        value: default\n",
    )
    found = _problems(_scan(repo), "LG-RBAC-007")
    assert len(found) == 1
    assert found[0].origin.path == "overlays/prod/kustomization.yaml"
    assert [e.line for e in found[0].evidence] == [7]  # the first `- op:` line


def test_secret_generator_literal_is_located_at_the_literal(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": (
                "namespace: finance-prod\n"
                "secretGenerator:\n"
                "  - name: ledger-db\n"
                "    literals:\n"
                "      - user=ledger\n"
                "      - password=Xk9#mQ2$vL7pR4wZ\n"
            ),
        },
    )
    found = _problems(_scan(repo), "LG-SEC-001")
    # the credential points at its own literal; the user name beside it is not a credential
    assert [(f.origin.path, sorted(e.line for e in f.evidence)) for f in found] == [
        ("app/kustomization.yaml", [6])
    ]
    assert all("Xk9#mQ2$vL7pR4wZ" not in f.message for f in found)


def test_failed_render_is_one_error_and_files_are_judged_raw(tmp_path: Path) -> None:
    repo = _overlay_repo(tmp_path)
    (repo / "overlays/prod/kustomization.yaml").write_text(
        "namespace: finance-prod\nresources: [../../base, missing.yaml]\n"
    )
    findings = _scan(repo)
    errors = _problems(findings, "input/kustomize")
    assert len(errors) == 1
    assert errors[0].origin.path == "overlays/prod/kustomization.yaml"
    assert "overlays/prod" in errors[0].message and "missing.yaml" in errors[0].message
    raw = {f.origin.path for f in findings if not f.origin.rendered_from}
    assert {"base/deployment.yaml", "overlays/prod/patch.yaml"} <= raw


def test_cycle_is_reported_once(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "a/kustomization.yaml": "resources: [../b]\n",
            "b/kustomization.yaml": "resources: [../a]\n",
        },
    )
    errors = _problems(_scan(repo), "input/kustomize")
    assert len(errors) == 1
    assert "cycle" in errors[0].message.lower()


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("github.com/acme/infra//base?ref=v1.2.0", "refused offline"),
        ("https://raw.githubusercontent.com/acme/x/main/deploy.yaml", "refused offline"),
    ],
)
def test_remote_bases_are_refused_offline(tmp_path: Path, entry: str, words: str) -> None:
    repo = write_tree(tmp_path, {"app/kustomization.yaml": f"resources:\n  - {entry}\n"})
    errors = _problems(_scan(repo), "input/kustomize")
    assert len(errors) == 1
    assert words in errors[0].message and "render.allowRemote" in errors[0].message


def test_helm_charts_in_a_kustomization_are_refused(tmp_path: Path) -> None:
    repo = write_tree(
        tmp_path,
        {
            "app/kustomization.yaml": (
                "helmCharts:\n  - name: redis\n    repo: https://charts.bitnami.com/bitnami\n"
            )
        },
    )
    errors = _problems(_scan(repo), "input/kustomize")
    assert len(errors) == 1 and "helmCharts" in errors[0].message


def test_a_kustomization_cannot_read_outside_the_repository(tmp_path: Path) -> None:
    outside = write_tree(
        tmp_path / "outside",
        {
            "kustomization.yaml": "resources: [secret.yaml]\n",
            "secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\n"
            "stringData: {password: from-outside}\n",
        },
    )
    repo = write_tree(
        tmp_path / "repo",
        {
            "dotdot/kustomization.yaml": "resources: [../../outside]\n",
            "viasymlink/kustomization.yaml": "resources: [link]\n",
        },
    )
    os.symlink(outside, repo / "viasymlink" / "link")
    findings = _scan(repo)
    errors = _problems(findings, "input/kustomize")
    assert sorted(f.origin.path for f in errors) == [
        "dotdot/kustomization.yaml",
        "viasymlink/kustomization.yaml",
    ]
    assert all("leaves the repository" in f.message for f in errors)
    assert not any(f.resource is not None and f.resource.name == "stolen" for f in findings)


def test_a_patch_symlinked_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text(PATCH)
    repo = _overlay_repo(tmp_path / "repo")
    (repo / "overlays/prod/patch.yaml").unlink()
    os.symlink(tmp_path / "outside.yaml", repo / "overlays/prod/patch.yaml")
    errors = _problems(_scan(repo), "input/kustomize")
    assert len(errors) == 1 and "leaves the repository" in errors[0].message


@pytest.mark.parametrize(
    ("options", "words"),
    [({"timeout_s": 0.001}, "timed out"), ({"max_output_bytes": 64}, "byte limit")],
)
def test_timeout_and_output_cap_fail_closed(
    tmp_path: Path, options: dict[str, object], words: str
) -> None:
    findings = _scan(_overlay_repo(tmp_path), **options)
    errors = _problems(findings, "input/kustomize")
    assert len(errors) == 1 and words in errors[0].message
    assert any(f.origin.path == "base/deployment.yaml" for f in findings)  # judged raw


def test_rendering_off_judges_files_raw(tmp_path: Path) -> None:
    findings = _scan(_overlay_repo(tmp_path), enabled=False)
    assert not any(f.origin.rendered_from for f in findings)
    assert any(f.origin.path == "base/deployment.yaml" for f in findings)


def test_fixture_overlay_findings_sit_exactly_on_the_marked_patch_lines() -> None:
    """Stricter than the repo-wide marker test: a rendered finding's field line is the mark."""
    from scanner.config import find_config, load_config

    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    result = scan_repo(repo, load_config(find_config(repo, None)))
    rendered = {
        (f.origin.path, f.rule_id): {e.line for e in f.evidence}
        for f in result.problems()
        if f.origin.rendered_from
    }
    patch = "apps/ledger-api/overlays/prod/deployment-patch.yaml"
    marks = [(p, r, line) for p, r, line in marker_lines(repo) if p == patch]
    assert len(marks) == 5
    for path, rule_id, line in marks:
        assert line in rendered.get((path, rule_id), set()), f"{path}:{line} {rule_id}"
    assert not any(p.startswith("apps/ledger-api/base/") for p, _ in rendered)


def test_one_base_rendered_by_two_overlays_gives_two_distinct_findings(tmp_path: Path) -> None:
    repo = _overlay_repo(tmp_path)
    shutil.copytree(repo / "overlays/prod", repo / "overlays/dr")
    found = _problems(_scan(repo), "LG-IMG-001")
    assert sorted(f.origin.rendered_from for f in found) == ["overlays/dr", "overlays/prod"]
    assert len({f.fingerprint for f in found}) == 2  # waivers and nightly diffs tell them apart


def test_a_failing_render_does_not_echo_a_generator_secret(tmp_path: Path) -> None:
    from scanner.config import load_config
    from scanner.pipeline import scan_repo

    planted = "Zq8plantedSecretValue41x"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"secretGenerator:\n  - name: db\n    literals: [{planted}]\n"
    )
    result = scan_repo(tmp_path, load_config(None))
    errors = [f for f in result.findings if f.rule_id == "input/kustomize"]
    assert len(errors) == 1 and "invalid literal source" in errors[0].message
    assert planted not in str([(f.message, f.evidence) for f in result.findings])


def test_kubectl_runs_with_a_bare_environment_and_the_go_collector_bounded_by_a_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build sees no CI credentials, and Go's proportional collector is off under a
    heap ceiling (a quarter of the corpus's kubectl CPU went to collecting garbage)."""
    real = shutil.which("kubectl")
    assert real is not None
    spy = tmp_path / "bin"
    spy.mkdir()
    seen = tmp_path / "env.txt"
    (spy / "kubectl").write_text(f'#!/bin/sh\nenv > "{seen}"\nexec "{real}" "$@"\n')
    (spy / "kubectl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{spy}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LEDGERGATE_TEST_CREDENTIAL", "not-for-children")
    findings = _scan(_overlay_repo(tmp_path / "repo"))
    assert any(f.origin.rendered_from == "overlays/prod" for f in findings)  # it rendered
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert env["GOGC"] == "off"
    assert env["GOMEMLIMIT"] == "128MiB"
    assert "LEDGERGATE_TEST_CREDENTIAL" not in env
    assert set(env) - {"PWD", "SHLVL", "_", "OLDPWD"} == {
        "PATH",
        "HOME",
        "LANG",
        "GOGC",
        "GOMEMLIMIT",
    }


def test_a_refused_roots_message_is_scrubbed_again_only_when_a_file_it_read_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kustomize's refusal is cached; scrubbing its message read and searched the root's
    files on every warm run. It is kept too, until any file the scrubbing read changes,
    one outside the root's folder (an env file it names) included."""
    from scanner import cache
    from scanner.config import load_config
    from scanner.sources.render import kustomize as kustomize_module

    planted = "Zq8plantedSecretValue41x"
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"secretGenerator:\n  - name: db\n    literals: [{planted}]\n    envs: [../shared.env]\n"
    )
    (repo / "shared.env").write_text("TOKEN=first\n")
    searched: list[int] = []
    real = kustomize_module.secrets_of_files

    def counted(paths: object, read_text: object) -> set[str]:
        searched.append(1)
        return real(paths, read_text)  # type: ignore[arg-type]

    monkeypatch.setattr(kustomize_module, "secrets_of_files", counted)

    def refusals() -> list[str]:
        result = scan_repo(repo, load_config(None))
        return [f.message for f in result.findings if f.rule_id == "input/kustomize"]

    cache.configure(tmp_path / "cache")
    try:
        first = refusals()
        assert len(first) == 1 and planted not in first[0]
        assert refusals() == first
        assert len(searched) == 1  # the second run read the scrubbed message back
        (repo / "shared.env").write_text("TOKEN=second\n")
        assert refusals() == first
        assert len(searched) == 2  # a file it had read changed: scrubbed again
    finally:
        cache.configure(None)


def test_entries_resolved_through_the_folder_memo_stay_where_realpath_puts_them(
    tmp_path: Path,
) -> None:
    """The graph resolves each entry's folder once; a symlinked folder or file, inside or
    pointing out of the repository, is judged exactly as a fresh realpath judges it."""
    from scanner.sources.render.kustomize import _inside

    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    (root / "apps" / "base").mkdir(parents=True)
    outside.mkdir()
    (root / "apps" / "base" / "deploy.yaml").write_text("kind: ConfigMap\n")
    (outside / "leak.yaml").write_text("kind: Secret\n")
    (root / "apps" / "out").symlink_to(outside)  # a folder leading out
    (root / "apps" / "in").symlink_to(root / "apps" / "base")  # a folder staying in
    (root / "apps" / "base" / "leak.yaml").symlink_to(outside / "leak.yaml")  # a file out
    (root / "apps" / "base" / "same.yaml").symlink_to("deploy.yaml")  # a file in
    rels = [
        "apps/base/deploy.yaml",
        "apps/base/leak.yaml",
        "apps/base/same.yaml",
        "apps/out/leak.yaml",
        "apps/out",
        "apps/in/deploy.yaml",
        "apps/in/leak.yaml",
        "apps/in",
        "apps/missing/x.yaml",
        ".",
        "../outside/leak.yaml",
    ]
    memo: dict[str, str] = {}
    for _ in range(2):  # the second pass answers folders from the memo
        judged = {rel: _inside(root, rel, memo) for rel in rels}
        assert judged == {rel: _inside(root, rel) for rel in rels}
    assert not judged["apps/base/leak.yaml"] and not judged["apps/out/leak.yaml"]
    assert not judged["apps/in/leak.yaml"] and not judged["apps/out"]
    assert judged["apps/in/deploy.yaml"] and judged["apps/base/same.yaml"]


def test_a_file_larger_than_one_read_hashes_to_its_whole_content(tmp_path: Path) -> None:
    """Render keys read a large file 4 MiB at a time: its digest is still that of every
    byte, and one changed byte past the first read changes it."""
    import hashlib

    from scanner.sources.render.cached import TreeHasher

    data = bytes(range(256)) * (9 * 4096)  # 9 MiB: three reads
    (tmp_path / "big.yaml").write_bytes(data)
    assert TreeHasher(tmp_path).file("big.yaml") == hashlib.sha256(data).digest()
    (tmp_path / "big.yaml").write_bytes(data[:-1] + b"x")
    assert TreeHasher(tmp_path).file("big.yaml") != hashlib.sha256(data).digest()


def test_a_scrub_that_read_a_file_outside_the_repository_is_never_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused root whose generator names an env file above the repository: that file
    is never hashed, so its scrubbed message is not kept and each run scrubs again."""
    from scanner import cache
    from scanner.config import load_config
    from scanner.sources.render import kustomize as kustomize_module

    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "secretGenerator:\n  - name: db\n    envs: [../../outside.env]\n"
    )
    (tmp_path / "outside.env").write_text("TOKEN=outside\n")
    searched: list[int] = []
    real = kustomize_module.secrets_of_files

    def counted(paths: object, read_text: object) -> set[str]:
        searched.append(1)
        return real(paths, read_text)  # type: ignore[arg-type]

    monkeypatch.setattr(kustomize_module, "secrets_of_files", counted)
    cache.configure(tmp_path / "cache")
    try:
        for _ in range(2):
            result = scan_repo(repo, load_config(None))
            assert [f for f in result.findings if f.rule_id == "input/kustomize"]
        assert len(searched) == 2
    finally:
        cache.configure(None)
