"""Registry approval is decided in an analyzer (facts.imageRegistry), not in CEL."""

from __future__ import annotations

import pytest

from scanner.analyzers.registries import (
    RegistryApprovalAnalyzer,
    approved_registries,
    is_approved,
)
from scanner.errors import AnalyzerError
from scanner.inventory import Inventory
from scanner.model import Origin, Resource, ResourceRef

APPROVED = ("registry.finance.internal", "ghcr.io/ledgergate-demo/")


@pytest.mark.parametrize(
    ("image", "approved"),
    [
        ("registry.finance.internal/erp/odoo:17.0", True),
        ("registry.finance.internal:5000/erp/odoo", True),  # a port is the same host
        ("registry.finance.internal@sha256:" + "a" * 64, True),
        ("registry.finance.internal", True),
        ("registry.finance.internal.evil.example/erp/odoo", False),  # look-alike host
        ("registry.finance.internalx/odoo", False),
        ("ghcr.io/ledgergate-demo/proxy:1.0", True),
        ("ghcr.io/ledgergate-demo-fork/proxy:1.0", False),  # the entry ends in '/'
        ("odoo:17.0", False),  # Docker Hub shorthand
    ],
)
def test_entries_match_on_a_path_boundary(image: str, approved: bool) -> None:
    assert is_approved(image, APPROVED) is approved


@pytest.mark.parametrize("value", [None, "registry.finance.internal/", [""], [3], {"a": 1}])
def test_an_unreadable_allow_list_fails_closed(value: object) -> None:
    with pytest.raises(AnalyzerError, match="approvedRegistries"):
        approved_registries({"approvedRegistries": value})


def _pod(containers: list[dict[str, object]]) -> Resource:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}
    body["spec"] = {"containers": containers}
    return Resource(ResourceRef("v1", "Pod", "ns", "p"), body, Origin("pod.yaml", 1, 9))


def test_the_fact_names_each_unapproved_container() -> None:
    inventory = Inventory()
    inventory.add(_pod([
        {"name": "ok", "image": "ghcr.io/ledgergate-demo/app:1"},
        {"name": "hub", "image": "redis:7"},
        {"name": "later"},  # an image injected later is not judged
    ]))  # fmt: skip
    facts = RegistryApprovalAnalyzer().analyze(inventory, {"approvedRegistries": APPROVED}).facts
    assert facts == {
        0: {
            "imageRegistry": {
                "unapproved": [{"name": "hub", "path": "spec.containers[1]", "image": "redis:7"}]
            }
        }
    }
