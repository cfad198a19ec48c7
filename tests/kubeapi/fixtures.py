"""Session fixtures: the fixture API server serving the Odoo finance cluster, and kubeconfigs.

Set ``LEDGERGATE_TEST_KUBECONFIG`` to run the same tests against a real cluster; tests
that need the server's knobs or request log then skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.kubeapi.pki import make_pki
from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
from tests.kubeapi.store import Store

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_FIXTURE = ROOT / "fixtures" / "clusters" / "odoo-finance"
SCANNER_TOKEN = "scanner-token-7f3a"
SCANNER_USER = "system:serviceaccount:ledgergate:scanner"
LIMITED_TOKEN = "limited-token-91c2"
LIMITED_USER = "system:serviceaccount:ledgergate:limited"
#: A user whose access is exactly a ClusterRole's grants (set by tests via ``authz.allowed``).
ROLE_TOKEN = "role-token-5d8e"
ROLE_USER = "system:serviceaccount:ledgergate:role-bound"


@dataclass
class KubeTarget:
    """Where the tests point: a kubeconfig, plus the server when it is ours."""

    kubeconfig: Path
    server: FixtureApiServer | None
    folder: Path

    def need_server(self) -> FixtureApiServer:
        """The fixture server, or skip when running against a real cluster."""
        if self.server is None:
            pytest.skip("needs the fixture API server (LEDGERGATE_TEST_KUBECONFIG is set)")
        return self.server

    def kubeconfig_for(self, token: str, name: str) -> Path:
        """Another kubeconfig for the fixture server, with a different token."""
        server = self.need_server()
        assert server.pki is not None
        path = self.folder / f"kubeconfig-{name}"
        path.write_text(yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), token)))
        return path


def start_server(folder: Path, workdir: Path) -> FixtureApiServer:
    """Serve ``folder`` over TLS with the scanner and limited tokens."""
    authz = Authz({SCANNER_TOKEN: SCANNER_USER, LIMITED_TOKEN: LIMITED_USER, ROLE_TOKEN: ROLE_USER})
    authz.allowed[ROLE_USER] = set()
    authz.deny(LIMITED_USER, "rbac.authorization.k8s.io", "clusterrolebindings")
    return FixtureApiServer(Store.from_folder(folder), authz, make_pki(workdir / "pki")).start()


@pytest.fixture(scope="session")
def kube_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeTarget]:
    """The Odoo finance fixture cluster behind TLS, or the cluster of LEDGERGATE_TEST_KUBECONFIG."""
    workdir = tmp_path_factory.mktemp("kubeapi")
    real = os.environ.get("LEDGERGATE_TEST_KUBECONFIG")
    if real:
        yield KubeTarget(Path(real), None, workdir)
        return
    server = start_server(CLUSTER_FIXTURE, workdir)
    assert server.pki is not None
    path = workdir / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), SCANNER_TOKEN)))
    try:
        yield KubeTarget(path, server, workdir)
    finally:
        server.stop()


@pytest.fixture
def kube_server(kube_target: KubeTarget) -> Iterator[FixtureApiServer]:
    """The fixture server with its fault knobs cleared after each test."""
    server = kube_target.need_server()
    server.faults.clear()
    yield server
    server.faults.clear()
