"""How the scanner reaches a cluster: kubeconfig contexts, in-cluster service account, custom CA."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli.cluster import cluster
from scanner.errors import ConfigError
from scanner.model import Status
from scanner.sources import kubeclient
from tests.kubeapi.fixtures import SCANNER_TOKEN, KubeTarget
from tests.kubeapi.scan import expected_problems, problems, scan_cluster
from tests.kubeapi.server import FixtureApiServer


def test_in_cluster_service_account(
    kube_server: FixtureApiServer,
    kube_target: KubeTarget,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kubernetes.config.incluster_config as incluster

    assert kube_server.pki is not None
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text(SCANNER_TOKEN)
    ca.write_bytes(kube_server.pki.ca_pem())
    url = urlsplit(kube_server.url)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", str(url.hostname))
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(url.port))
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setattr(kubeclient, "IN_CLUSTER_TOKEN", token)
    conn = kubeclient.connect()
    assert conn.context == "in-cluster" and conn.server == kube_server.url
    client = kubeclient.KubeClient(conn)
    assert client.get("/version")["gitVersion"]


def test_context_is_chosen_and_recorded(kube_target: KubeTarget, tmp_path: Path) -> None:
    cfg = yaml.safe_load(kube_target.kubeconfig.read_text())
    cfg["contexts"].append({"name": "audit", "context": dict(cfg["contexts"][0]["context"])})
    cfg["contexts"][0]["context"] = {"cluster": "nowhere", "user": "nobody"}
    path = tmp_path / "two-contexts"
    path.write_text(yaml.safe_dump(cfg))
    conn = kubeclient.connect(path, "audit")
    assert conn.context == "audit"
    with pytest.raises(ConfigError):
        kubeclient.connect(path, "no-such-context")


def test_custom_ca_overrides_the_kubeconfig(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    assert kube_server.pki is not None
    cfg = yaml.safe_load(kube_target.kubeconfig.read_text())
    del cfg["clusters"][0]["cluster"]["certificate-authority-data"]
    bare = tmp_path / "no-ca"
    bare.write_text(yaml.safe_dump(cfg))
    untrusted, _ = scan_cluster(bare, timeout_s=2)
    assert untrusted.findings and all(f.status is Status.ERROR for f in untrusted.findings)
    assert any(
        "certificate" in c.reason.lower() or "ssl" in c.reason.lower() for c in untrusted.coverage
    )
    ca = tmp_path / "ca.crt"
    ca.write_bytes(kube_server.pki.ca_pem())
    trusted, _ = scan_cluster(bare, ca_file=ca)
    assert problems(trusted) == expected_problems()


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cluster, ["--kubeconfig", str(tmp_path / "absent")])
    assert missing.exit_code == 2
    assert "cannot load Kubernetes configuration" in missing.output


def test_client_certificate_authentication(
    kube_server: FixtureApiServer, kube_target: KubeTarget, tmp_path: Path
) -> None:
    import base64

    from tests.kubeapi.pki import client_cert

    assert kube_server.pki is not None
    cert, key = client_cert(kube_server.pki, "ledgergate-auditor", ("finance:auditors",))
    cfg = yaml.safe_load(kube_target.kubeconfig.read_text())
    cfg["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode(),
    }
    path = tmp_path / "cert-kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    start = len(kube_server.log)
    result, _ = scan_cluster(path)
    assert problems(result) == expected_problems()
    assert {r.user for r in kube_server.log[start:]} == {"ledgergate-auditor"}
