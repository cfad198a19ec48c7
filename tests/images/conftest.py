"""A real OCI registry (Debian's ``docker-registry``) on loopback, started once per session.

Skips with a reason when the binary is absent (``apt-get install docker-registry``).
Stops only the process it started, by its PID.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..conftest import tool
from .oci import Pusher

REGISTRY_BIN = "docker-registry"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Registry:
    """A running registry: ``host`` (``127.0.0.1:PORT``), its process and a pusher."""

    host: str
    process: subprocess.Popen[bytes]
    pusher: Pusher
    scheme: str = "http"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"


def start_registry(
    folder: Path,
    extra: dict[str, Any] | None = None,
    scheme: str = "http",
    session: requests.Session | None = None,
) -> Registry:
    binary = tool(REGISTRY_BIN, "apt-get install -y docker-registry")
    folder.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(folder / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": "127.0.0.1:0"},
    }
    for key, value in (extra or {}).items():
        settings[key] = {**settings.get(key, {}), **value}
    config = folder / "config.yml"
    config.write_text(yaml.safe_dump(settings))
    sess = session or requests.Session()
    sess.trust_env = False
    # The port is picked before the registry binds it: another process (a second
    # pytest-xdist worker) can take it in between, so an early exit is retried on a new one.
    for _ in range(3):
        port = free_port()
        proc = _serve(binary, config, port, folder / "registry.log")
        base = f"{scheme}://127.0.0.1:{port}"
        if _ready(proc, sess, base):
            return Registry(f"127.0.0.1:{port}", proc, Pusher(base, sess), scheme)
    pytest.fail(f"docker-registry exited: {(folder / 'registry.log').read_text()[-500:]}")


def _serve(binary: str, config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [binary, "serve", str(config)],
            env={"REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}", "PATH": "/usr/bin:/bin"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _ready(proc: subprocess.Popen[bytes], sess: requests.Session, base: str) -> bool:
    """Whether the registry answers within 15 s (False: it exited; fails if it hangs)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if sess.get(f"{base}/v2/", timeout=1).status_code in (200, 401):
                return True
        except requests.RequestException:
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    stop(proc)
    pytest.fail("docker-registry did not become ready in 15 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the registry we started (by its PID only)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A plain-HTTP registry on loopback for the whole session."""
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    stop(reg.process)


def new_key(folder: Path, name: str) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """A fresh P-256 key pair; the public half written as ``cosign.pub``-style PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    pub = folder / name
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key, pub


@pytest.fixture(scope="session")
def keys(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[ec.EllipticCurvePrivateKey, Path]]:
    """Two fresh signing keys: ``release`` (trusted in tests) and ``other`` (not trusted)."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: new_key(folder, f"{name}.pub") for name in ("release", "other")}
