"""Bitnami Redis containers: listener settings read from REDIS_* variables (LG-ENC-005)."""

from __future__ import annotations

from typing import Any

from scanner.analyzers.redis_args import bitnami_settings


def _container(image: str, **env: str) -> dict[str, Any]:
    repository = image.split(":", 1)[0]
    return {
        "name": "redis",
        "image": image,
        "_image": {"repository": repository},
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }


def test_chart_with_tls_closes_the_plain_port() -> None:
    settings = bitnami_settings(
        _container(
            "docker.io/bitnami/redis:7.2",
            REDIS_TLS_ENABLED="yes",
            REDIS_TLS_PORT="6379",
            REDIS_TLS_CERT_FILE="/c/tls.crt",
            REDIS_TLS_KEY_FILE="/c/tls.key",
        )
    )
    assert settings == {
        "port": "0",
        "tls-port": "6379",
        "tls-cert-file": "/c/tls.crt",
        "tls-key-file": "/c/tls.key",
    }


def test_tls_off_or_a_second_port_leaves_clear_text_open() -> None:
    off = bitnami_settings(_container("bitnami/redis:7", REDIS_TLS_ENABLED="no", REDIS_PORT="6379"))
    assert off == {"port": "6379"}
    second = bitnami_settings(
        _container("bitnami/redis:7", REDIS_TLS_ENABLED="yes", REDIS_TLS_PORT_NUMBER="6380")
    )
    assert second == {"port": "6379", "tls-port": "6380"}


def test_only_bitnami_redis_images_with_redis_variables_are_read() -> None:
    assert bitnami_settings(_container("redis:7", REDIS_TLS_ENABLED="no")) is None
    assert bitnami_settings(_container("bitnami/odoo:17", REDIS_TLS_ENABLED="no")) is None
    assert bitnami_settings(_container("bitnami/redis:7")) is None
    secret_ref = _container("bitnami/redis:7")
    secret_ref["env"] = [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "x"}}}]
    assert bitnami_settings(secret_ref) is None
