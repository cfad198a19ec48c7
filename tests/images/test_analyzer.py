"""The images analyzer and rules end to end against a real registry: facts, findings, requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scanner.analyzers.image_report import ImageAnalyzer
from scanner.analyzers.secrets import SecretLiteralsAnalyzer
from scanner.config import default_params
from scanner.engine import Engine
from scanner.images.registry import RegistryClient, RegistryOptions
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.rules import load_rules
from scanner.sources.repo import RepoSource

from .conftest import Registry, free_port


def _deployment(name: str, images: list[str], pod_security: dict[str, Any] | None = None) -> str:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    }
    if pod_security:
        spec["securityContext"] = pod_security
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "finance-prod"},
            "spec": {"selector": {}, "template": {"spec": spec}},
        }
    )


def _scan(folder: Path, params: dict[str, Any], client: RegistryClient) -> tuple[Any, Any]:
    rules = load_rules(include=["LG-IMG-05*"])
    analyzer = ImageAnalyzer(client=client)
    inventory = Inventory.from_items(RepoSource(folder).collect())
    findings, _ = Engine(rules, params, [SecretLiteralsAnalyzer(), analyzer]).run(inventory)
    return inventory, findings


def test_workloads_get_one_report_per_digest(registry: Registry, keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, pub = keys["release"]
    p, host = registry.pusher, registry.host
    signed = p.image("e2e/api", "v1", user="1000")
    p.cosign_sign("e2e/api", signed, key, reference=f"{host}/e2e/api")
    root_amd = p.image("e2e/worker", "amd64", user="")
    root_arm = p.image("e2e/worker", "arm64", user="1000")
    index = p.index("e2e/worker", "v2", {"linux/amd64": root_amd, "linux/arm64": root_arm})
    api_tag, api_pin = f"{host}/e2e/api:v1", f"{host}/e2e/api@{signed}"
    worker = f"{host}/e2e/worker:v2"
    missing = f"{host}/e2e/missing:v9"
    # 40 workloads referencing the same few images, by tag and by digest
    for i in range(40):
        images = [api_tag, api_pin, worker] if i % 2 else [api_pin, worker]
        (tmp_path / f"d{i:02}.yaml").write_text(_deployment(f"app{i:02}", images))
    (tmp_path / "broken.yaml").write_text(_deployment("broken", [missing]))
    (tmp_path / "override.yaml").write_text(
        _deployment("override", [worker], {"runAsNonRoot": True, "runAsUser": 1000})
    )
    params = {
        **default_params(),
        "imageScan": {"enabled": True, "vulnerabilities": False, "workers": 4},
        "imageTrust": {"keys": [str(pub)]},
    }
    client = RegistryClient(RegistryOptions(insecure=frozenset({host}), retries=0))
    inventory, findings = _scan(tmp_path, params, client)

    # no manifest or blob fetched twice, each tag resolved once
    repeated = {k: n for k, n in client.requests.items() if n > 1}
    assert repeated == {}
    heads = sorted(k for k in client.requests if k.startswith("HEAD"))
    assert heads == [
        f"HEAD {host}/v2/e2e/api/manifests/v1",
        f"HEAD {host}/v2/e2e/missing/manifests/v9",
        f"HEAD {host}/v2/e2e/worker/manifests/v2",
    ]

    facts = {r.ref.name: r.facts["imageReport"] for r in inventory.resources}
    app1 = facts["app01"]["containers"]
    assert [(c["image"], c["digest"], c["pinned"]) for c in app1] == [
        (api_tag, signed, False),
        (api_pin, signed, True),
        (worker, index, False),
    ]
    assert app1[0]["signature"]["status"] == "trusted"
    assert app1[2]["signature"]["status"] == "unsigned"
    assert (app1[2]["user"], app1[2]["runAsRoot"]) == ("", True)  # linux/amd64 of the index
    assert facts["broken"]["signatures"]["_error"].startswith(f"{missing}: ")

    by_rule: dict[tuple[str, str], set[str]] = {}
    for f in findings:
        by_rule.setdefault((f.rule_id, f.status.value), set()).add(f.resource.name)
    apps = {f"app{i:02}" for i in range(40)}
    assert by_rule[("LG-IMG-050", "fail")] == apps | {"override"}  # the worker is unsigned
    assert by_rule[("LG-IMG-050", "error")] == {"broken"}
    assert by_rule[("LG-IMG-052", "fail")] == apps  # worker runs as root
    assert by_rule[("LG-IMG-052", "pass")] == {"override"}
    assert by_rule[("LG-IMG-051", "error")] == apps | {"override", "broken"}
    broken = next(f for f in findings if f.rule_id == "LG-IMG-050" and f.status is Status.ERROR)
    assert "not found (HTTP 404)" in broken.message


def test_registry_down_makes_image_rules_error(keys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, pub = keys["release"]
    host = f"127.0.0.1:{free_port()}"
    (tmp_path / "d.yaml").write_text(_deployment("down", [f"{host}/a/b:1"]))
    params = {
        **default_params(),
        "imageScan": {"enabled": True, "vulnerabilities": False},
        "imageTrust": {"keys": [str(pub)]},
    }
    client = RegistryClient(RegistryOptions(insecure=frozenset({host}), retries=1, backoff=0.01))
    _, findings = _scan(tmp_path, params, client)
    assert {(f.rule_id, f.status.value) for f in findings} == {
        ("LG-IMG-050", "error"),
        ("LG-IMG-051", "error"),
        ("LG-IMG-052", "error"),
    }
    assert all(f.message.endswith("registry unreachable: connection refused") for f in findings)


def test_disabled_image_scanning_errors_with_a_clear_reason(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(_deployment("off", ["nginx:1.27"]))
    rules = load_rules(include=["LG-IMG-05*"])
    inventory = Inventory.from_items(RepoSource(tmp_path).collect())
    judgement = Engine(rules, default_params(), [ImageAnalyzer()]).judge(inventory)
    findings = list(judgement.findings)
    assert {(f.rule_id, f.status.value) for f in findings} == {
        ("LG-IMG-050", "error"),
        ("LG-IMG-051", "error"),
        ("LG-IMG-052", "error"),
    }
    assert {f.message for f in findings if f.rule_id == "LG-IMG-050"} == {
        "rule could not be evaluated: fact 'imageReport.signatures' could not be derived: "
        "image scanning not enabled: run with --images (or set params.imageScan.enabled: true) "
        "so image signatures, vulnerabilities and users are checked, or exclude these rules "
        "under rules.exclude in ledgergate.yaml"
    }
    assert judgement.failures == ()  # no coverage gap: scanning images was simply not asked for


def test_no_trust_configured_is_an_error_not_a_pass(registry: Registry, tmp_path: Path) -> None:
    digest = registry.pusher.image("e2e/notrust", "v1", user="1")
    (tmp_path / "d.yaml").write_text(_deployment("nt", [f"{registry.host}/e2e/notrust@{digest}"]))
    params = {**default_params(), "imageScan": {"enabled": True, "vulnerabilities": False}}
    client = RegistryClient(RegistryOptions(insecure=frozenset({registry.host})))
    _, findings = _scan(tmp_path, params, client)
    sig = next(f for f in findings if f.rule_id == "LG-IMG-050")
    assert sig.status is Status.ERROR and "no trusted keys or identities" in sig.message


def test_trivy_runs_once_per_digest_across_repositories(
    registry: Registry, keys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _, pub = keys["release"]
    p, host = registry.pusher, registry.host
    files = {"same": b"content"}
    first = p.image("dedupe/one", "v1", files=files, user="1")
    second = p.image("dedupe/two", "v1", files=files, user="1")
    assert first == second
    log = tmp_path / "trivy.log"
    fake = tmp_path / "trivy"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\necho \'{{"SchemaVersion": 2, "Results": []}}\'\n'
    )
    fake.chmod(0o755)
    images = [f"{host}/dedupe/one:v1", f"{host}/dedupe/two:v1", f"{host}/dedupe/one@{first}"]
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "d.yaml").write_text(_deployment("dd", images))
    params = {
        **default_params(),
        "imageScan": {"enabled": True, "trivy": str(fake), "workers": 4},
        "imageTrust": {"keys": [str(pub)]},
    }
    client = RegistryClient(RegistryOptions(insecure=frozenset({host})))
    inventory, findings = _scan(tmp_path / "repo", params, client)
    assert len(log.read_text().splitlines()) == 1
    report = inventory.resources[0].facts["imageReport"]
    assert [c["vulnerabilities"]["fixableCritical"] for c in report["containers"]] == [0, 0, 0]
    assert {(f.rule_id, f.status.value) for f in findings} == {
        ("LG-IMG-050", "fail"),
        ("LG-IMG-051", "pass"),
        ("LG-IMG-052", "pass"),
    }
