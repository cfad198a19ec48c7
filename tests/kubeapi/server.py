"""A read-only Kubernetes API server for tests, on the standard library.

It speaks the real wire protocol over TLS with bearer tokens (discovery, lists with
``limit``/``continue``, selectors, metadata-only and Table responses, Status errors),
so the official client and ``kubectl`` can both talk to it. It also keeps a request
log and has fault knobs per resource (403, 429 + Retry-After, 500, 410, slow).

Run by hand: ``python -m tests.kubeapi.server FOLDER`` prints a kubeconfig path.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.kubeapi.pki import Pki
from tests.kubeapi.store import ApiResource, SelectorError, Store, field_matcher, label_matcher

GIT_VERSION = "v1.31.4"
METADATA_AS = "as=PartialObjectMetadata"
TABLE_AS = "as=Table"
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


SELF_SUBJECT_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it (for asserting what a client asked for)."""

    method: str
    path: str
    query: dict[str, str]
    accept: str
    user: str
    status: int

    @property
    def metadata_only(self) -> bool:
        """True when the client asked for PartialObjectMetadata(List)."""
        return METADATA_AS in self.accept


@dataclass
class Fault:
    """A misbehaviour for one resource; ``times`` None means every request."""

    status: int = 0
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = None
    hits: int = 0

    def fire(self, has_continue: bool) -> bool:
        """Whether this request gets the fault (410 only hits continued lists)."""
        if self.status == 410 and not has_continue:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass
class Authz:
    """Tokens -> users; per user, denied (group, plural) pairs or an allow-list (else 403)."""

    tokens: dict[str, str] = field(default_factory=dict)
    denied: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    allowed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    #: Answer SelfSubjectReview with 404, as API servers before 1.28 do.
    no_self_review: bool = False

    def permits(self, user: str, group: str, plural: str) -> bool:
        """Whether ``user`` may read ``group/plural``."""
        if (group, plural) in self.denied.get(user, set()):
            return False
        allow = self.allowed.get(user)
        return allow is None or (group, plural) in allow

    def deny(self, user: str, group: str, plural: str) -> None:
        """Forbid ``user`` to read ``group/plural``."""
        self.denied.setdefault(user, set()).add((group, plural))


class ApiError(Exception):
    """An error answer with an apiserver Status body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` object the apiserver returns."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _unb64(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from exc
    if not isinstance(data, dict) or "rv" not in data or "key" not in data:
        raise ApiError(400, "BadRequest", "continue key is not valid")
    return data


class KubeApi:
    """The API behaviour, separate from the socket plumbing."""

    def __init__(self, store: Store, authz: Authz) -> None:
        self.store = store
        self.authz = authz
        self.faults: dict[str, Fault] = {}
        self.log: list[LoggedRequest] = []
        self.compacted_rv = 0
        self._lock = threading.Lock()

    def expire_continue_tokens(self) -> None:
        """Simulate etcd compaction: every continue token issued so far gets 410."""
        with self._lock:
            self.store.rv += 1
            self.compacted_rv = self.store.rv

    def handle(
        self, method: str, raw_path: str, headers: Any, cert_user: str | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one request: (status, JSON body, extra headers)."""
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        accept = headers.get("Accept", "") or ""
        authorization = headers.get("Authorization", "")
        user = self._user(authorization) if authorization else cert_user
        extra: dict[str, str] = {}
        try:
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            if method == "POST" and parts.path == SELF_SUBJECT_REVIEWS:
                code, body = 201, self._self_subject_review(user)
                with self._lock:
                    self.log.append(LoggedRequest(method, parts.path, query, accept, user, code))
                return code, body, extra
            if method != "GET":
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource ({method})",
                )
            code, body = 200, self._route(parts.path, query, accept, user, extra)
        except ApiError as err:
            code, body = err.code, err.status()
        with self._lock:
            self.log.append(LoggedRequest(method, parts.path, query, accept, user or "", code))
        return code, body, extra

    def _self_subject_review(self, user: str) -> dict[str, Any]:
        """What the authenticator made of the caller's credentials (authentication.k8s.io/v1)."""
        if self.authz.no_self_review:
            raise self._not_found_path(SELF_SUBJECT_REVIEWS)
        groups = ["system:authenticated"]
        if user.startswith("system:serviceaccount:"):
            namespace = user.split(":")[2]
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", *groups]
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": user, "uid": f"uid-{user}", "groups": groups}},
        }

    def _user(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":  # the apiserver accepts any case, as in-cluster clients send
            return None
        return self.authz.tokens.get(token.strip())

    def _route(
        self, path: str, query: dict[str, str], accept: str, user: str, extra: dict[str, str]
    ) -> dict[str, Any]:
        segs = [s for s in path.split("/") if s]
        if segs == ["version"]:
            return {
                "major": "1",
                "minor": "31",
                "gitVersion": GIT_VERSION,
                "platform": "linux/amd64",
            }
        if segs == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
                ],
            }
        if segs == ["apis"]:
            return {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [self._group(g, v) for g, v in self.store.groups().items()],
            }
        if segs[:2] == ["api", "v1"]:
            return self._in_group_version("", "v1", segs[2:], query, accept, user, extra)
        if segs and segs[0] == "apis" and len(segs) >= 2:
            versions = self.store.groups().get(segs[1])
            if versions is None:
                raise self._not_found_path(path)
            if len(segs) == 2:
                return {"kind": "APIGroup", "apiVersion": "v1", **self._group(segs[1], versions)}
            if segs[2] not in versions:
                raise self._not_found_path(path)
            return self._in_group_version(segs[1], segs[2], segs[3:], query, accept, user, extra)
        raise self._not_found_path(path)

    @staticmethod
    def _not_found_path(path: str) -> ApiError:
        return ApiError(
            404, "NotFound", f"the server could not find the requested resource ({path})"
        )

    @staticmethod
    def _group(name: str, versions: list[str]) -> dict[str, Any]:
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}

    def _in_group_version(
        self,
        group: str,
        version: str,
        rest: list[str],
        query: dict[str, str],
        accept: str,
        user: str,
        extra: dict[str, str],
    ) -> dict[str, Any]:
        resources = [
            r for r in self.store.resources.values() if r.group == group and r.version == version
        ]
        if not rest:
            self._apply_fault(
                f"discovery:{group}/{version}" if group else "discovery:v1", False, extra
            )
            return {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [r.discovery() for r in sorted(resources, key=lambda r: r.plural)],
            }
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        by_plural = {r.plural: r for r in resources}
        res = by_plural.get(rest[0])
        if res is None or len(rest) > 2 or (namespace is not None and not res.namespaced):
            raise self._not_found_path("/".join(rest))
        verb = "get" if len(rest) == 2 else "list"
        self._authorize(user, verb, res, namespace)
        self._apply_fault(
            f"{res.group}/{res.plural}" if res.group else res.plural, "continue" in query, extra
        )
        if verb == "get":
            return self._get(res, namespace or "", rest[1], accept)
        return self._list(res, namespace, query, accept)

    def _authorize(self, user: str, verb: str, res: ApiResource, namespace: str | None) -> None:
        if self.authz.permits(user, res.group, res.plural):
            return
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise ApiError(
            403,
            "Forbidden",
            f"{res.plural}{'.' + res.group if res.group else ''} is forbidden: "
            f'User "{user}" cannot {verb} resource "{res.plural}" '
            f'in API group "{res.group}" {where}',
            {"group": res.group, "kind": res.plural},
        )

    def _apply_fault(self, key: str, has_continue: bool, extra: dict[str, str]) -> None:
        fault = self.faults.get(key)
        if fault is None or not fault.fire(has_continue):
            return
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status == 429:
            if fault.retry_after is not None:
                extra["Retry-After"] = str(fault.retry_after)
            raise ApiError(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
                {"retryAfterSeconds": fault.retry_after or 1},
            )
        if fault.status == 410:
            raise ApiError(
                410,
                "Expired",
                EXPIRED_MESSAGE,
            )
        if fault.status == 403:
            raise ApiError(
                403,
                "Forbidden",
                f"{key} is forbidden: fault injected",
            )
        if fault.status:
            raise ApiError(
                fault.status,
                "InternalError",
                'an error on the server ("fault injected") has prevented the request '
                "from succeeding",
            )

    def _get(self, res: ApiResource, namespace: str, name: str, accept: str) -> dict[str, Any]:
        obj = self.store.get(res, namespace, name)
        if obj is None:
            raise ApiError(
                404,
                "NotFound",
                f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found',
                {"name": name, "group": res.group, "kind": res.plural},
            )
        if METADATA_AS in accept:
            return {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": obj["metadata"],
            }
        if TABLE_AS in accept:
            return self._table([obj], {})
        return obj

    def _list(
        self, res: ApiResource, namespace: str | None, query: dict[str, str], accept: str
    ) -> dict[str, Any]:
        try:
            labels = label_matcher(query["labelSelector"]) if query.get("labelSelector") else None
            fields = field_matcher(query["fieldSelector"]) if query.get("fieldSelector") else None
        except SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc
        limit = int(query.get("limit", "0") or 0)
        list_rv, after = str(self.store.rv), None
        if query.get("continue"):
            token = _unb64(query["continue"])
            if int(token["rv"]) < self.compacted_rv:
                raise ApiError(
                    410,
                    "Expired",
                    EXPIRED_MESSAGE,
                )
            list_rv, after = str(token["rv"]), (token["key"][0], token["key"][1])
        matched = self.store.select(res, namespace, after, labels, fields)
        items: list[dict[str, Any]] = []
        meta: dict[str, Any] = {"resourceVersion": list_rv}
        for obj in matched:
            if limit and len(items) == limit:
                last = items[-1]["metadata"]
                meta["continue"] = _b64(
                    {"rv": int(list_rv), "key": [last.get("namespace", ""), last["name"]]}
                )
                if labels is None and fields is None:
                    meta["remainingItemCount"] = (
                        self.store.count_after(res, after) - limit
                        if namespace is None
                        else 1 + sum(1 for _ in matched)
                    )
                break
            items.append(obj)
        if TABLE_AS in accept:
            return self._table(items, meta)
        if METADATA_AS in accept:
            return {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadataList",
                "metadata": meta,
                "items": [
                    {
                        "apiVersion": "meta.k8s.io/v1",
                        "kind": "PartialObjectMetadata",
                        "metadata": o["metadata"],
                    }
                    for o in items
                ],
            }
        return {
            "apiVersion": res.group_version,
            "kind": f"{res.kind}List",
            "metadata": meta,
            "items": items,
        }

    @staticmethod
    def _table(items: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
        """A minimal meta.k8s.io Table (Name, Age) so kubectl prints as usual."""
        return {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "Table",
            "metadata": meta,
            "columnDefinitions": [
                {
                    "name": "Name",
                    "type": "string",
                    "format": "name",
                    "description": "Name",
                    "priority": 0,
                },
                {
                    "name": "Age",
                    "type": "string",
                    "format": "",
                    "description": "Age",
                    "priority": 0,
                },
            ],
            "rows": [
                {
                    "cells": [o["metadata"]["name"], "1d"],
                    "object": {
                        "apiVersion": "meta.k8s.io/v1",
                        "kind": "PartialObjectMetadata",
                        "metadata": o["metadata"],
                    },
                }
                for o in items
            ],
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def setup(self) -> None:
        sock = self.request
        if isinstance(sock, ssl.SSLSocket):
            sock.settimeout(10)
            sock.do_handshake()
            sock.settimeout(None)
        super().setup()

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            self.close_connection = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # a request body (SelfSubjectReview) is not needed
        code, body, extra = self.server.api.handle(
            self.command, self.path, self.headers, self._cert_user()
        )
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _cert_user(self) -> str | None:
        """The CN of a client certificate the CA signed (the x509 authenticator)."""
        if not isinstance(self.request, ssl.SSLSocket):
            return None
        cert = self.request.getpeercert()
        for rdn in (cert or {}).get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return str(value)
        return None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: KubeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that fail the TLS handshake or hang up are expected; anything else is not."""
        import sys

        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FixtureApiServer:
    """The server on 127.0.0.1:<free port>, TLS when a PKI is given."""

    def __init__(self, store: Store, authz: Authz, pki: Pki | None = None) -> None:
        self.api = KubeApi(store, authz)
        self.pki = pki
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        assert self._httpd is not None, "server not started"
        port = self._httpd.server_address[1]
        return f"{'https' if self.pki else 'http'}://127.0.0.1:{port}"

    def start(self) -> FixtureApiServer:
        """Bind and serve in a daemon thread."""
        httpd = _HttpServer(("127.0.0.1", 0), _Handler)
        httpd.api = self.api
        if self.pki is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            ctx.load_verify_locations(self.pki.ca_cert)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # client certificates authenticate too
            httpd.socket = ctx.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="kubeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # Convenience views used by tests.
    @property
    def log(self) -> list[LoggedRequest]:
        """Every request so far."""
        return self.api.log

    @property
    def faults(self) -> dict[str, Fault]:
        """Fault knobs keyed by ``plural`` (core) or ``group/plural``, or
        ``discovery:group/version`` for a group's discovery document."""
        return self.api.faults


def kubeconfig(url: str, ca_pem: bytes, token: str, context: str = "fixture") -> dict[str, Any]:
    """A kubeconfig with certificate-authority-data and a bearer token."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": f"{context}-user", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user"}}],
        "current-context": context,
    }


def main() -> None:  # pragma: no cover - manual use
    """Serve a folder until interrupted; prints the kubeconfig path."""
    import sys
    import tempfile
    from pathlib import Path

    import yaml

    from tests.kubeapi.pki import make_pki

    tmp = Path(tempfile.mkdtemp(prefix="kubeapi-"))
    pki = make_pki(tmp)
    server = FixtureApiServer(
        Store.from_folder(Path(sys.argv[1])), Authz({"dev-token": "dev"}), pki
    ).start()
    path = tmp / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(server.url, pki.ca_pem(), "dev-token")))
    print(f"serving {sys.argv[1]} at {server.url}\nexport KUBECONFIG={path}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
