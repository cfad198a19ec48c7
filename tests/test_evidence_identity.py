"""Who ran the scan: the cluster's SelfSubjectReview is authenticated; the environment is not."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.cli.cluster import cluster
from tests.kubeapi.fixtures import LIMITED_TOKEN, LIMITED_USER, SCANNER_USER, KubeTarget
from tests.kubeapi.server import SELF_SUBJECT_REVIEWS, FixtureApiServer

from .conftest import FIXTURE_REPOS, ROOT

FORGED_CI = {
    "LEDGERGATE_USER": "mallory",
    "GITHUB_RUN_ID": "42",
    "GITHUB_REPOSITORY": "finance/made-up",
}


def _audit(kubeconfig: Path, out: Path) -> dict:  # type: ignore[type-arg]
    args = ["--kubeconfig", str(kubeconfig), "--evidence", str(out), "--format", "json"]
    res = CliRunner().invoke(cluster, args, catch_exceptions=False)
    assert res.exit_code in (0, 1, 4), res.output  # 4: the limited account cannot read all
    return json.loads((out / "manifest.json").read_text())


def test_cluster_identity_comes_from_self_subject_review(
    kube_server: FixtureApiServer,
    kube_target: KubeTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in FORGED_CI.items():
        monkeypatch.setenv(name, value)
    manifest = _audit(kube_target.kubeconfig, tmp_path / "b")
    claims = manifest["identity"]["claims"]
    assert claims["cluster"]["value"] == SCANNER_USER
    assert claims["cluster"]["assurance"] == "authenticated"
    assert claims["cluster"]["source"] == "SelfSubjectReview"
    assert "system:serviceaccounts:ledgergate" in claims["cluster"]["groups"]
    # What the environment says is recorded, but never as authenticated.
    assert claims["operator"] == {
        "value": "mallory",
        "source": "environment",
        "assurance": "asserted",
    }
    assert claims["ci"]["runId"] == "42" and claims["ci"]["assurance"] == "asserted"
    assert any(r.method == "POST" and r.path == SELF_SUBJECT_REVIEWS for r in kube_server.log)
    html = (tmp_path / "b" / "report.html").read_text()
    assert f'cluster <span class="mono">{SCANNER_USER}</span> (authenticated by' in html
    assert 'id="identity-asserted"' in html

    limited = kube_target.kubeconfig_for(LIMITED_TOKEN, "limited")
    claims = _audit(limited, tmp_path / "c")["identity"]["claims"]
    assert claims["cluster"]["value"] == LIMITED_USER


def test_kubectl_agrees_with_the_fixture_self_subject_review(kube_target: KubeTarget) -> None:
    kube_target.need_server()
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("needs kubectl")
    done = subprocess.run(
        [kubectl, "--kubeconfig", str(kube_target.kubeconfig), "auth", "whoami", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"]["userInfo"]["username"] == SCANNER_USER


def test_a_cluster_without_self_subject_review_leaves_identity_asserted(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    kube_server.api.authz.no_self_review = True
    try:
        claim = _audit(kube_target.kubeconfig, tmp_path / "b")["identity"]["claims"]["cluster"]
    finally:
        kube_server.api.authz.no_self_review = False
    assert claim["assurance"] == "asserted" and claim["value"] == ""
    assert "404" in claim["error"] or "NotFound" in claim["error"]


def test_scanner_identity_is_the_digest_of_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("LEDGERGATE_IMAGE_DIGEST", "sha256:" + "ab" * 32)
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    from scanner.evidence.identity import scanner_identity

    scanner_identity.cache_clear()
    out = tmp_path / "b"
    CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(out)])
    scanner = json.loads((out / "manifest.json").read_text())["identity"]["scanner"]
    package = ROOT / "scanner"
    lines = "".join(
        f"{p.relative_to(package).as_posix()}\x1f{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
        for p in sorted(package.rglob("*.py"))
    )
    assert scanner["codeSha256"] == hashlib.sha256(lines.encode()).hexdigest()
    assert scanner["imageDigest"] == {"value": "sha256:" + "ab" * 32, "assurance": "asserted"}
    scanner_identity.cache_clear()
