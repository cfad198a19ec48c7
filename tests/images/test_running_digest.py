"""A live Pod is judged by the digest the kubelet pulled, not by the tag in its spec."""

from __future__ import annotations

from scanner.analyzers.image_report import ImageAnalyzer
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef

RUNNING = "registry.finance.internal/erp/odoo@sha256:" + "a" * 64


def _pod(image_id: str) -> Resource:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "odoo-1", "namespace": "finance-prod"},
        "spec": {
            "containers": [{"name": "odoo", "image": "registry.finance.internal/erp/odoo:17"}]
        },
        "status": {"containerStatuses": [{"name": "odoo", "imageID": image_id}]},
    }
    return Resource(ResourceRef("v1", "Pod", "finance-prod", "odoo-1"), body, Origin(cluster="c"))


def _judged(image_id: str) -> dict[str, object]:
    inventory = Inventory()
    inventory.add(_pod(image_id))
    reports = {
        RUNNING: {"digest": "sha256:" + "a" * 64, "signature": {"status": "trusted"}},
        "registry.finance.internal/erp/odoo:17": {"digest": "sha256:" + "b" * 64},
    }
    result = ImageAnalyzer(reports).analyze(inventory, {})
    container: dict[str, object] = result.facts[0]["imageReport"]["containers"][0]
    return container


def test_running_digest_is_judged() -> None:
    for image_id in (f"docker-pullable://{RUNNING}", RUNNING):
        judged = _judged(image_id)
        assert judged["image"] == RUNNING
        assert judged["declaredImage"] == "registry.finance.internal/erp/odoo:17"
        assert judged["digest"] == "sha256:" + "a" * 64


def test_without_a_usable_image_id_the_spec_image_is_judged() -> None:
    judged = _judged("sha256:" + "c" * 64)  # a bare image id names no repository
    assert judged["image"] == "registry.finance.internal/erp/odoo:17"
