"""The fixture server's data: a resource catalogue plus objects, with real list semantics.

Builtins come from a table; custom resources are registered from the
CustomResourceDefinition objects found in the fixture folder, as an apiserver does.
"""

from __future__ import annotations

import base64
import bisect
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CREATED = "2026-01-05T08:00:00Z"
_UID_NS = uuid.UUID("6f1c2a40-4c5e-4d8a-9a31-0c5f3b1e2d77")


@dataclass(frozen=True)
class ApiResource:
    """One servable resource: what discovery advertises and lists are keyed by."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        """``group/version``, or ``v1`` for the core group (never ``/v1``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def discovery(self) -> dict[str, Any]:
        """The APIResource entry of an APIResourceList."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["get", "list"],
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        return entry


def _r(g: str, v: str, p: str, k: str, ns: bool = True, *short: str) -> ApiResource:
    return ApiResource(g, v, p, k, ns, tuple(short))


BUILTINS: tuple[ApiResource, ...] = (
    _r("", "v1", "namespaces", "Namespace", False, "ns"),
    _r("", "v1", "pods", "Pod", True, "po"),
    _r("", "v1", "services", "Service", True, "svc"),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, "sa"),
    _r("", "v1", "configmaps", "ConfigMap", True, "cm"),
    _r("", "v1", "secrets", "Secret"),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc"),
    _r("", "v1", "replicationcontrollers", "ReplicationController", True, "rc"),
    _r("apps", "v1", "deployments", "Deployment", True, "deploy"),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, "sts"),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, "ds"),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, "rs"),
    _r("batch", "v1", "jobs", "Job"),
    _r("batch", "v1", "cronjobs", "CronJob", True, "cj"),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True, "ing"),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "netpol"),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, "sc"),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "crd",
        "crds",
    ),
)


class LoadError(Exception):
    """A fixture object the server cannot serve (unknown kind, no name)."""


class SelectorError(ValueError):
    """A malformed label or field selector (the apiserver answers 400)."""


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_SET = re.compile(r"^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_CMP = re.compile(r"^([\w./-]+)\s*(==|!=|=)\s*([\w.-]*)$")
_KEY = re.compile(r"^(!?)([\w./-]+)$")


def label_matcher(selector: str) -> Any:
    """A predicate over labels for ``=``, ``==``, ``!=``, ``in``, ``notin``, ``k``, ``!k``."""
    tests: list[Any] = []
    for term in _split_top(selector):
        if m := _SET.match(term):
            key, op, raw = m.groups()
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if op == "in":
                tests.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                tests.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif m := _CMP.match(term):
            key, op, value = m.groups()
            if op == "!=":
                tests.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                tests.append(lambda lb, k=key, v=value: k in lb and lb[k] == v)
        elif m := _KEY.match(term):
            neg, key = m.groups()
            if neg:
                tests.append(lambda lb, k=key: k not in lb)
            else:
                tests.append(lambda lb, k=key: k in lb)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(t(labels) for t in tests)


_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}


def field_matcher(selector: str) -> Any:
    """A predicate over metadata for ``metadata.name`` and ``metadata.namespace``."""
    tests: list[Any] = []
    for term in _split_top(selector):
        m = _CMP.match(term)
        if not m or m.group(1) not in _FIELDS:
            raise SelectorError(f'field label not supported: "{term}"')
        key, op, value = _FIELDS[m.group(1)], m.group(2), m.group(3)
        if op == "!=":
            tests.append(lambda md, k=key, v=value: md.get(k, "") != v)
        else:
            tests.append(lambda md, k=key, v=value: md.get(k, "") == v)
    return lambda meta: all(t(meta) for t in tests)


@dataclass
class _Bucket:
    keys: list[tuple[str, str]] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)


class Store:
    """Resources and objects; objects kept sorted by (namespace, name) like etcd keys."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], ApiResource] = {
            (r.group, r.plural): r for r in BUILTINS
        }
        self._by_kind = {(r.group, r.kind): r for r in BUILTINS}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.rv = 1000

    @classmethod
    def from_folder(cls, folder: Path) -> Store:
        """Every ``*.yaml`` below ``folder``; CRDs first so their kinds can be served."""
        docs: list[dict[str, Any]] = []
        for path in sorted(folder.rglob("*.yaml")):
            for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader):
                if isinstance(doc, dict) and doc.get("kind"):
                    docs.append(doc)
        store = cls()
        store.add_all(docs)
        return store

    def add_all(self, docs: Iterable[dict[str, Any]]) -> None:
        """Register CRDs, then add every object."""
        docs = list(docs)
        for doc in docs:
            if doc.get("kind") == "CustomResourceDefinition":
                self.register_crd(doc)
        for doc in docs:
            self.add(doc)

    def register_crd(self, crd: Mapping[str, Any]) -> None:
        """Serve each served version of a CRD."""
        spec = crd["spec"]
        names = spec["names"]
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            res = ApiResource(
                spec["group"],
                version["name"],
                names["plural"],
                names["kind"],
                spec.get("scope", "Namespaced") == "Namespaced",
                tuple(names.get("shortNames", ())),
            )
            self.resources[(res.group, res.plural)] = res
            self._by_kind[(res.group, res.kind)] = res

    def resource_for(self, api_version: str, kind: str) -> ApiResource:
        """The resource an object belongs to; unknown kinds are a load error."""
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        res = self._by_kind.get((group, kind))
        if res is None:
            raise LoadError(f"no resource serves {kind} in group {group!r} (missing CRD?)")
        return res

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Add one object, giving it uid, resourceVersion, creationTimestamp and namespace."""
        res = self.resource_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise LoadError(f"{res.kind} without metadata.name")
        if res.namespaced:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        if res.kind == "Secret" and "stringData" in obj:
            encoded = {
                k: base64.b64encode(str(v).encode()).decode()
                for k, v in obj.pop("stringData").items()
            }
            obj["data"] = {**(obj.get("data") or {}), **encoded}
        self.rv += 1
        key = (meta.get("namespace", ""), meta["name"])
        meta.setdefault("uid", str(uuid.uuid5(_UID_NS, f"{res.group}/{res.plural}/{key}")))
        meta["resourceVersion"] = str(self.rv)
        meta.setdefault("creationTimestamp", CREATED)
        bucket = self._buckets.setdefault((res.group, res.plural), _Bucket())
        at = bisect.bisect_left(bucket.keys, key)
        if at < len(bucket.keys) and bucket.keys[at] == key:
            bucket.objects[at] = obj
        else:
            bucket.keys.insert(at, key)
            bucket.objects.insert(at, obj)
        return obj

    def select(
        self,
        res: ApiResource,
        namespace: str | None,
        after: tuple[str, str] | None,
        labels: Any,
        fields: Any,
    ) -> Iterator[dict[str, Any]]:
        """Objects in key order after ``after`` that match namespace and selectors."""
        bucket = self._buckets.get((res.group, res.plural), _Bucket())
        start = bisect.bisect_right(bucket.keys, after) if after else 0
        for index in range(start, len(bucket.objects)):
            obj = bucket.objects[index]
            meta = obj["metadata"]
            if namespace is not None and meta.get("namespace") != namespace:
                continue
            if labels is not None and not labels(meta.get("labels") or {}):
                continue
            if fields is not None and not fields(meta):
                continue
            yield obj

    def count_after(self, res: ApiResource, after: tuple[str, str] | None) -> int:
        """How many objects of a resource sort after ``after`` (all when None)."""
        bucket = self._buckets.get((res.group, res.plural), _Bucket())
        return len(bucket.keys) - (bisect.bisect_right(bucket.keys, after) if after else 0)

    def get(self, res: ApiResource, namespace: str, name: str) -> dict[str, Any] | None:
        """One object by key."""
        bucket = self._buckets.get((res.group, res.plural), _Bucket())
        key = (namespace if res.namespaced else "", name)
        at = bisect.bisect_left(bucket.keys, key)
        if at < len(bucket.keys) and bucket.keys[at] == key:
            return bucket.objects[at]
        return None

    def groups(self) -> dict[str, list[str]]:
        """Non-core group -> versions served, sorted."""
        found: dict[str, set[str]] = {}
        for res in self.resources.values():
            if res.group:
                found.setdefault(res.group, set()).add(res.version)
        return {g: sorted(v, reverse=True) for g, v in sorted(found.items())}
