"""Redis clients in clear text (LG-ENC-017): the heuristic's edges, on exact facts."""

from __future__ import annotations

import json

import pytest

from scanner.analyzers.redis_clients import configures_client, is_local, plain_connections


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("/var/run/redis.sock", True),
        ("redis.prod.svc", False),
        ("10.0.0.7", False),
    ],
)
def test_only_the_pod_itself_is_local(host: str, local: bool) -> None:
    assert is_local(host) is local


def test_urls_flag_only_plain_scheme_to_remote_hosts_and_never_carry_the_password() -> None:
    found = plain_connections(
        [
            ("data.a", "BROKER", "redis://:hunter2-secret@queue.prod:6379/0"),
            ("data.b", "RESULTS", "rediss://queue.prod:6380/1"),
            ("data.c", "LOCAL", "redis://localhost:6379"),
            ("data.d", "TEMPLATED", "redis://$(REDIS_HOST):6379"),
        ]
    )
    assert found == [
        {"path": "data.a", "setting": "BROKER", "target": "queue.prod:6379", "why": "redis://"}
    ]
    assert "hunter2" not in json.dumps(found)


@pytest.mark.parametrize(
    ("beside", "words", "flagged"),
    [
        ([], [], True),
        ([("e", "REDIS_TLS", "true")], [], False),
        ([("e", "REDIS_SSL", "false")], [], True),
        ([("e", "CACHE_URL", "rediss://cache:6380")], [], False),
        ([], ["--redis-use-tls"], False),
    ],
)
def test_a_host_setting_is_plain_unless_something_beside_it_turns_tls_on(
    beside: list[tuple[str, str, str]], words: list[str], flagged: bool
) -> None:
    settings = [("e", "ODOO_SESSION_REDIS_HOST", "sessions.prod.svc"), *beside]
    found = plain_connections(settings, words)
    assert bool(found) is flagged


def test_names_that_only_mention_redis_are_not_host_settings() -> None:
    settings = [("e", "REDIS_PORT", "6379"), ("e", "REDIS_HOST_FILE", "/etc/redis/host")]
    assert plain_connections(settings) == []


def test_a_reference_is_no_evidence_either_way() -> None:
    """Argo CD reads REDIS_SERVER through valueFrom: the workload is not judged at all."""
    assert not configures_client([("e", "REDIS_SERVER", "$(REDIS_SERVER)")])
    assert configures_client([("e", "REDIS_SERVER", "argocd-redis:6379")])
    assert configures_client([("e", "BROKER", "rediss://queue:6380")])


def test_the_redis_flag_is_a_host_setting_at_its_value() -> None:
    """Argo CD takes its Redis address as ``--redis host:port`` (or ``--redis=...``); the
    finding points at the word holding the address."""
    from scanner.analyzers.redis_clients import flag_settings

    container = {
        "command": ["argocd-server"],
        "args": ["--redis", "argocd-redis-ha-haproxy:6379", "--redis=cache:6379", "--redis-x"],
    }
    settings = flag_settings("spec.containers[0]", container)
    assert settings == [
        ("spec.containers[0].args[1]", "--redis", "argocd-redis-ha-haproxy:6379"),
        ("spec.containers[0].args[2]", "--redis", "cache:6379"),
    ]
    assert [p["target"] for p in plain_connections(settings)] == [
        "argocd-redis-ha-haproxy:6379",
        "cache:6379",
    ]
    assert plain_connections(settings, ["--redis-use-tls"]) == []
    assert plain_connections([("a", "--redis", "localhost:6379")]) == []
