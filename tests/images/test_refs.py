"""Image reference parsing, with Docker Hub's defaults."""

from __future__ import annotations

import pytest

from scanner.imageref import ImageRefError, parse

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("127.0.0.1:5000/erp/odoo:17.0", "127.0.0.1:5000", "erp/odoo", "17.0", None),
        (f"ghcr.io/org/app@{D}", "ghcr.io", "org/app", None, D),
        (
            f"registry.finance.internal/erp/odoo:17.0@{D}",
            "registry.finance.internal",
            "erp/odoo",
            "17.0",
            D,
        ),
        ("REGISTRY.example.com:443/a/b", "registry.example.com:443", "a/b", "latest", None),
    ],
)
def test_parse(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert ref.pinned is (digest is not None)


def test_docker_hub_api_host_and_display() -> None:
    ref = parse("nginx:1.27")
    assert ref.api_host == "registry-1.docker.io"
    assert str(ref) == "docker.io/library/nginx:1.27"
    assert parse("127.0.0.1:5000/app").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    "text",
    ["", "Nginx", "nginx:", "nginx@sha256:abc", "a b", "nginx:-bad", "reg.io/UPPER/x", "x//y"],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ImageRefError):
        parse(text)
