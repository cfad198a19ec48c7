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


def test_a_configmap_redis_conf_is_judged_only_where_a_container_runs_it() -> None:
    from scanner.analyzers.redis_mounts import RedisMountAnalyzer
    from scanner.inventory import Inventory
    from scanner.model import Origin, Resource, ResourceRef

    def resource(body: dict[str, Any]) -> Resource:
        ref = ResourceRef(
            body["apiVersion"],
            body["kind"],
            body["metadata"]["namespace"],
            body["metadata"]["name"],
        )
        return Resource(ref, body, Origin(), {})

    conf = "port 6379\ntls-port 6380\nrequirepass planted-redis-secret-93\n"
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "p"},
        "data": {"redis.conf": conf},
    }

    def workload(namespace: str, mount_path: str) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cache", "namespace": namespace},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "redis",
                                "image": "redis:7",
                                "command": ["redis-server", "/etc/redis/redis.conf", "--port", "0"],
                                "volumeMounts": [{"name": "c", "mountPath": mount_path}],
                            }
                        ],
                        "volumes": [{"name": "c", "configMap": {"name": "cfg"}}],
                    }
                }
            },
        }

    def synthesised(*bodies: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        inventory = Inventory.from_items([resource(b) for b in bodies])
        found = RedisMountAnalyzer().analyze(inventory, {}).resources
        return [(r.ref.name, r.body["spec"]) for r in found]

    mounted = synthesised(config_map, workload("p", "/etc/redis"))
    # the flag after the file overrides its port; the password never leaves the analyzer
    assert mounted == [
        (
            "ConfigMap cfg redis.conf (Deployment cache redis mount args)",
            {"port": "0", "tls-port": "6380"},
        )
    ]
    assert synthesised(config_map, workload("p", "/srv/other")) == []
    assert synthesised(config_map, workload("q", "/etc/redis")) == []
    assert synthesised(workload("p", "/etc/redis")) == []
