"""A small OCI distribution client: resolve tags, fetch manifests, indexes and blobs.

Speaks the registry HTTP API directly (``requests``) so the scanner needs no Docker.
Authentication follows the registry's ``WWW-Authenticate`` challenge: HTTP Basic,
or a bearer token from the realm (anonymous, or with credentials from options or a
Docker ``config.json``). ``trust_env`` is off so ``REQUESTS_CA_BUNDLE`` and proxies
cannot silently replace the configured CA.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.errors import ScannerError
from scanner.imageref import DOCKER_HUB_API, ImageRef

if TYPE_CHECKING:  # requests costs 0.1 s to import; only a client talking to a registry needs it
    import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_BLOB_BYTES = 16 * 1024 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(ScannerError):
    """The registry could not be reached or refused; ``kind`` says which."""

    def __init__(self, message: str, kind: str = "error", status: int = 0) -> None:
        self.kind = kind
        self.status = status
        super().__init__(message)


class NotFound(RegistryError):
    """The manifest, tag or blob does not exist (HTTP 404)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not-found", 404)


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: CA bundle, plain-HTTP hosts, credentials, limits."""

    ca_file: str | None = None
    insecure: frozenset[str] = frozenset()
    #: host -> (username, password); wins over the Docker config file.
    credentials: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    docker_config: str | None = None
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2


@dataclass(frozen=True)
class Manifest:
    """A fetched manifest or index: its exact bytes, media type and digest."""

    digest: str
    media_type: str
    raw: bytes

    @property
    def data(self) -> dict[str, Any]:
        """The parsed JSON body."""
        loaded = json.loads(self.raw)
        if not isinstance(loaded, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return loaded

    @property
    def is_index(self) -> bool:
        """True for an OCI image index or Docker manifest list (multi-arch)."""
        return self.media_type in INDEX_TYPES


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_config_credentials(path: str | None = None) -> dict[str, tuple[str, str]]:
    """Credentials by host from a Docker ``config.json`` (``auths`` only, no helpers)."""
    if path is None:
        base = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
        path = str(Path(base) / "config.json")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found: dict[str, tuple[str, str]] = {}
    auths = data.get("auths") if isinstance(data, dict) else None
    for key, entry in (auths or {}).items():
        if not isinstance(entry, dict):
            continue
        host = re.sub(r"^https?://", "", str(key)).split("/", 1)[0]
        if host in ("index.docker.io", "docker.io"):
            host = DOCKER_HUB_API
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
        if user and password:
            found[host] = (str(user), str(password))
    return found


class RegistryClient:
    """Thread-safe client; caches bearer tokens per scope and manifests per digest."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        import requests

        self.options = options or RegistryOptions()
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE must not override verify
        self.session.verify = self.options.ca_file or True
        self._creds = {**docker_config_credentials(self.options.docker_config)}
        self._creds.update(self.options.credentials)
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic: set[str] = set()
        self._manifests: dict[tuple[str, str, str], Manifest] = {}
        self._lock = threading.Lock()
        #: Requests sent, by ``METHOD host/path``: lets tests prove nothing is fetched twice.
        self.requests: Counter[str] = Counter()

    # -- public API ------------------------------------------------------------------
    def resolve(self, ref: ImageRef) -> str:
        """The digest a reference points at now (HEAD; GET and hash when no header)."""
        if ref.digest:
            return ref.digest
        resp = self._call("HEAD", ref.api_host, ref.repository, f"manifests/{ref.reference}")
        resp.close()
        digest = resp.headers.get("Docker-Content-Digest", "")
        if digest.startswith("sha256:"):
            return digest
        return self.manifest(ref.api_host, ref.repository, ref.reference).digest

    def manifest(self, host: str, repository: str, reference: str) -> Manifest:
        """A manifest or index by tag or digest; by-digest results are cached and checked."""
        key = (host, repository, reference)
        with self._lock:
            cached = self._manifests.get(key)
        if cached is not None:
            return cached
        resp = self._call("GET", host, repository, f"manifests/{reference}")
        raw = _limited(resp, MAX_MANIFEST_BYTES, "manifest")
        digest = sha256_digest(raw)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"manifest {reference} has content digest {digest}", "integrity")
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            media = json.loads(raw).get("mediaType") or media
        except (ValueError, AttributeError) as exc:
            raise RegistryError(f"manifest {reference} is not JSON", "integrity") from exc
        found = Manifest(digest, media, raw)
        with self._lock:
            self._manifests[key] = found
            self._manifests[(host, repository, digest)] = found
        return found

    def blob(self, host: str, repository: str, digest: str, limit: int = MAX_BLOB_BYTES) -> bytes:
        """A blob, checked against its digest."""
        resp = self._call("GET", host, repository, f"blobs/{digest}")
        data = _limited(resp, limit, "blob")
        if digest.startswith("sha256:") and sha256_digest(data) != digest:
            raise RegistryError(f"blob {digest} does not match its digest", "integrity")
        return data

    def referrers(self, host: str, repository: str, digest: str) -> list[dict[str, Any]] | None:
        """OCI 1.1 referrers of a digest, or None when the registry has no referrers API."""
        try:
            resp = self._call("GET", host, repository, f"referrers/{digest}", accept=OCI_INDEX)
        except NotFound:
            return None
        try:
            manifests = json.loads(_limited(resp, MAX_MANIFEST_BYTES, "index")).get("manifests")
        except (ValueError, AttributeError) as exc:
            raise RegistryError(f"referrers of {digest}: not a JSON index", "integrity") from exc
        return [m for m in manifests or [] if isinstance(m, dict)]

    def platform_manifest(
        self, host: str, repository: str, index: Manifest, platform: str = "linux/amd64"
    ) -> Manifest:
        """The image manifest for ``platform`` inside an index (else the first image)."""
        os_name, _, arch = platform.partition("/")
        entries = [m for m in index.data.get("manifests") or [] if isinstance(m, dict)]
        images = [m for m in entries if m.get("mediaType") not in INDEX_TYPES]
        chosen = next(
            (
                m
                for m in images
                if (m.get("platform") or {}).get("os") == os_name
                and (m.get("platform") or {}).get("architecture") == arch
            ),
            images[0] if images else None,
        )
        if chosen is None or not isinstance(chosen.get("digest"), str):
            raise RegistryError(f"index {index.digest} lists no image manifest", "integrity")
        return self.manifest(host, repository, chosen["digest"])

    # -- transport -------------------------------------------------------------------
    def _url(self, host: str, repository: str, tail: str) -> str:
        scheme = "http" if host in self.options.insecure else "https"
        return f"{scheme}://{host}/v2/{repository}/{tail}"

    def _call(
        self, method: str, host: str, repository: str, tail: str, accept: str = MANIFEST_ACCEPT
    ) -> requests.Response:
        url = self._url(host, repository, tail)
        headers = {"Accept": accept}
        resp = self._send(method, url, host, repository, headers)
        if resp.status_code == 401:
            resp.close()
            self._authenticate(resp, host, repository)
            resp = self._send(method, url, host, repository, headers)
        if resp.status_code >= 300:
            resp.close()
        if resp.status_code == 404:
            raise NotFound(f"{host}/{repository}: {tail} not found (HTTP 404)")
        if resp.status_code in (401, 403):
            raise RegistryError(
                f"{host}/{repository}: access denied (HTTP {resp.status_code})",
                "unauthorized",
                resp.status_code,
            )
        if resp.status_code >= 300:
            raise RegistryError(
                f"{host}/{repository}: {tail}: HTTP {resp.status_code}", "http", resp.status_code
            )
        return resp

    def _send(
        self, method: str, url: str, host: str, repository: str, headers: dict[str, str]
    ) -> requests.Response:
        import requests

        auth = self._auth_header(host, repository)
        if auth:
            headers = {**headers, "Authorization": auth}
        last: Exception | None = None
        for attempt in range(self.options.retries + 1):
            with self._lock:
                self.requests[f"{method} {url.split('://', 1)[1]}"] += 1
            try:
                resp = self.session.request(
                    method, url, headers=headers, timeout=self.options.timeout, stream=True
                )
            except requests.exceptions.SSLError as exc:
                raise RegistryError(f"{host}: TLS verification failed: {exc}", "tls") from exc
            except requests.RequestException as exc:
                last = exc
            else:
                if resp.status_code not in (429, 502, 503, 504):
                    return resp
                last = RegistryError(f"{host}: HTTP {resp.status_code}", "http", resp.status_code)
                resp.close()
            time.sleep(self.options.backoff * (2**attempt))
        raise RegistryError(f"{host}: registry unreachable: {_short(last)}", "unreachable")

    def _auth_header(self, host: str, repository: str) -> str | None:
        with self._lock:
            token = self._tokens.get((host, repository))
            basic = host in self._basic
        if token:
            return f"Bearer {token}"
        if basic and host in self._creds:
            user, password = self._creds[host]
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return None

    def _authenticate(self, resp: requests.Response, host: str, repository: str) -> None:
        import requests

        challenge = resp.headers.get("WWW-Authenticate", "")
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if host not in self._creds:
                raise RegistryError(f"{host}: needs credentials (HTTP Basic)", "unauthorized", 401)
            with self._lock:
                self._basic.add(host)
            return
        if scheme.lower() != "bearer":
            raise RegistryError(f"{host}: unsupported auth challenge {scheme!r}", "unauthorized")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        realm = params.get("realm")
        if not realm:
            raise RegistryError(f"{host}: bearer challenge without realm", "unauthorized")
        query = {"scope": f"repository:{repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        creds = self._creds.get(host)
        try:
            token_resp = self.session.get(
                realm, params=query, auth=creds, timeout=self.options.timeout
            )
        except requests.RequestException as exc:
            raise RegistryError(f"{host}: token service unreachable: {_short(exc)}") from exc
        with self._lock:
            self.requests[f"GET token {host}"] += 1
        if token_resp.status_code != 200:
            raise RegistryError(
                f"{host}: token service refused (HTTP {token_resp.status_code})",
                "unauthorized",
                token_resp.status_code,
            )
        try:
            body = token_resp.json()
            token = body.get("token") or body.get("access_token")
        except ValueError:
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{host}: token service returned no token", "unauthorized")
        with self._lock:
            self._tokens[(host, repository)] = token


def _limited(resp: requests.Response, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_content(65536):
        size += len(chunk)
        if size > limit:
            resp.close()
            raise RegistryError(f"{what} larger than {limit} bytes", "too-large")
        chunks.append(chunk)
    return b"".join(chunks)


def _short(exc: Exception | None) -> str:
    """A one-phrase cause instead of urllib3's nested repr."""
    import requests

    text = str(exc) if exc else "unknown error"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    for marker, phrase in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host not found"),
        ("Temporary failure in name resolution", "host not found"),
        ("No route to host", "no route to host"),
        ("Connection reset", "connection reset"),
    ):
        if marker in text:
            return phrase
    return text if len(text) < 200 else text[:197] + "..."
