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
        "<your-password>",
        "xxx",
        "",
    ],
)
def test_placeholders_references_and_paths_are_not_secrets(value: str) -> None:
    body = pod({"env": [{"name": "DB_PASSWORD", "value": value}]})
    assert found("Pod", body) == set()


def test_key_name_plus_entropy_in_env() -> None:
    body = pod({"env": [{"name": "ODOO_ADMIN_PASSWORD", "value": "Zq8#vLr2!pT9wXe4"}]})
    assert found("Pod", body) == {("spec.containers[0].env[0].value", "credential-literal")}


def test_flag_then_value_in_args() -> None:
    body = pod({"args": ["--db-host", "pg-rw", "--db-password", "Zq8#vLr2!pT9wXe4"]})
    assert found("Pod", body) == {("spec.containers[0].args[3]", "credential-literal")}


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
    assert found("ConfigMap", body) == {("data.SMTP_PASSWORD", "credential-literal")}


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


# --- issue 12 §1 detector gaps and issue 18 §1 credential names -------------------------


@pytest.mark.parametrize(
    ("env", "secret"),
    [
        ({"name": "REDIS_URL", "value": "redis://:Rp4ss@redis:6379/0"}, "Rp4ss"),
        ({"name": "MAIL", "value": "smtp://relay:p@ss#w/rd!@mail.internal:587"}, "p@ss#w/rd!"),
        ({"name": "DB_PW", "value": "weak"}, "weak"),
        ({"name": "DB_PWD", "value": "weak2"}, "weak2"),
        ({"name": "SMTP_PASS", "value": "hunter2"}, "hunter2"),
        ({"name": "CONN", "value": "Server=db;User Id=sa;pwd=Mon3y;"}, "Mon3y"),
        ({"name": "CONN2", "value": "host=db user=odoo password=odoo dbname=x"}, "odoo"),
        ({"name": "ODOO_DB_PASSWORD", "value": "odoo"}, "odoo"),
        ({"name": "API_TOKEN", "value": "abc"}, "abc"),
        ({"name": "STRIPE_KEY", "value": "k1"}, "k1"),
        ({"name": "GCP_PRIVATE_KEY_CONTENT", "value": "MIIEv"}, "MIIEv"),
    ],
)
def test_credential_literals_whatever_their_entropy(env: dict[str, str], secret: str) -> None:
    hits = find_secrets("Pod", pod({"env": [env]}))
    assert [h.path for h in hits] == ["spec.containers[0].env[0].value"]
    assert secret in hits[0].spellings()


@pytest.mark.parametrize(
    "env",
    [
        {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
        {"name": "DB_PASSWORD_PATH", "value": "secrets/db"},
        {"name": "TOKEN_SECRET_NAME", "value": "odoo-token"},
        {"name": "API_KEY_REF", "value": "vault-key"},
        {"name": "ACCESS_KEY_ID", "value": "minio"},
        {"name": "DB_URL", "value": "postgresql://pg-rw:5432/odoo"},
        {"name": "DB_PASSWORD", "value": "$(PGPASSWORD)"},
        {"name": "DB_PASSWORD", "value": "${PGPASSWORD}"},
        {"name": "DB_PASSWORD", "value": "{{ .Values.password }}"},
        {"name": "DB_PASSWORD", "value": "xxxx"},
        {"name": "DB_PASSWORD", "value": "CHANGEME"},
        {"name": "ETCD_INITIAL_CLUSTER_TOKEN", "value": "etcd-cluster-1"},
        {"name": "PASSWORD_ENCRYPTION", "value": "scram-sha-256"},
    ],
)
def test_pointers_references_placeholders_and_allow_list(env: dict[str, str]) -> None:
    assert found("Pod", pod({"env": [env]})) == set()


def test_etcd_initial_cluster_token_flag_is_allowed() -> None:
    body = pod({"command": ["etcd", "--initial-cluster-token", "etcd-cluster-1"]})
    assert found("Pod", body) == set()


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        (["mysql", "-h", "db", "-p", "Argpass1"], "Argpass1"),
        (["--password", "pw"], "pw"),
        (["sh", "-c", "pg_dump --password s3cr3t -h db"], "s3cr3t"),
        (["-H", "Authorization: Basic dXNlcjpwYXNzd29yZA=="], "password"),
        (["curl", "-H", "Authorization: Bearer abcdef123456", "http://x"], "abcdef123456"),
    ],
)
def test_credentials_in_command_lines(args: list[str], secret: str) -> None:
    hits = find_secrets("Pod", pod({"args": args}))
    assert hits, args
    assert any(secret in h.spellings() for h in hits)


def test_port_after_dash_p_is_not_a_password() -> None:
    assert found("Pod", pod({"args": ["redis-cli", "-p", "6379"]})) == set()


def test_traefik_basic_authorization_header() -> None:
    body = {
        "spec": {"headers": {"customRequestHeaders": {"Authorization": "Basic b2Rvbzpndy1QYXNz"}}}
    }
    hits = find_secrets("Middleware", body)
    assert [(h.path, h.kind) for h in hits] == [
        ("spec.headers.customRequestHeaders.Authorization", "authorization-header")
    ]
    assert "odoo:gw-Pass" in hits[0].spellings() and "gw-Pass" in hits[0].spellings()


@pytest.mark.parametrize(
    "header",
    [
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN  RSA  PRIVATE  KEY-----",
        "----BEGIN EC PRIVATE KEY----",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "-----  BEGIN PGP PRIVATE KEY BLOCK  -----",
    ],
)
def test_pem_private_keys_whatever_the_dashes(header: str) -> None:
    body = {"data": {"key.pem": f"{header}\nMIIEowIBAAKCAQEA7x\n-----END-----"}}
    assert found("ConfigMap", body) == {("data.key.pem", "private-key")}


def test_base64_encoded_pem_key() -> None:
    import base64

    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----\n"
    body = {"data": {"SIGNING": base64.b64encode(pem.encode()).decode()}}
    hits = find_secrets("ConfigMap", body)
    assert [(h.path, h.kind) for h in hits] == [("data.SIGNING", "private-key")]
    assert pem in hits[0].spellings()


def test_redis_acl_passwords() -> None:
    conf = "port 0\nuser default off\nuser app on >Redis-App-1 ~app:* +@read\nrequirepass rq-pass\n"
    hits = find_secrets("ConfigMap", {"data": {"redis.conf": conf}})
    assert {h.value for h in hits} == {"Redis-App-1", "rq-pass"}
    body = {"spec": {"user": "app on >Redis-App-2 ~* +@all"}}
    assert [h.kind for h in find_secrets("RedisConfig", body)] == ["redis-acl-password"]


def test_secret_with_only_public_certificates() -> None:
    import base64

    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    enc = base64.b64encode(cert.encode()).decode()
    assert found("Secret", {"data": {"ca.crt": enc}}) == {("data.ca.crt", "public-certificate")}
    key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----").decode()
    assert found("Secret", {"data": {"tls.crt": enc, "tls.key": key}}) == {
        ("data.tls.crt", "public-certificate"),
        ("data.tls.key", "kubernetes-secret"),
    }


def test_secret_data_carries_its_decoded_value() -> None:
    hits = find_secrets("Secret", {"data": {"password": "SHY1a1E5ekxt"}})
    assert hits[0].spellings() == ("SHY1a1E5ekxt", "Hv5kQ9zLm")


def test_scrubbing_a_secret_thousands_of_characters_long_does_not_exhaust_the_stack() -> None:
    """A long key (a PEM body, a bundle of tokens) is one literal run in the scrubber's trie:
    the corpus scan crashed with RecursionError before it was walked iteratively."""
    from scanner.redaction import scrub

    secret = "Kq9" * 7000
    text = scrub(f"value={secret} and {secret.lower()}", [secret, secret[:40] + "x"])
    assert secret not in text and secret.lower() not in text
    assert text.count("[REDACTED ") == 2


def test_secret_store_references_in_secret_data_are_not_values() -> None:
    """``op inject`` (1Password) writes the value at deploy time: the manifest holds an address."""
    body = {
        "stringData": {
            "token": "op://operations/1password/OP_SERVICE_ACCOUNT_TOKEN",
            "creds.json": "op://kubernetes/1password/OP_SESSION_JSON\n",
            "key": "ref+vault://secret/app#/key",
            "password": "op://not-a-reference",
        },
        "data": {"url": "b3A6Ly92YXVsdC9pdGVtL2ZpZWxk"},  # base64 of op://vault/item/field
    }
    assert found("Secret", body) == {("stringData.password", "kubernetes-secret")}


def test_helm_checksum_annotations_are_digests_not_secrets() -> None:
    """Rendered Helm charts roll pods on a config change through ``checksum/secret``: the
    value is the sha256 of the rendered Secret (Bitnami's Redis chart, among many)."""
    digest = "1f2e3d4c5b6a79880f1e2d3c4b5a69788f9e0d1c2b3a49586f7e8d9c0b1a2f3e"
    meta = {"annotations": {"checksum/secret": digest, "checksum/config": digest}}
    body = {"spec": {"template": {"metadata": meta, "spec": pod({})["spec"]}}}
    assert found("StatefulSet", body) == set()
    # a known token format is still found under a digest name, and a credential name beside
    meta["annotations"]["checksum/token"] = AWS_KEY
    meta["annotations"]["secret"] = "Zq8vLr2pT9wX"
    assert found("StatefulSet", body) == {
        ("spec.template.metadata.annotations.checksum/token", "aws-access-key"),
        ("spec.template.metadata.annotations.secret", "credential-literal"),
    }


def test_placeholders_in_secret_data_are_not_values() -> None:
    """A Secret committed with ``your-...-here`` or ``<...>`` holds no credential yet (issue 18:
    a placeholder is not a literal); a real value beside it, even a ``$``-led one, still counts."""
    import base64

    body = {
        "stringData": {
            "HF_API_KEY": "your-huggingface-api-key-here",
            "token": "<paste the token>",
            "ref": "${API_TOKEN}",
            "password": "$ecret-Pa55",
        },
        "data": {"api_key": base64.b64encode(b"changeme").decode()},
    }
    assert found("Secret", body) == {("stringData.password", "kubernetes-secret")}


def test_identity_names_in_secret_data_are_not_credentials() -> None:
    """A user name authenticates nobody: a Secret with a user name and an empty password
    holds no credential value, while the same Secret with a password does."""
    body = {"stringData": {"username": "root", "MYSQL_USER_NAME": "root", "password": ""}}
    assert found("Secret", body) == set()
    body["stringData"]["password"] = "test"
    assert found("Secret", body) == {("stringData.password", "kubernetes-secret")}
