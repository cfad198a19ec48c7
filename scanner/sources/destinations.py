"""Where GitOps controllers in the repository deploy its folders, and into which namespace.

- An Argo CD ``Application`` deploys ``spec.source.path`` (or each ``spec.sources[].path``)
  into ``spec.destination.namespace``: a default for objects without one.
- An ``ApplicationSet`` does the same through its template; a templated path is matched
  against its git ``directories`` generators, and ``{{path.basename}}`` is filled in.
- A Flux ``Kustomization`` applies ``spec.path`` with ``spec.targetNamespace``, which
  overrides the objects' own namespace (it is a Kustomize namespace transformer).
- A Flux ``HelmRelease`` installs a chart from a repository path into
  ``spec.targetNamespace`` or its own namespace: a default, as Helm's release namespace is.

Paths are relative to the repository root; the innermost covering destination wins.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Destination:
    """A repository folder (or folder glob) a controller deploys, and its namespace."""

    folder: str
    namespace: str
    #: True when the namespace replaces the objects' own (Flux ``targetNamespace``).
    override: bool
    by: str

    def covers(self, path: str) -> str:
        """The folder of ``path`` this destination matched ("" when it does not cover it)."""
        if self.folder == ".":
            return "."
        folder = posixpath.dirname(path)
        parts = folder.split("/") if folder else []
        pattern = self.folder.split("/")
        prefix = parts[: len(pattern)]
        if len(prefix) == len(pattern) and all(map(fnmatchcase, prefix, pattern)):
            return "/".join(prefix)
        return ""


_BASENAME = re.compile(r"\{\{\s*\.?path\.basename\s*\}\}")


def _clean(path: Any) -> str:
    if not isinstance(path, str) or not path.strip() or "://" in path:
        return ""
    joined = posixpath.normpath(path.strip().lstrip("/"))
    return "" if joined.startswith("..") else joined


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _argo(spec: Mapping[str, Any], by: str, globs: Iterable[str] = ()) -> list[Destination]:
    namespace = _get(spec, "destination", "namespace")
    if not isinstance(namespace, str) or not namespace:
        return []
    sources = [spec.get("source"), *(_get(spec, "sources") or [])]
    found = []
    for source in sources:
        path = _get(source, "path")
        if not isinstance(path, str):
            continue
        targets = [g for g in globs] if "{{" in path else [_clean(path)]
        for target in filter(None, targets):
            found.append(Destination(target, namespace, False, by))
    return found


def _application_set(spec: Mapping[str, Any], by: str) -> list[Destination]:
    template = _get(spec, "template", "spec")
    if not isinstance(template, Mapping):
        return []
    globs = [
        _clean(d.get("path"))
        for g in (spec.get("generators") or [])
        if isinstance(g, Mapping)
        for d in (_get(g, "git", "directories") or [])
        if isinstance(d, Mapping) and not d.get("exclude")
    ]
    found = []
    for dest in _argo(template, by, [g for g in globs if g]):
        if _BASENAME.search(dest.namespace):
            found.append(Destination(dest.folder, dest.namespace, False, by))
        elif "{{" not in dest.namespace:
            found.append(dest)
    return found


def from_object(body: Mapping[str, Any]) -> list[Destination]:
    """The destinations one Argo CD or Flux object declares (none for other objects)."""
    api, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
    group = api.split("/", 1)[0]
    meta = body.get("metadata") if isinstance(body.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return []
    by = f"{kind} {meta.get('namespace') or ''}/{meta.get('name') or ''}".replace(" /", " ")
    if group == "argoproj.io" and kind == "Application":
        return _argo(spec, by)
    if group == "argoproj.io" and kind == "ApplicationSet":
        return _application_set(spec, by)
    if group == "kustomize.toolkit.fluxcd.io" and kind == "Kustomization":
        path, namespace = _clean(spec.get("path") or "."), spec.get("targetNamespace")
        if path and isinstance(namespace, str) and namespace:
            return [Destination(path, namespace, True, by)]
    if group == "helm.toolkit.fluxcd.io" and kind == "HelmRelease":
        chart = _get(spec, "chart", "spec")
        source_kind = _get(chart, "sourceRef", "kind")
        path = _clean(_get(chart, "chart")) if source_kind == "GitRepository" else ""
        namespace = spec.get("targetNamespace") or meta.get("namespace")
        if path and isinstance(namespace, str) and namespace:
            return [Destination(path, namespace, False, by)]
    return []


def resolve(destinations: Iterable[Destination], path: str) -> tuple[str, bool, str]:
    """(namespace, overrides, declared by) of the innermost destination covering ``path``."""
    best: tuple[int, Destination, str] | None = None
    for dest in destinations:
        folder = dest.covers(path)
        if folder and (best is None or len(folder) > best[0]):
            best = (len(folder), dest, folder)
    if best is None:
        return "", False, ""
    _, dest, folder = best
    namespace = _BASENAME.sub(posixpath.basename(folder), dest.namespace)
    return namespace, dest.override, dest.by
