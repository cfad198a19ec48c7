"""``ledgergate scan image`` end to end: real registry, real trivy, trust flags, gating."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from scanner.cli.image import scan_image_cmd

from .conftest import Registry
from .test_trivy import FILES, REPORT


def _run(*args: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(scan_image_cmd, [*args, "--format", "json"], catch_exceptions=False)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        data = {}
    return result.exit_code, data, result.output


def _statuses(data: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(f["ruleId"], f["resource"]["name"]): f["status"] for f in data.get("findings", [])}


def test_signed_non_root_image_passes_and_unsigned_root_image_fails(
    registry: Registry, keys, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    key, pub = keys["release"]
    _, other_pub = keys["other"]
    p, host = registry.pusher, registry.host
    good = p.image("cli/good", "v1", user="1000")
    p.cosign_sign("cli/good", good, key, reference=f"{host}/cli/good")
    p.image("cli/bad", "v1", user="root")
    # a trivy that prints a report in trivy's documented JSON schema (the real trivy
    # cannot download its vulnerability database here)
    fake = tmp_path / "trivy"
    report = tmp_path / "report.json"
    report.write_text(json.dumps(REPORT))
    fake.write_text(f"#!/bin/sh\ncat {report}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    config = tmp_path / "ledgergate.yaml"
    config.write_text(
        f"params:\n  maxFixableCriticalAgeDays: 365\n  imageScan: {{trivy: {fake}}}\n"
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1793491200")  # 2026-11-01
    good_ref, bad_ref = f"{host}/cli/good:v1", f"{host}/cli/bad:v1"
    code, data, out = _run(
        good_ref, bad_ref, "--key", str(pub), "--key", str(other_pub),
        "--insecure-registry", host, "--config", str(config),
    )  # fmt: skip
    assert code == 1, out
    assert _statuses(data) == {
        ("LG-IMG-050", good_ref): "pass",
        ("LG-IMG-051", good_ref): "pass",
        ("LG-IMG-052", good_ref): "pass",
        ("LG-IMG-050", bad_ref): "fail",
        ("LG-IMG-051", bad_ref): "pass",
        ("LG-IMG-052", bad_ref): "fail",
    }
    # the same report fails when the allowed age is shorter than the oldest fixable critical
    config.write_text(f"params:\n  maxFixableCriticalAgeDays: 30\n  imageScan: {{trivy: {fake}}}\n")
    code, data, _ = _run(
        good_ref, "--key", str(pub), "--insecure-registry", host, "--config", str(config)
    )
    assert _statuses(data)[("LG-IMG-051", good_ref)] == "fail"
    message = next(f["message"] for f in data["findings"] if f["ruleId"] == "LG-IMG-051")
    assert message.endswith(f"{good_ref} (2 fixable critical, oldest 92 days)")


def test_real_trivy_without_database_makes_the_vulnerability_rule_error(
    registry: Registry, keys, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key, pub = keys["release"]
    digest = registry.pusher.image("cli/trivy", "v1", user="1000", files=FILES)
    registry.pusher.cosign_sign("cli/trivy", digest, key, reference=f"{registry.host}/cli/trivy")
    config = tmp_path / "ledgergate.yaml"
    config.write_text(f"params:\n  imageScan: {{trivyCacheDir: {tmp_path / 'cache'}}}\n")
    evidence = tmp_path / "evidence"
    ref = f"{registry.host}/cli/trivy@{digest}"
    code, data, out = _run(
        ref, "--key", str(pub), "--insecure-registry", registry.host, "--config", str(config),
        "--image-evidence-dir", str(evidence),
    )  # fmt: skip
    assert code == 1, out
    statuses = _statuses(data)
    assert statuses == {
        ("LG-IMG-050", ref): "pass",
        ("LG-IMG-051", ref): "error",
        ("LG-IMG-052", ref): "pass",
    }
    message = next(f["message"] for f in data["findings"] if f["ruleId"] == "LG-IMG-051")
    assert "trivy vulnerability database not present" in message
    stem = digest.replace(":", "-")
    assert sorted(p.name for p in evidence.iterdir()) == [f"{stem}.cdx.json"]
    bom = json.loads((evidence / f"{stem}.cdx.json").read_text())
    assert "musl" in {c["name"] for c in bom["components"]}


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, _, out = _run("Not A Ref")
    assert code == 2 and "invalid image reference" in out
    code, _, out = _run("nginx", "--certificate-identity", "me@example.com")
    assert code == 2 and "--certificate-oidc-issuer" in out
    not_a_key = tmp_path / "key.pub"
    not_a_key.write_text("hello")
    code, _, out = _run("nginx", "--key", str(not_a_key))
    assert code == 2 and "cannot load public key" in out
    code, _, out = _run(
        "nginx", "--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "https://i"
    )
    assert code == 2 and "bad regexp" in out


def test_keyless_identity_flags(registry: Registry, tmp_path: Path) -> None:
    from .oci import attach_bundle
    from .sigstore_fake import FakeSigstore, cosign_statement

    instance = FakeSigstore()
    root = tmp_path / "trusted_root.json"
    root.write_text(json.dumps(instance.trusted_root()))
    p, host = registry.pusher, registry.host
    digest = p.image("cli/keyless", "v1", user="1000", files={"k": b"1"})
    attach_bundle(
        p,
        "cli/keyless",
        digest,
        instance.dsse_bundle(
            cosign_statement(digest),
            identity="https://ci.example/finance/odoo/.ci/release.yml@refs/heads/main",
            issuer="https://issuer.test",
        ),
    )
    ref = f"{host}/cli/keyless:v1"
    base = ["--insecure-registry", host, "--trusted-root", str(root), "--no-vulnerabilities"]
    base += ["--certificate-oidc-issuer", "https://issuer.test"]
    _, data, out = _run(
        ref, *base, "--certificate-identity-regexp", r"^https://ci\.example/finance/"
    )
    assert _statuses(data)[("LG-IMG-050", ref)] == "pass", out
    _, data, _ = _run(ref, *base, "--certificate-identity", "someone@else.example")
    assert _statuses(data)[("LG-IMG-050", ref)] == "fail"


def test_config_errors_in_image_trust_name_the_field(tmp_path: Path) -> None:
    config = tmp_path / "ledgergate.yaml"
    config.write_text("params:\n  imageTrust:\n    identities:\n      - {subject: a@b.c}\n")
    code, _, out = _run("nginx", "--config", str(config))
    assert code == 2 and "params.imageTrust.identities.0" in out and "issuer" in out


def test_image_options_decorator_for_other_commands(tmp_path: Path, keys) -> None:  # type: ignore[no-untyped-def]
    import click

    from scanner.cli.image import ImageFlags, image_options
    from scanner.config import load_config

    _, pub = keys["release"]
    seen: list[ImageFlags] = []

    @click.command()
    @image_options()
    def cmd(image_flags: ImageFlags) -> None:
        seen.append(image_flags)

    result = CliRunner().invoke(
        cmd,
        ["--images", "--key", str(pub), "--insecure-registry", "r:5000",
         "--certificate-identity", "a@b.c", "--certificate-oidc-issuer", "https://i"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    defaults = load_config(None)
    params = seen[0].apply(defaults).params
    # only "scanning is on" reaches the params rules see (the scope report reads it);
    # keys, identities and registries go into the typed settings the analyzer gets
    assert params["imageScan"] == {"enabled": True}
    assert params.get("imageTrust") == defaults.params.get("imageTrust")
    settings = seen[0].settings(defaults)
    assert settings.enabled
    assert [k.name for k in settings.scan.trust.keys] == [pub.name]
    assert [(i.issuer, i.subject) for i in settings.scan.trust.identities] == [
        ("https://i", "a@b.c")
    ]
    assert settings.registry.insecure == frozenset({"r:5000"})
    CliRunner().invoke(cmd, [])
    assert not (seen[1].apply(load_config(None)).params.get("imageScan") or {}).get("enabled")
    assert not seen[1].settings(load_config(None)).enabled


def test_fact_at_reports_per_resource_errors() -> None:
    from scanner.engine import fact_at

    facts = {"imageReport": {"containers": [], "signatures": {"_error": "registry down"}}}
    assert fact_at(facts, "imageReport") == (True, "")
    assert fact_at(facts, "imageReport.signatures") == (False, "registry down")
    assert fact_at(facts, "imageReport.config") == (False, "")
    assert fact_at({}, "imageReport") == (False, "")
