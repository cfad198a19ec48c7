"""The nightly audit's PKCS#11 overlay signs with a key that never leaves the HSM (#15):
its ``--sign-key`` URI, module and PIN mounts, rendered by the real ``kubectl kustomize``,
drive the real signer against a SoftHSM2 token laid out as the pod would see it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from scanner.cli import cli
from scanner.evidence.keys import load_signer
from scanner.evidence.pkcs11key import Pkcs11Uri

from .conftest import FIXTURE_REPOS
from .softhsm import MODULE, PIN, softhsm_token
from .test_nightly_deploy import _pod, render

OVERLAY = "overlays/pkcs11-hsm"


def _sign_key(pod: dict[str, Any]) -> str:
    (arg,) = [a for a in pod["containers"][0]["args"] if a.startswith("--sign-key=")]
    return arg.removeprefix("--sign-key=")


def _mount(pod: dict[str, Any], volume: str) -> str:
    mounts = pod["containers"][0]["volumeMounts"]
    return next(m["mountPath"] for m in mounts if m["name"] == volume)


def test_the_overlay_names_the_module_token_key_and_pin_file_it_mounts() -> None:
    pod = _pod(render(OVERLAY))
    uri = Pkcs11Uri.parse(_sign_key(pod))
    assert uri.path == {"token": "ledgergate-evidence", "object": "evidence-signer"}
    module = uri.module()
    assert module.startswith(_mount(pod, "pkcs11-module") + "/")
    init = pod["initContainers"][0]
    assert init["command"][0] == "cp" and init["volumeMounts"][0]["name"] == "pkcs11-module"
    pin = uri.query["pin-source"].removeprefix("file:")
    volume = next(v for v in pod["volumes"] if v["name"] == "hsm-pin")["secret"]
    assert pin == _mount(pod, "hsm-pin") + "/" + volume["items"][0]["path"]
    assert volume["secretName"] == "ledgergate-hsm-pin" and volume["defaultMode"] == 0o440
    assert "pin-value" not in _sign_key(pod)


def test_the_overlays_sign_key_signs_with_a_token_laid_out_like_the_pod(tmp_path: Path) -> None:
    pkcs11 = pytest.importorskip("pkcs11")
    pod = _pod(render(OVERLAY))
    spec = _sign_key(pod)
    uri = Pkcs11Uri.parse(spec)
    with softhsm_token(tmp_path / "hsm", uri.path["token"]):
        # the pod's filesystem under tmp_path: the vendor module and the mounted PIN file
        module = tmp_path / uri.module().lstrip("/")
        module.parent.mkdir(parents=True)
        shutil.copy(MODULE, module)
        pin = tmp_path / uri.query["pin-source"].removeprefix("file:").lstrip("/")
        pin.parent.mkdir(parents=True)
        pin.write_text(PIN + "\n")
        local = spec.replace(uri.module(), str(module))
        local = local.replace(uri.query["pin-source"], f"file:{pin}")
        session = pkcs11.lib(str(module)).get_token(token_label=uri.path["token"])
        with session.open(rw=True, user_pin=PIN) as opened:
            opened.generate_keypair(pkcs11.KeyType.RSA, 3072, store=True, label=uri.path["object"])
        bundle = tmp_path / "bundle"
        repo = FIXTURE_REPOS / "odoo-finance-compliant"
        runner = CliRunner()
        signed = runner.invoke(
            cli, ["scan", "repo", str(repo), "--evidence", str(bundle), "--sign-key", local]
        )
        assert signed.exit_code == 0, signed.output
        public = tmp_path / "signer.pub"
        public.write_bytes(
            load_signer(local)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        verified = runner.invoke(cli, ["evidence", "verify", str(bundle), "--key", str(public)])
        assert verified.exit_code == 0 and "signature: valid" in verified.output, verified.output
