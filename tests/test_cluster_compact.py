"""Objects read from a cluster are kept as ``kubectl get -o yaml`` shows them: without
``metadata.managedFields``, which no rule reads and which is often a third of an object."""

from __future__ import annotations

from pathlib import Path

import yaml

from scanner.config import load_config
from scanner.evidence.snapshot import snapshot
from scanner.pipeline import ScanOutcome, run_scan
from scanner.rules import load_rules
from scanner.sources.kube import KubeSource
from scanner.sources.kubeclient import KubeClient, connect
from scanner.sources.kubeplan import matched_kinds
from tests.kubeapi.pki import make_pki
from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
from tests.kubeapi.store import Store


def _scan(tmp_path: Path, store: Store, page_size: int = 500) -> tuple[KubeSource, ScanOutcome]:
    """Serve ``store`` over TLS and scan it with the workload rules."""
    pki = make_pki(tmp_path / "pki")
    server = FixtureApiServer(store, Authz({"t": "t"}), pki).start()
    try:
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(kubeconfig(server.url, pki.ca_pem(), "t")))
        rules = load_rules(include=["LG-WKL-*"])
        source = KubeSource(KubeClient(connect(config)), matched_kinds(rules), page_size=page_size)
        return source, run_scan(source, load_config(None), rules=rules)
    finally:
        server.stop()


MANAGED = [
    {
        "manager": "argocd-controller",
        "operation": "Apply",
        "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {}}}},
    }
]


def test_managed_fields_are_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    store = Store()
    store.add_all(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "finance-prod"}},
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "odoo",
                    "namespace": "finance-prod",
                    "labels": {"app": "odoo"},
                    "annotations": {"team": "ledger"},
                    "managedFields": MANAGED,
                },
                "spec": {
                    "selector": {"matchLabels": {"app": "odoo"}},
                    "template": {
                        "metadata": {"labels": {"app": "odoo"}},
                        "spec": {"containers": [{"name": "app", "image": "odoo:17"}]},
                    },
                },
            },
        ]
    )
    _, outcome = _scan(tmp_path, store)
    deployments = [r for r in outcome.inventory.resources if r.ref.kind == "Deployment"]
    assert len(deployments) == 1
    meta = deployments[0].body["metadata"]
    assert "managedFields" not in meta
    assert meta["labels"] == {"app": "odoo"} and meta["annotations"] == {"team": "ledger"}
    assert meta["uid"] and meta["resourceVersion"]
    assert outcome.result.findings  # judged as usual
    bodies = [r["body"] for r in snapshot(outcome.inventory)["resources"]]
    assert all("managedFields" not in b.get("metadata", {}) for b in bodies)


def test_equal_string_values_of_listed_objects_are_one_object(tmp_path: Path) -> None:
    """Every list page is decoded on its own: without sharing, 50,000 workloads held 50,000
    copies of each repeated value (image, pull policy, seccomp type), a fifth of the
    inventory the scan keeps to its end."""
    image = "registry.finance.internal/odoo:17.0@sha256:" + "ab" * 32
    store = Store()
    store.add_all(
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"odoo-{i}", "namespace": "finance-prod"},
                "spec": {
                    "selector": {"matchLabels": {"app": "odoo"}},
                    "template": {
                        "metadata": {"labels": {"app": "odoo"}},
                        "spec": {"containers": [{"name": "app", "image": image}]},
                    },
                },
            }
            for i in range(3)
        ]
    )
    source, outcome = _scan(tmp_path, store, page_size=1)
    bodies = [r.body for r in outcome.inventory.resources if r.ref.kind == "Deployment"]
    images = [b["spec"]["template"]["spec"]["containers"][0]["image"] for b in bodies]
    assert len(images) == 3 and images[0] == image  # one page each: three decodings
    assert all(i is images[0] for i in images)
    assert [b["metadata"]["name"] for b in bodies] == ["odoo-0", "odoo-1", "odoo-2"]
    assert not source._strings  # the table lives while the scan lists, not after
