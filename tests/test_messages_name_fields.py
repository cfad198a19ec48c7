"""A secret finding's message names the field a reviewer must change (the env var, the
container, the Secret's key), never the value."""

from __future__ import annotations

import shutil
from pathlib import Path

from scanner.analyzers.secrets import field_name
from scanner.cli.util import load_scan_config
from scanner.pipeline import scan_repo
from scanner.shipped import rules_dir

CASES = {
    "LG-SEC-002/fail.password-literal.yaml": (
        "LG-SEC-002",
        "container odoo env PGPASSWORD",
        "Zq8#vLr2!pT9wXe4",
    ),
    "LG-SEC-002/fail.dsn-in-init-container.yaml": (
        "LG-SEC-002",
        "init container wait-db env DATABASE_URL",
        "Tk3mWq9vXz2L",
    ),
}


def test_field_names_follow_list_items_by_name() -> None:
    body = {"spec": {"containers": [{"name": "sync", "args": ["a", "b"], "env": [{"x": 1}]}]}}
    assert field_name(body, "spec.containers[0].args[1]") == "container sync args[1]"
    assert field_name(body, "spec.containers[0].env[0].value") == "container sync env[0]"
    assert field_name({"data": {"password": "x"}}, "data.password") == "data.password"


def test_secret_messages_name_the_env_var_and_container(tmp_path: Path) -> None:
    for name in CASES:
        shutil.copy(rules_dir() / "secrets" / name, tmp_path / name.replace("/", "-"))
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: finance-prod}\n"
        "stringData:\n  password: 'Wq7#rT2vLp9xZe4!'\n",
        encoding="utf-8",
    )
    result = scan_repo(tmp_path, load_scan_config(tmp_path, None))
    failed = [(f.rule_id, f.message) for f in result.findings if f.status.value == "fail"]
    for rule, words, value in CASES.values():
        messages = [m for r, m in failed if r == rule and words in m]
        assert messages, (words, failed)
        assert all(value not in m for m in messages)
    secret = [m for r, m in failed if r == "LG-SEC-001"]
    assert secret == ["Secret db holds values in the manifest: stringData.password"]


def test_load_balancer_message_names_only_the_clear_text_ports() -> None:
    """LG-ENC-012 names the port to change, not every port of the Service (443 is TLS and
    80 redirects beside it)."""
    from scanner.config import default_params
    from scanner.rules import load_rules
    from scanner.ruletest import fixture_findings

    rule = next(r for r in load_rules() if r.id == "LG-ENC-012")
    fixture = rules_dir() / "encryption" / "LG-ENC-012" / "fail.plain-port-beside-tls.yaml"
    found = fixture_findings(rule, fixture, default_params())
    (finding,) = [f for f in found if f.rule_id == rule.id]
    assert "port(s) 8069/odoo:" in finding.message
    assert "443" not in finding.message and "80/http" not in finding.message
    assert [e.path for e in finding.evidence] == ["spec.ports[port=8069].port"]


#: Rules whose message once said only what was wrong ("TLSOption does not set sniStrict
#: true"): a reviewer reading the table or the PR comment saw neither object nor field.
NAMING = (
    *("LG-BAK-001", "LG-BAK-003", "LG-BAK-004", "LG-BAK-005", "LG-ENC-003", "LG-ENC-008"),
    *("LG-TLS-001", "LG-TLS-002", "LG-TLS-003", "LG-TLS-004", "LG-TLS-008"),
)


def test_messages_name_the_object_and_the_field() -> None:
    import re

    from scanner.config import default_params
    from scanner.rules import load_rules
    from scanner.ruletest import fixture_findings, fixtures_of

    checked = 0
    for rule in (r for r in load_rules() if r.id in NAMING):
        for fixture in (f for f in fixtures_of(rule) if f.name.startswith("fail.")):
            for f in fixture_findings(rule, fixture, default_params()):
                if f.rule_id != rule.id or f.status.value != "fail":
                    continue
                assert f.resource is not None and f.resource.name in f.message, f.message
                if f.evidence:  # a field of another object (a plugin's store) is not named
                    field = re.sub(r"\[.*?\]", "", f.evidence[0].path).rsplit(".", 1)[-1]
                    assert field == "spec" or field in f.message, (rule.id, field, f.message)
                checked += 1
    assert checked >= len(NAMING)
