"""Every overlay of the nightly audit, rendered by the real ``kubectl kustomize``: pinned
image, no shell, exit behaviour, egress, sizing, and Ledgergate's own rules pass on it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.config import load_config
from scanner.model import Status
from scanner.pipeline import scan_repo
from tests.test_nightly_audit import DEPLOY, _render

TREES = ["base", *sorted(f"overlays/{p.name}" for p in (DEPLOY / "overlays").iterdir())]
DIGEST = re.compile(r"^registry\.finance\.internal/ledgergate/scanner@sha256:[0-9a-f]{64}$")
API_AND_DNS = {"10.0.0.1/32", "169.254.20.10/32"}
#: Egress each overlay adds beyond DNS and the API server (placeholder ranges).
EXTRA_EGRESS = {
    "base": set(),
    "overlays/with-secret-metadata": set(),
    "overlays/with-images": {"192.0.2.0/28", "pushgateway"},
    "overlays/external-key": {"192.0.2.16/28", "192.0.2.32/28", "192.0.2.80/28", "pushgateway"},
    "overlays/keyless-sigstore": {"192.0.2.48/28", "192.0.2.32/28", "192.0.2.80/28", "pushgateway"},
    "overlays/pkcs11-hsm": {"192.0.2.64/28", "192.0.2.32/28", "192.0.2.80/28", "pushgateway"},
}
#: Overlays with components/evidence-store: bundles go to S3 under Object Lock, not the PVC.
EVIDENCE_S3 = {"overlays/external-key", "overlays/keyless-sigstore", "overlays/pkcs11-hsm"}
S3_EVIDENCE = "--evidence=s3://finance-audit-evidence/ledgergate/nightly/"
TOKEN_DIR = "/var/run/secrets/sts.amazonaws.com/serviceaccount"
#: The HSM vendor's PKCS#11 client image (pkcs11-hsm overlay's init container), by digest.
HSM_CLIENT = re.compile(r"^registry\.finance\.internal/hsm/pkcs11-client@sha256:[0-9a-f]{64}$")


def render(tree: str) -> list[dict[str, Any]]:
    return _render(DEPLOY / tree)


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    job = next(d for d in docs if d["kind"] == "CronJob")
    return job["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_every_overlay_is_covered() -> None:
    assert set(TREES) == set(EXTRA_EGRESS)


@pytest.mark.parametrize("tree", TREES)
def test_image_is_pinned_by_digest(tree: str) -> None:
    pod = _pod(render(tree))
    images = [c["image"] for c in pod["containers"]]
    assert images and all(DIGEST.match(i) for i in images), images
    init = [c["image"] for c in pod.get("initContainers", [])]
    assert all(HSM_CLIENT.match(i) for i in init), init


@pytest.mark.parametrize("tree", TREES)
def test_exit_behaviour_and_schedule(tree: str) -> None:
    docs = render(tree)
    job = next(d for d in docs if d["kind"] == "CronJob")["spec"]
    assert job["concurrencyPolicy"] == "Forbid"
    assert 0 < job["startingDeadlineSeconds"] <= 3600
    container = _pod(docs)["containers"][0]
    # no shell anywhere: the image's entrypoint, Debian's interpreter run as an exec
    assert container["command"] == ["/usr/bin/python3", "-I", "-B", "-m", "scanner"]
    assert not any(a in ("sh", "/bin/sh", "-c", "bash") for a in container["args"])
    assert "--fail-on=none" in container["args"]  # findings do not make the job red
    evidence = [a for a in container["args"] if a.startswith("--evidence")]
    local = "--evidence=/evidence/bundles/{date}-{run_id}.zip"
    assert evidence == [S3_EVIDENCE if tree in EVIDENCE_S3 else local]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["ledgergate.yaml"]
    assert yaml.safe_load(config)["requireInputs"] == ["images"]  # the nightly base requires it
    assert "--config=/etc/ledgergate/ledgergate.yaml" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["LEDGERGATE_RUN_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    policy = job["jobTemplate"]["spec"]["podFailurePolicy"]["rules"]
    assert policy == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "scan", "operator": "In", "values": [2, 3]},
        }
    ]


@pytest.mark.parametrize("tree", TREES)
def test_network_policy_allows_only_what_the_overlay_needs(tree: str) -> None:
    docs = render(tree)
    policy = next(
        d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] != "default-deny"
    )["spec"]
    assert policy["ingress"] == []
    found: set[str] = set()
    for rule in policy["egress"]:
        for peer in rule["to"]:
            if "ipBlock" in peer:
                found.add(peer["ipBlock"]["cidr"])
            elif peer.get("podSelector", {}).get("matchLabels", {}).get("k8s-app") == "kube-dns":
                found.add("kube-dns")
            elif "pushgateway" in str(peer):
                found.add("pushgateway")
    assert found == API_AND_DNS | {"kube-dns"} | EXTRA_EGRESS[tree]
    dns = next(r for r in policy["egress"] if {"protocol": "UDP", "port": 53} in r["ports"])
    assert {"ipBlock": {"cidr": "169.254.20.10/32"}} in dns["to"]  # NodeLocal DNSCache


@pytest.mark.parametrize("tree", TREES)
def test_sizing_and_volumes(tree: str) -> None:
    pod = _pod(render(tree))
    for volume in pod["volumes"]:
        if "emptyDir" in volume:
            assert volume["emptyDir"].get("sizeLimit"), volume
    container = pod["containers"][0]
    # sized from the measured 50k-object peak (3,773 MiB, bench/bench_cluster.py)
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["resources"]["requests"]["memory"] == "1536Mi"
    assert container["resources"]["limits"]["cpu"] == "2"  # workers follow this quota
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    secrets = [v for v in pod["volumes"] if "secret" in v]
    # the signing key is never a Secret of the audited cluster; only the HSM partition PIN
    # is (the key stays in the HSM)
    assert [v["secret"]["secretName"] for v in secrets] == (
        ["ledgergate-hsm-pin"] if tree == "overlays/pkcs11-hsm" else []
    )


@pytest.mark.parametrize("tree", TREES)
def test_s3_evidence_uses_web_identity_and_a_sized_spool(tree: str) -> None:
    """The upload authenticates with a projected token for STS (never a static key), and
    builds the bundle in TMPDIR on an emptyDir of its own, sized for the bundle."""
    pod = _pod(render(tree))
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)
    assert "envFrom" not in container
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    spool = volumes[mounts[env["TMPDIR"]]]
    assert spool["emptyDir"]["sizeLimit"]
    if tree not in EVIDENCE_S3:
        assert env["TMPDIR"] == "/tmp" and not any(k.startswith("AWS_") for k in env)
        return
    assert spool["emptyDir"]["sizeLimit"] == "1Gi" and env["TMPDIR"] != "/tmp"
    assert env["AWS_ROLE_ARN"].startswith("arn:aws:iam::") and env["AWS_REGION"]
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == f"{TOKEN_DIR}/token"
    token = volumes[mounts[TOKEN_DIR]]["projected"]["sources"]
    assert token == [
        {
            "serviceAccountToken": {
                "audience": "sts.amazonaws.com",
                "expirationSeconds": 3600,
                "path": "token",
            }
        }
    ]
    storage = container["resources"]["limits"]["ephemeral-storage"]
    assert storage == "2Gi"  # /tmp (256Mi) and the spool (1Gi) fit in it


def test_signing_overlays_sign_without_a_kubernetes_secret() -> None:
    key = _pod(render("overlays/external-key"))
    assert "--sign-key=/var/run/ledgergate/signing/signing-key.pem" in key["containers"][0]["args"]
    csi = next(v for v in key["volumes"] if v["name"] == "signing-key")["csi"]
    assert csi["driver"] == "secrets-store.csi.k8s.io"
    keyless = _pod(render("overlays/keyless-sigstore"))
    assert "--sign-sigstore" in keyless["containers"][0]["args"]


@pytest.mark.parametrize("tree", TREES)
def test_ledgergate_passes_its_own_rules_as_production(tree: str, tmp_path: Path) -> None:
    """Dogfood: the rendered manifests, with the `ledgergate` namespace counted as production."""
    docs = render(tree)
    (tmp_path / "rendered.yaml").write_text(yaml.safe_dump_all(docs))
    (tmp_path / "ledgergate.yaml").write_text(
        'params:\n  productionNamespaces: ["ledgergate"]\n'
        '  nonProductionNamespaces: ["velero"]\n'  # Velero's own namespace holds its Schedule
        'rules:\n  exclude: ["LG-IMG-05*"]\n'  # image contents need a registry
    )
    result = scan_repo(tmp_path, load_config(tmp_path / "ledgergate.yaml"))
    judged = {f.resource.name for f in result.findings if f.resource and f.status is Status.PASS}
    assert {"ledgergate", "ledgergate-nightly-audit", "scanner"} <= judged
    problems = {(f.rule_id, f.resource.name if f.resource else "") for f in result.problems()}
    # The opt-in overlay lists Secrets (the scanner asks for metadata only, which RBAC cannot
    # express): that grant is exactly the finding an auditor must see, and nothing else.
    expected = (
        {("LG-RBAC-005", "ledgergate-scanner")} if tree.endswith("secret-metadata") else set()
    )
    assert problems == expected
    assert any(f.rule_id == "LG-BAK-002" and f.status is Status.PASS for f in result.findings), (
        "the evidence namespace is backed up"
    )
