"""bench_cluster's realistic estate is compliant by construction except its stated share;
the failing estate fails on every Deployment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bench.bench_cluster import VIOLATING, objects
from scanner.cli import cli
from tests.kubeapi.pki import make_pki
from tests.kubeapi.server import Authz, FixtureApiServer, kubeconfig
from tests.kubeapi.store import Store

OBJECTS = 1200


def _scan(tmp: Path, estate: str) -> dict:  # type: ignore[type-arg]
    store = Store()
    store.add_all(objects(OBJECTS, estate))
    server = FixtureApiServer(store, Authz({"bench": "bench"}), make_pki(tmp / "pki")).start()
    try:
        assert server.pki is not None
        config = tmp / "kubeconfig"
        config.write_text(yaml.safe_dump(kubeconfig(server.url, server.pki.ca_pem(), "bench")))
        out = tmp / "report.json"
        done = CliRunner().invoke(
            cli,
            ["scan", "cluster", "--kubeconfig", str(config), "--fail-on=none",
             "--format=json", "-o", str(out)],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        return json.loads(out.read_text())  # type: ignore[no-any-return]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # type: ignore[type-arg]
    yield _scan(tmp_path_factory.mktemp("realistic"), "realistic")


def _violating(name: str) -> bool:
    found = re.fullmatch(r"obj-(\d+)", name)
    return found is not None and (int(found.group(1)) // 10) % round(1 / VIOLATING) == 0


def test_realistic_estate_fails_only_on_its_violating_share(realistic: dict) -> None:  # type: ignore[type-arg]
    problems = [f for f in realistic["findings"] if f["status"] in ("fail", "error")]
    assert problems, "the stated share does violate"
    assert not [f for f in problems if f["status"] == "error"]
    named = {(f["resource"] or {}).get("name", "") for f in problems}
    assert all(_violating(n) for n in named), sorted(n for n in named if not _violating(n))
    workloads = [o for o in objects(OBJECTS, "realistic") if o["metadata"]["name"][:4] == "obj-"]
    share = len(named) / len(workloads)
    assert share <= VIOLATING * 1.2
    # one or two violations per object (an image by tag fails the digest and pull rules)
    per_object: dict[str, set[str]] = {}
    for f in problems:
        per_object.setdefault(f["resource"]["name"], set()).add(f["ruleId"])
    assert max(len(v) for v in per_object.values()) <= 3
    assert {"LG-WKL-010", "LG-RBAC-008", "LG-TLS-005"} <= {f["ruleId"] for f in problems}
    assert realistic["summary"]["pass"] > 20 * len(problems)


def test_failing_estate_fails_every_deployment(tmp_path: Path) -> None:
    doc = _scan(tmp_path, "failing")
    failing = {
        f["resource"]["name"]
        for f in doc["findings"]
        if f["status"] == "fail" and (f["resource"] or {}).get("kind") == "Deployment"
    }
    deployments = {o["metadata"]["name"] for o in objects(OBJECTS) if o["kind"] == "Deployment"}
    assert failing == deployments
