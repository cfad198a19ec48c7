"""A read-only Kubernetes API fixture server (no real apiserver can run in CI)."""

from tests.kubeapi.server import Authz, Fault, FixtureApiServer, LoggedRequest, kubeconfig
from tests.kubeapi.store import ApiResource, LoadError, Store

__all__ = [
    "ApiResource",
    "Authz",
    "Fault",
    "FixtureApiServer",
    "LoadError",
    "LoggedRequest",
    "Store",
    "kubeconfig",
]
