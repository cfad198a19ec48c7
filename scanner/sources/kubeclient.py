"""Raw-JSON GETs against a Kubernetes API with the official client: auth, retries, paging.

The official ``kubernetes`` client does authentication (kubeconfig tokens, client
certificates, exec plugins, in-cluster service accounts) and TLS; this module only
sends GETs through it and reads raw JSON, which is several times faster than its
typed models. Retries honour ``Retry-After``; a list restarts when its continue token
expires (410), because a half-read list mixed from two snapshots is not evidence.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from scanner.errors import ConfigError, SourceUnavailable

JSON = "application/json"
#: Ask for metadata only; the server never sends ``data`` (used for Secrets).
METADATA_ONLY = (
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1"
)
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_ATTEMPTS = 5
MAX_LIST_RESTARTS = 3
MAX_RETRY_AFTER_S = 60.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 10.0
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


class KubeRequestError(SourceUnavailable):
    """A request that did not succeed after retries; ``status`` 0 means no HTTP answer."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def describe(self) -> str:
        """``403 Forbidden: <apiserver message>`` or ``timeout: ...``."""
        head = f"{self.status} {self.reason}" if self.status else self.reason
        return f"{head}: {self.message}"


@dataclass(frozen=True)
class Connection:
    """Which cluster and how to reach it."""

    server: str
    context: str
    api_client: Any


def connect(
    kubeconfig: Path | None = None,
    context: str | None = None,
    *,
    ca_file: Path | None = None,
) -> Connection:
    """A client from a kubeconfig (path, $KUBECONFIG, ~/.kube/config) or in-cluster config."""
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException

    config = _config_module()
    cfg = client.Configuration()
    try:
        if kubeconfig is None and _use_in_cluster():
            config.load_incluster_config(client_configuration=cfg)
            ctx_name = "in-cluster"
        else:
            path = str(kubeconfig) if kubeconfig else None
            config.load_kube_config(config_file=path, context=context, client_configuration=cfg)
            ctx_name = context or _current_context(path)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ConfigError(f"cannot load Kubernetes configuration from {where}: {exc}") from exc
    if ca_file is not None:
        if not ca_file.is_file():
            raise ConfigError(f"--certificate-authority {ca_file}: no such file")
        cfg.ssl_ca_cert = str(ca_file)
    cfg.retries = False  # we retry ourselves, honouring Retry-After
    return Connection(cfg.host, ctx_name, client.ApiClient(cfg))


def _use_in_cluster() -> bool:
    """In a pod with no kubeconfig anywhere: use the mounted service account."""
    if os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().exists():
        return False
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_TOKEN.exists()


def _config_module() -> Any:
    """``kubernetes.config`` (its loaders carry no type hints)."""
    import kubernetes.config

    return kubernetes.config


def _current_context(path: str | None) -> str:
    try:
        _, active = _config_module().list_kube_config_contexts(config_file=path)
    except Exception:  # noqa: BLE001 - only a label for reports; the connection reports real errors
        return ""
    return str(active.get("name", "")) if isinstance(active, Mapping) else ""


class KubeClient:
    """GET JSON with per-request timeouts and bounded retries with backoff."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.connection = connection
        self.timeout_s = timeout_s
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.requests = 0

    def get(self, path: str, query: Mapping[str, str] | None = None, accept: str = JSON) -> Any:
        """The decoded JSON body of a 200 answer; raises :class:`KubeRequestError` otherwise."""
        last: KubeRequestError | None = None
        for attempt in range(self.max_attempts):
            status, body, retry_after = self._once(path, query or {}, accept)
            if status == 200:
                try:
                    return json.loads(body)
                except ValueError as exc:
                    raise KubeRequestError(200, "BadResponse", f"not JSON: {exc}") from exc
            last = _error(status, body)
            retryable = status in RETRY_STATUSES or (status == 0 and attempt < 1)
            if not retryable or attempt == self.max_attempts - 1:
                break
            self.sleep(_delay(attempt, retry_after))
        assert last is not None
        raise last

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` once (no retries: a create is not idempotent); the decoded answer."""
        status, data, _ = self._once(path, {}, JSON, body=body)
        if status not in (200, 201):
            raise _error(status, data)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise KubeRequestError(status, "BadResponse", f"not JSON: {exc}") from exc

    def _once(
        self,
        path: str,
        query: Mapping[str, str],
        accept: str,
        body: Mapping[str, Any] | None = None,
    ) -> tuple[int, bytes, float | None]:
        """One request (GET, or POST with ``body``): (status, body, Retry-After seconds).

        Status 0 means no HTTP answer.
        """
        import urllib3

        api = self.connection.api_client
        self.requests += 1
        header_params = {"Accept": accept}
        if body is not None:
            header_params["Content-Type"] = JSON
        method, url, headers, payload, _ = api.param_serialize(
            "GET" if body is None else "POST",
            path,
            header_params=header_params,
            body=dict(body) if body is not None else None,
            auth_settings=["BearerToken"],
        )
        if query:
            url = f"{url}?{urlencode(sorted(query.items()))}"
        try:
            resp = api.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=self.timeout_s
            )
            data = resp.read()
        except urllib3.exceptions.TimeoutError as exc:
            return 0, _timeout_body(self.timeout_s, exc), None
        except urllib3.exceptions.HTTPError as exc:
            return 0, json.dumps({"reason": "Unreachable", "message": str(exc)}).encode(), None
        except Exception as exc:  # noqa: BLE001 - the client wraps transport errors in its own types
            return 0, json.dumps({"reason": type(exc).__name__, "message": str(exc)}).encode(), None
        return int(resp.status), data or b"", _retry_after(resp.getheader("Retry-After"))

    def list_items(
        self,
        path: str,
        *,
        accept: str = JSON,
        limit: int = 500,
        query: Mapping[str, str] | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Every item of a list, paging with limit/continue; (items, pages read).

        A 410 Expired continue token restarts the whole list, so the items come from
        one consistent snapshot.
        """
        for _restart in range(MAX_LIST_RESTARTS + 1):
            items: list[dict[str, Any]] = []
            pages = 0
            try:
                for page in self._pages(path, accept, limit, query or {}):
                    pages += 1
                    items.extend(i for i in page.get("items") or () if isinstance(i, dict))
            except KubeRequestError as exc:
                if exc.status == 410:
                    continue
                raise
            return items, pages
        raise KubeRequestError(
            410,
            "Expired",
            f"list restarted {MAX_LIST_RESTARTS} times; continue token kept expiring",
        )

    def _pages(
        self, path: str, accept: str, limit: int, query: Mapping[str, str]
    ) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            params = {**query, "limit": str(limit)} if limit else dict(query)
            if token:
                params["continue"] = token
            page = self.get(path, params, accept)
            if not isinstance(page, dict):
                raise KubeRequestError(200, "BadResponse", "list answer is not an object")
            yield page
            meta = page.get("metadata") or {}
            token = str(meta.get("continue") or "")
            if not token:
                return


def _retry_after(value: str | None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or an HTTP-date, as urllib3's
    ``Retry`` reads it), capped; None when absent or unreadable (then: backoff)."""
    if not value:
        return None
    from urllib3.exceptions import InvalidHeader
    from urllib3.util import Retry

    try:
        seconds = Retry().parse_retry_after(value)
    except InvalidHeader:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _delay(attempt: int, retry_after: float | None) -> float:
    """Retry-After when the server gave one, else capped exponential backoff with jitter."""
    if retry_after is not None:
        return retry_after
    base: float = min(BACKOFF_CAP_S, BACKOFF_BASE_S * float(2**attempt))
    return base / 2 + random.uniform(0, base / 2)


def _timeout_body(timeout_s: float, exc: Exception) -> bytes:
    message = f"no answer within {timeout_s:g}s ({type(exc).__name__})"
    return json.dumps({"reason": "Timeout", "message": message}).encode()


def _error(status: int, body: bytes) -> KubeRequestError:
    """Turn an answer into an error, reading the apiserver's Status when there is one."""
    reason, message = "", body.decode("utf-8", "replace")[:300]
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        reason = str(parsed.get("reason") or "")
        message = str(parsed.get("message") or message)
    return KubeRequestError(status, reason or _REASONS.get(status, "Error"), message)


_REASONS = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    410: "Expired",
    429: "TooManyRequests",
}
