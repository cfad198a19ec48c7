"""Registry transport against real registries: TLS with a custom CA, Basic auth, bearer tokens."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from scanner.imageref import parse
from scanner.images.registry import (
    RegistryClient,
    RegistryError,
    RegistryOptions,
    docker_config_credentials,
)

from ..conftest import tool
from .certs import registry_token, self_signed
from .conftest import Registry, start_registry, stop


@pytest.fixture(scope="module")
def tls_registry(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Registry, Path]]:
    """HTTPS + htpasswd (user ``auditor``), serving the plain registry's storage."""
    htpasswd = tool("htpasswd", "apt-get install -y apache2-utils")
    folder = tmp_path_factory.mktemp("tls-registry")
    cert, key, _, _ = self_signed(folder, "registry")
    line = subprocess.run(
        [htpasswd, "-Bbn", "auditor", "s3cret-pass"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    (folder / "htpasswd").write_text(line)
    shared = registry_root(registry)
    import requests

    probe = requests.Session()
    probe.verify = str(cert)
    probe.auth = ("auditor", "s3cret-pass")
    reg = start_registry(
        folder,
        {
            "storage": {"filesystem": {"rootdirectory": shared}},
            "http": {"tls": {"certificate": str(cert), "key": str(key)}},
            "auth": {"htpasswd": {"realm": "ledgergate", "path": str(folder / "htpasswd")}},
        },
        scheme="https",
        session=probe,
    )
    yield reg, cert
    stop(reg.process)


def registry_root(registry: Registry) -> str:
    """The storage folder of the session registry (so other instances can serve its images)."""
    import yaml

    config = Path(registry.process.args[2])  # type: ignore[index]
    return str(yaml.safe_load(config.read_text())["storage"]["filesystem"]["rootdirectory"])


def test_tls_with_custom_ca_and_basic_auth(tls_registry, registry: Registry, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    reg, cert = tls_registry
    digest = registry.pusher.image("auth/tls", "v1", user="7")
    ref = parse(f"{reg.host}/auth/tls:v1")
    # REQUESTS_CA_BUNDLE must not override the configured CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    creds = {reg.host: ("auditor", "s3cret-pass")}
    client = RegistryClient(RegistryOptions(ca_file=str(cert), credentials=creds, retries=0))
    assert client.resolve(ref) == digest
    assert client.manifest(reg.host, "auth/tls", digest).digest == digest

    no_ca = RegistryClient(RegistryOptions(credentials=creds, retries=0))
    with pytest.raises(RegistryError) as exc:
        no_ca.resolve(ref)
    assert exc.value.kind == "tls"

    anonymous = RegistryClient(RegistryOptions(ca_file=str(cert), retries=0))
    with pytest.raises(RegistryError) as exc:
        anonymous.resolve(ref)
    assert exc.value.kind == "unauthorized" and "needs credentials" in str(exc.value)

    wrong = RegistryClient(
        RegistryOptions(ca_file=str(cert), credentials={reg.host: ("auditor", "nope")}, retries=0)
    )
    with pytest.raises(RegistryError) as exc:
        wrong.resolve(ref)
    assert exc.value.status == 401


def test_docker_config_credentials(tls_registry, registry: Registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reg, cert = tls_registry
    digest = registry.pusher.image("auth/cfg", "v1")
    config = tmp_path / "config.json"
    auth = base64.b64encode(b"auditor:s3cret-pass").decode()
    config.write_text(
        json.dumps(
            {
                "auths": {
                    reg.host: {"auth": auth},
                    "https://index.docker.io/v1/": {"username": "u", "password": "p"},
                }
            }
        )
    )
    assert docker_config_credentials(str(config)) == {
        reg.host: ("auditor", "s3cret-pass"),
        "registry-1.docker.io": ("u", "p"),
    }
    client = RegistryClient(RegistryOptions(ca_file=str(cert), docker_config=str(config)))
    assert client.resolve(parse(f"{reg.host}/auth/cfg:v1")) == digest


class _TokenServer(ThreadingHTTPServer):
    key: object
    cert: object
    issued: list[str]


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenServer

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        scope = query.get("scope", [""])[0]
        _, name, _ = scope.split(":")
        self.server.issued.append(scope)
        token = registry_token(
            self.server.key,  # type: ignore[arg-type]
            self.server.cert,  # type: ignore[arg-type]
            issuer="ledgergate-test",
            service=query.get("service", [""])[0],
            access=[{"type": "repository", "name": name, "actions": ["pull"]}],
        )
        body = json.dumps({"token": token}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def token_registry(
    registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Registry, _TokenServer]]:
    """The real registry with token auth; a small token service issues anonymous pull tokens."""
    folder = tmp_path_factory.mktemp("token-registry")
    cert_path, _, key, cert = self_signed(folder, "token-issuer")
    server = _TokenServer(("127.0.0.1", 0), _TokenHandler)
    server.key, server.cert, server.issued = key, cert, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    reg = start_registry(
        folder,
        {
            "storage": {"filesystem": {"rootdirectory": registry_root(registry)}},
            "auth": {
                "token": {
                    "realm": realm,
                    "service": "ledgergate-registry",
                    "issuer": "ledgergate-test",
                    "rootcertbundle": str(cert_path),
                }
            },
        },
    )
    yield reg, server
    stop(reg.process)
    server.shutdown()
    server.server_close()


def test_anonymous_bearer_token_flow(token_registry, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    reg, server = token_registry
    digest = registry.pusher.image("auth/token", "v1", user="5")
    client = RegistryClient(RegistryOptions(insecure=frozenset({reg.host}), retries=0))
    assert client.resolve(parse(f"{reg.host}/auth/token:v1")) == digest
    manifest = client.manifest(reg.host, "auth/token", digest)
    client.blob(reg.host, "auth/token", manifest.data["config"]["digest"])
    assert server.issued == ["repository:auth/token:pull"]  # one token, reused


class _Flaky(BaseHTTPRequestHandler):
    """A registry front that answers 503 to the first request for each path, then forwards."""

    upstream = ""
    seen: dict[str, int] = {}

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_GET(self) -> None:
        self._handle("GET")

    def _handle(self, method: str) -> None:
        import requests

        count = type(self).seen.get(self.path, 0)
        type(self).seen[self.path] = count + 1
        if count == 0:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        resp = requests.request(
            method,
            self.upstream + self.path,
            headers={"Accept": self.headers["Accept"]},
            timeout=10,
        )
        self.send_response(resp.status_code)
        for header in ("Content-Type", "Docker-Content-Digest"):
            if header in resp.headers:
                self.send_header(header, resp.headers[header])
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        if method == "GET":
            self.wfile.write(resp.content)

    def log_message(self, *args: object) -> None:
        pass


def test_transient_503s_are_retried(registry: Registry) -> None:
    digest = registry.pusher.image("auth/flaky", "v1")
    _Flaky.upstream, _Flaky.seen = registry.base, {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        client = RegistryClient(
            RegistryOptions(insecure=frozenset({host}), retries=1, backoff=0.01)
        )
        assert client.resolve(parse(f"{host}/auth/flaky:v1")) == digest
        no_retry = RegistryClient(RegistryOptions(insecure=frozenset({host}), retries=0))
        with pytest.raises(RegistryError) as exc:
            no_retry.manifest(host, "auth/flaky", digest)
        assert exc.value.kind == "unreachable" and "HTTP 503" in str(exc.value)
    finally:
        server.shutdown()
        server.server_close()
    assert _Flaky.seen["/v2/auth/flaky/manifests/v1"] == 2
