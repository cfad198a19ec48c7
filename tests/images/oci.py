"""Build OCI images in Python and push them over the registry HTTP API (no Docker)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.images.cosign import SIGNATURE_ANNOTATION, SIMPLE_SIGNING, simple_signing_payload
from scanner.images.registry import OCI_INDEX, OCI_MANIFEST

CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files: dict[str, bytes]) -> bytes:
    """A deterministic gzip tar (mtime 0) holding ``files``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


@dataclass
class Pusher:
    """Pushes blobs and manifests to one registry (``base`` like ``http://127.0.0.1:5000``)."""

    base: str
    session: requests.Session

    def blob(self, repo: str, data: bytes, media_type: str) -> dict[str, Any]:
        digest = digest_of(data)
        start = self.session.post(f"{self.base}/v2/{repo}/blobs/uploads/", timeout=10)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        url = location if location.startswith("http") else self.base + location
        sep = "&" if "?" in url else "?"
        done = self.session.put(
            f"{url}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=10,
        )
        assert done.status_code == 201, done.text
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(self, repo: str, ref: str, body: dict[str, Any]) -> str:
        raw = json.dumps(body, separators=(",", ":")).encode()
        resp = self.session.put(
            f"{self.base}/v2/{repo}/manifests/{ref}",
            data=raw,
            headers={"Content-Type": body["mediaType"]},
            timeout=10,
        )
        assert resp.status_code == 201, resp.text
        assert resp.headers["Docker-Content-Digest"] == digest_of(raw)
        return digest_of(raw)

    def image(
        self, repo: str, tag: str, *, user: str = "", files: dict[str, bytes] | None = None
    ) -> str:
        """Push a one-layer image whose config runs as ``user``; returns its digest."""
        layer_bytes = layer(files or {"etc/motd": f"{repo}:{tag}\n".encode()})
        diff_id = digest_of(gzip.decompress(layer_bytes))
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"User": user, "Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        cfg = self.blob(repo, json.dumps(config, sort_keys=True).encode(), CONFIG_TYPE)
        lay = self.blob(repo, layer_bytes, LAYER_TYPE)
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [lay]}
        return self.manifest(repo, tag, body)

    def index(self, repo: str, tag: str, platforms: dict[str, str]) -> str:
        """Push an image index over existing manifests (``"linux/amd64": digest``)."""
        manifests = []
        for platform, digest in sorted(platforms.items()):
            raw = self.session.get(
                f"{self.base}/v2/{repo}/manifests/{digest}",
                headers={"Accept": OCI_MANIFEST},
                timeout=10,
            ).content
            os_name, arch = platform.split("/")
            manifests.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": len(raw),
                    "platform": {"os": os_name, "architecture": arch},
                }
            )
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        return self.manifest(repo, tag, body)

    def cosign_sign(
        self,
        repo: str,
        digest: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        reference: str,
        payload: bytes | None = None,
        signature: bytes | None = None,
        at: str | None = None,
    ) -> str:
        """Attach a cosign legacy signature (``sha256-<hex>.sig``) the way cosign does."""
        body = payload if payload is not None else simple_signing_payload(reference, digest)
        sig = signature if signature is not None else key.sign(body, ec.ECDSA(hashes.SHA256()))
        cfg = self.blob(repo, b"{}", CONFIG_TYPE)
        lay = self.blob(repo, body, SIMPLE_SIGNING)
        lay["annotations"] = {SIGNATURE_ANNOTATION: base64.b64encode(sig).decode()}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [lay]}
        tag = at or digest.replace(":", "-") + ".sig"
        return self.manifest(repo, tag, manifest)


BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"


def attach_bundle(pusher: Pusher, repo: str, digest: str, bundle: bytes) -> str:
    """Attach a Sigstore bundle as an OCI 1.1 referrer, plus the ``sha256-<hex>`` tag index.

    ``docker-registry`` 2.8 has no referrers API, so the fallback index is written here,
    as cosign does against such registries.
    """
    subject_raw = pusher.session.get(
        f"{pusher.base}/v2/{repo}/manifests/{digest}",
        headers={"Accept": OCI_MANIFEST},
        timeout=10,
    ).content
    empty = pusher.blob(repo, b"{}", EMPTY_TYPE)
    layer_desc = pusher.blob(repo, bundle, BUNDLE_TYPE)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": empty,
        "layers": [layer_desc],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(subject_raw)},
        "annotations": {
            "dev.sigstore.bundle.content": "dsse-envelope",
            "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1",
        },
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    referrer = pusher.manifest(repo, digest_of(raw), manifest)
    tag = digest.replace(":", "-")
    existing = pusher.session.get(
        f"{pusher.base}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX}, timeout=10
    )
    listed = existing.json().get("manifests", []) if existing.status_code == 200 else []
    listed.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": referrer,
            "size": len(raw),
            "artifactType": BUNDLE_TYPE,
            "annotations": manifest["annotations"],
        }
    )
    pusher.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listed})
    return referrer


def write_layout(folder: Path, files: dict[str, bytes], user: str = "") -> str:
    """An OCI image layout directory holding one image (what ``trivy --input`` reads)."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes, media_type: str) -> dict[str, Any]:
        digest = digest_of(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    layer_bytes = layer(files)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"User": user},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(gzip.decompress(layer_bytes))]},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": put(json.dumps(config, sort_keys=True).encode(), CONFIG_TYPE),
        "layers": [put(layer_bytes, LAYER_TYPE)],
    }
    desc = put(json.dumps(manifest, separators=(",", ":")).encode(), OCI_MANIFEST)
    (folder / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
    (folder / "index.json").write_text(json.dumps(index))
    return str(desc["digest"])
