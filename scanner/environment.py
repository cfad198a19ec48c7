"""Which objects are production: one classification for the repo scan, the cluster scan and
the RBAC separation-of-duties analysis.

In order: a namespace matching ``params.productionNamespaces``; a namespace whose labels
match ``params.productionNamespaceSelector``; a file path matching ``params.productionPaths``;
a namespace matching ``params.nonProductionNamespaces`` (not production). Anything else
fails closed: an unmatched namespace, an explicit ``default`` (a finance workload never
belongs there) and an unresolved namespace are judged **as production**, unless
``params.unclassifiedIs: non-production`` says otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any


class EnvStatus(enum.StrEnum):
    """How an object's environment was decided."""

    PRODUCTION = "production"
    NON_PRODUCTION = "non-production"
    UNCLASSIFIED = "unclassified"
    UNRESOLVED = "unresolved"
    CLUSTER = "cluster-scoped"


@dataclass(frozen=True)
class Environment:
    """Whether an object is judged as production, and why."""

    production: bool
    status: EnvStatus
    reason: str

    @property
    def fail_closed(self) -> bool:
        """Judged as production only because nothing classified it."""
        return self.production and self.status in (EnvStatus.UNCLASSIFIED, EnvStatus.UNRESOLVED)

    def note(self) -> str:
        """The sentence a finding's message gains when the classification was a default."""
        if not self.fail_closed:
            return ""
        return (
            f"judged as production because {self.reason} (classify it with "
            "params.productionNamespaces or params.nonProductionNamespaces)"
        )


#: Cluster-scoped objects (and estate config files) reach every namespace, production included.
CLUSTER_WIDE = Environment(True, EnvStatus.CLUSTER, "it is cluster-scoped")


@lru_cache(maxsize=8192)
def _matches(name: str, patterns: tuple[str, ...]) -> str:
    return next((p for p in patterns if fnmatchcase(name, p)), "")


def _patterns(params: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = params.get(key) or ()
    return tuple(str(p) for p in value) if isinstance(value, list | tuple) else ()


def selector_matches(labels: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """The ``key=value`` of ``params.productionNamespaceSelector`` that the labels carry."""
    selector = params.get("productionNamespaceSelector") or {}
    if not isinstance(selector, Mapping):
        return ""
    keys = [str(k) for k in selector.get("labels") or ()]
    values = {str(v) for v in selector.get("values") or ()}
    for key in keys:
        value = labels.get(key)
        if value is not None and str(value) in values:
            return f"{key}={value}"
    return ""


def classify(
    namespace: str,
    params: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    path: str = "",
) -> Environment:
    """The environment of an object in ``namespace`` ("" = unresolved) from file ``path``."""
    if namespace:
        hit = _matches(namespace, _patterns(params, "productionNamespaces"))
        if hit:
            return Environment(
                True, EnvStatus.PRODUCTION, f"namespace {namespace!r} matches {hit!r}"
            )
        label = selector_matches(labels or {}, params)
        if label:
            return Environment(True, EnvStatus.PRODUCTION, f"namespace {namespace!r} has {label}")
    if path:
        hit = _matches(path, _patterns(params, "productionPaths"))
        if hit:
            return Environment(True, EnvStatus.PRODUCTION, f"path {path!r} matches {hit!r}")
    if namespace:
        hit = _matches(namespace, _patterns(params, "nonProductionNamespaces"))
        if hit and (namespace != "default" or hit == "default"):
            return Environment(
                False, EnvStatus.NON_PRODUCTION, f"namespace {namespace!r} matches {hit!r}"
            )
    closed = fail_closed(params)
    if not namespace:
        return Environment(closed, EnvStatus.UNRESOLVED, "its namespace is not resolved")
    if namespace == "default":
        why = "it is in the 'default' namespace"
    else:
        why = f"namespace {namespace!r} matches no production or non-production pattern"
    return Environment(closed, EnvStatus.UNCLASSIFIED, why)


def fail_closed(params: Mapping[str, Any]) -> bool:
    """Whether unclassified and unresolved namespaces count as production (the default)."""
    return str(params.get("unclassifiedIs", "production")) != "non-production"


def is_production(
    namespace: str,
    params: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
    path: str = "",
) -> bool:
    """Shorthand for ``classify(...).production``."""
    return classify(namespace, params, labels=labels, path=path).production


def production_namespaces(
    names: Iterable[str],
    params: Mapping[str, Any],
    labels: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """The names among ``names`` judged as production, with their namespace labels."""
    return [n for n in names if is_production(n, params, labels.get(n))]
