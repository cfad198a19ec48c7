"""Image references: registry, repository, tag and digest, with Docker Hub's defaults.

``nginx`` means ``docker.io/library/nginx:latest``; the first path component is a
registry only when it looks like a host (has a dot or a port, or is ``localhost``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.errors import ScannerError

DOCKER_HUB = "docker.io"
#: Where Docker Hub's registry API actually lives.
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")


class ImageRefError(ScannerError):
    """An image reference that does not parse."""


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference; ``tag`` and ``digest`` may both be set (``repo:tag@sha256:…``)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Host (and port) the distribution API is served on."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository``: what cosign calls the docker-reference."""
        return f"{self.registry}/{self.repository}"

    @property
    def pinned(self) -> bool:
        """True when the reference names content (a digest), not a movable tag."""
        return self.digest is not None

    @property
    def reference(self) -> str:
        """What to put after ``/manifests/``: the digest when known, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_digest(self, digest: str) -> ImageRef:
        """The same image pinned to ``digest``."""
        return ImageRef(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def _split_registry(rest: str) -> tuple[str, str]:
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower(), remainder
    return DOCKER_HUB, rest


def parse(text: str) -> ImageRef:
    """Parse ``[registry/]repo[:tag][@digest]``; raises :class:`ImageRefError` when invalid."""
    raw = text.strip()
    if not raw or any(ch.isspace() for ch in raw):
        raise ImageRefError(f"invalid image reference {text!r}: empty or contains spaces")
    rest, _, digest = raw.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ImageRefError(f"invalid image reference {text!r}: bad digest {digest!r}")
    registry, path = _split_registry(rest)
    tag: str | None = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :]
        if not _TAG.match(tag):
            raise ImageRefError(f"invalid image reference {text!r}: bad tag {tag!r}")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.match(part) for part in path.split("/")):
        raise ImageRefError(f"invalid image reference {text!r}: bad repository {path!r}")
    if tag is None and not digest:
        tag = DEFAULT_TAG
    return ImageRef(registry, path, tag, digest or None)
