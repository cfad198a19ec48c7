"""Fixture-cluster objects and the nightly-audit manifests are valid Kubernetes 1.31 objects
(strict: unknown fields rejected), so the fixture server serves what a real one could."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.kubeapi.fixtures import CLUSTER_FIXTURE

kv = pytest.importorskip("kubernetes_validate")
K8S_VERSION = "1.31"


def _objects(*folders: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text()):
                if (
                    isinstance(doc, dict)
                    and doc.get("apiVersion")
                    and doc.get("kind") != "Kustomization"
                ):
                    name = f"{path.relative_to(ROOT)}:{doc['kind']}/{doc['metadata']['name']}"
                    found.append((name, doc))
    return found


OBJECTS = _objects(CLUSTER_FIXTURE, ROOT / "deploy" / "nightly-audit" / "base")
CUSTOM = {
    "IngressRoute",
    "TLSOption",
    "Middleware",
    "Schedule",
    "Backup",
    "Restore",
    "BackupStorageLocation",
    "Cluster",
    "ScheduledBackup",
    "Application",
    "AppProject",
    "GitRepository",
}
CUSTOM_GROUPS = {
    "traefik.io/v1alpha1",
    "velero.io/v1",
    "postgresql.cnpg.io/v1",
    "argoproj.io/v1alpha1",
    "source.toolkit.fluxcd.io/v1",
}


@pytest.mark.parametrize(("name", "obj"), OBJECTS, ids=[n for n, _ in OBJECTS])
def test_object_is_valid(name: str, obj: dict[str, Any]) -> None:
    if obj["kind"] in CUSTOM:
        assert obj["apiVersion"] in CUSTOM_GROUPS
        return
    kv.validate(obj, K8S_VERSION, strict=True)


def test_every_custom_kind_has_its_crd_in_the_fixture() -> None:
    crds = {
        (o["spec"]["group"], o["spec"]["names"]["kind"])
        for _, o in OBJECTS
        if o["kind"] == "CustomResourceDefinition"
    }
    used = {(o["apiVersion"].split("/")[0], o["kind"]) for _, o in OBJECTS if o["kind"] in CUSTOM}
    assert used <= crds
