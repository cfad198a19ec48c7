"""The shared secret detector (scanner.redaction): what it finds, and what it must leave alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner.redaction import find_secrets

# Synthetic, well-formed test credentials (never real ones).
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----"
AWS_KEY = "AKIA" + "Q7ZKXW3NP2LM5RT8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvZG9vLXdvcmtlciJ9.c2lnbmF0dXJlLXZhbHVlLXgx"
AZURE = "DefaultEndpointsProtocol=https;AccountName=ledger;AccountKey=" + "Zm9v" * 22 + "=="


def pod(container: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "c", "image": "i", **container}]}}


def found(kind: str, body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(h.path, h.kind) for h in find_secrets(kind, body)}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (PEM, "private-key"),
        (AWS_KEY, "aws-access-key"),
        (JWT, "jwt"),
        (AZURE, "azure-storage-key"),
        ("postgresql://odoo:Zq8vLr2pT9@pg-rw:5432/odoo", "dsn-password"),
    ],
)
def test_known_formats_in_env_values(value: str, kind: str) -> None:
    body = pod({"env": [{"name": "SETTING", "value": value}]})
    assert found("Pod", body) == {("spec.containers[0].env[0].value", kind)}


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://odoo:${PGPASSWORD}@pg-rw:5432/odoo",
        "postgresql://odoo:$(DB_PASSWORD)@pg-rw:5432/odoo",
        "$(DB_PASSWORD)",
        "$PGPASSWORD",
        "{{ .password }}",
        "/run/secrets/odoo-db/password",
        "changeme",
        "short",
    ],
)
def test_placeholders_references_and_paths_are_not_secrets(value: str) -> None:
    body = pod({"env": [{"name": "DB_PASSWORD", "value": value}]})
    assert found("Pod", body) == set()


def test_key_name_plus_entropy_in_env() -> None:
    body = pod({"env": [{"name": "ODOO_ADMIN_PASSWORD", "value": "Zq8#vLr2!pT9wXe4"}]})
    assert found("Pod", body) == {("spec.containers[0].env[0].value", "high-entropy-credential")}


def test_flag_then_value_in_args() -> None:
    body = pod({"args": ["--db-host", "pg-rw", "--db-password", "Zq8#vLr2!pT9wXe4"]})
    assert found("Pod", body) == {("spec.containers[0].args[3]", "high-entropy-credential")}


def test_inline_assignment_in_args_and_shell_command() -> None:
    body = pod(
        {
            "command": ["sh", "-c", "PGPASSWORD=Zq8vLr2pT9wXe4 pg_dump -h pg-rw odoo"],
            "args": ["--api-token=Xk29fLq0Zr8sTn4v", "--password-file=/run/secrets/pw"],
        }
    )
    hits = find_secrets("Pod", body)
    assert {(h.path, h.kind) for h in hits} == {
        ("spec.containers[0].command[2]", "assigned-credential"),
        ("spec.containers[0].args[0]", "assigned-credential"),
    }
    # Only the credential itself is kept (so it can be fingerprinted and scrubbed).
    assert {h.value for h in hits} == {"Zq8vLr2pT9wXe4", "Xk29fLq0Zr8sTn4v"}


def test_config_file_in_configmap() -> None:
    conf = "[options]\nadmin_passwd = Zq8#vLr2!pT9wXe4\ndb_password = False\ndb_host = pg\n"
    body = {"data": {"odoo.conf": conf, "LOG_LEVEL": "info"}}
    hits = find_secrets("ConfigMap", body)
    assert [(h.path, h.kind, h.value) for h in hits] == [
        ("data.odoo.conf", "assigned-credential", "Zq8#vLr2!pT9wXe4")
    ]


def test_configmap_key_named_like_a_secret() -> None:
    body = {"data": {"SMTP_PASSWORD": "Zq8#vLr2!pT9wXe4", "SMTP_PASSWORD_FILE": "/etc/smtp/pw"}}
    assert found("ConfigMap", body) == {("data.SMTP_PASSWORD", "high-entropy-credential")}


def test_last_applied_configuration_of_a_secret() -> None:
    applied = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "odoo-db", "namespace": "finance-prod"},
        "stringData": {"password": "weak"},
    }
    key = "kubectl.kubernetes.io/last-applied-configuration"
    body = {"metadata": {"name": "odoo-db", "annotations": {key: json.dumps(applied)}}}
    assert found("Secret", body) == {
        (f"metadata.annotations.{key}:stringData.password", "kubernetes-secret")
    }


def test_last_applied_configuration_without_values_is_clean() -> None:
    applied = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "odoo"}}
    key = "kubectl.kubernetes.io/last-applied-configuration"
    body = {"metadata": {"annotations": {key: json.dumps(applied)}}}
    assert found("Deployment", body) == set()


def test_sealed_secret_ciphertext_is_not_a_literal() -> None:
    body = {
        "spec": {
            "encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq" * 4},
            "template": {"metadata": {"name": "odoo-db"}, "type": "Opaque"},
        }
    }
    assert found("SealedSecret", body) == set()


def test_external_secret_references_are_not_literals() -> None:
    body = {
        "spec": {
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault-finance"},
            "target": {
                "name": "odoo-db",
                "template": {"data": {"DSN": "postgresql://odoo:{{ .password }}@pg-rw/odoo"}},
            },
            "data": [
                {"secretKey": "password", "remoteRef": {"key": "finance/odoo/db-credentials"}}
            ],
        }
    }
    assert found("ExternalSecret", body) == set()


def test_secret_data_values_all_count() -> None:
    body = {"data": {"password": "c3VwZXJzZWNyZXQ=", "empty": ""}}
    assert found("Secret", body) == {("data.password", "kubernetes-secret")}


@pytest.mark.parametrize(
    ("name", "flagged"),
    [("AUTH_METHOD", False), ("OAUTH_ISSUER", False), ("REDIS_AUTH", True), ("BASIC_AUTH", True)],
)
def test_auth_keys_are_credentials_but_auth_settings_are_not(name: str, flagged: bool) -> None:
    body = pod({"env": [{"name": name, "value": "scram-sha-256-Xq9"}]})
    assert bool(found("Pod", body)) is flagged


def test_same_secret_same_label_whether_fingerprinted_before_or_not() -> None:
    from scanner.redaction import fingerprint, redact_value

    value = "Zq8#vLr2!pT9wXe4"
    assert redact_value(value, [], sensitive=True) == f"[REDACTED {fingerprint(value)}]"
    assert redact_value(fingerprint(value), [], sensitive=True) == redact_value(value, [], True)


def test_huge_keyword_runs_scan_in_linear_time() -> None:
    # Unbounded name parts made this quadratic (minutes); bounded, it is well under a second.
    text = "password" * 50_000 + " " + "token=" * 50_000
    assert find_secrets("ConfigMap", {"data": {"blob": text}}) == []


def test_references_to_secrets_by_name_are_not_secrets() -> None:
    body = {
        "spec": {
            "tls": {"secretName": "erp-finance-tls"},
            "credentialsFile": "/credentials/cloud",
            "existingSecretName": "odoo-db-credentials",
        }
    }
    assert found("IngressRoute", body) == set()
