"""A content-addressed cache of derived data: parsed documents per file, render outputs.

A pre-commit hook or a ``--base`` scan reads the same files again and again; parsing
them and running ``kubectl kustomize`` / the Helm engine on unchanged inputs dominated
those runs. Each entry is found by a digest of *everything* its value was derived from
(file bytes, the renderer's identity and options, this tool's version and the entry
format), never by a path or a name, so a pull request can only ever produce entries
for its own content: it cannot make a scan of other content read its data.

Trust and secrets:

- The cache lives outside the scanned tree (``--cache-dir``, ``$LEDGERGATE_CACHE_DIR``,
  else ``$XDG_CACHE_HOME/ledgergate``), chosen by the command line, never by the
  repository's ``ledgergate.yaml``; ``--no-cache`` turns it off.
- Entries are data (JSON), never code: no pickle, nothing is imported or evaluated.
- Parsed documents and rendered manifests can hold what the source files held,
  secret values included. Each entry is therefore encrypted (AES-256-GCM) under a key
  derived from its content digest, and stored under another digest of it: reading an
  entry needs the inputs it was derived from, so the cache tells nobody anything that
  the repository did not already tell them (only "this exact content was scanned here"
  can be confirmed by someone who already holds it).
- GCM authenticates: a truncated, corrupt or forged entry fails to decrypt and is
  ignored (the value is derived again and the entry rewritten), never trusted.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scanner import __version__

#: Bump when the shape of any cached value changes.
FORMAT = 1
ENV_DIR = "LEDGERGATE_CACHE_DIR"
_NONCE = 12


def default_dir() -> Path:
    """``$LEDGERGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/ledgergate`` (``~/.cache``)."""
    configured = os.environ.get(ENV_DIR)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "ledgergate"


def digest(kind: str, parts: Iterable[bytes | str]) -> bytes:
    """The content digest of one entry: its kind, format, tool version and inputs."""
    h = hashlib.sha256()
    for part in (f"ledgergate-cache/{FORMAT}/{__version__}/{kind}", *parts):
        raw = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(raw).to_bytes(8, "big"))  # length-prefixed: no two splits collide
        h.update(raw)
    return h.digest()


def canonical(value: Any) -> bytes | None:
    """One JSON spelling of ``value`` (keys sorted), or None when it has none.

    Dates, dataclasses and ``str``/``int`` subclasses are refused rather than spelled like
    a plain string or number, so two different inputs cannot share a key.
    """
    import orjson

    options = (
        orjson.OPT_SORT_KEYS
        | orjson.OPT_PASSTHROUGH_SUBCLASS
        | orjson.OPT_PASSTHROUGH_DATETIME
        | orjson.OPT_PASSTHROUGH_DATACLASS
    )
    try:
        return orjson.dumps(value, option=options)
    except TypeError:  # orjson.JSONEncodeError included
        return None


@functools.cache
def code_digest() -> str:
    """Digest of every module of this package and the CEL runtime's version, for entries
    derived by running this code (verdicts, analyzer results): changed code, a version
    bump or not, never reads what older code derived."""
    from importlib import metadata

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    try:
        h.update(metadata.version("cel-expr-python").encode())
    except metadata.PackageNotFoundError:
        h.update(b"cel-expr-python: unknown")
    return h.hexdigest()


class Cache:
    """Entries under one folder; every failure to read or write is a miss, not an error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._prefix = os.fspath(folder)
        self.hits = 0
        self.misses = 0

    def _where(self, key: bytes) -> tuple[Path, bytes]:
        return Path(self._file(key)), hashlib.sha256(b"key\0" + key).digest()

    def _file(self, key: bytes) -> str:
        """The entry's file, as a string: a warm hook run looks up 6,000 entries, and
        building each name as a ``Path`` was a sixth of every lookup."""
        name = hashlib.sha256(b"name\0" + key).hexdigest()
        return os.path.join(self._prefix, name[:2], name[2:])

    def get(self, key: bytes) -> Any | None:
        """The value stored for ``key``; None when absent, unreadable or not authentic."""
        import orjson
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        secret = hashlib.sha256(b"key\0" + key).digest()
        try:
            with open(self._file(key), "rb") as handle:
                blob = handle.read()
            plain = AESGCM(secret).decrypt(blob[:_NONCE], blob[_NONCE:], key)
            value = orjson.loads(plain)
        except (OSError, ValueError, InvalidTag):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: bytes, value: Any) -> None:
        """Store ``value`` (JSON data) for ``key``; silently skipped when it cannot be."""
        import orjson
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        path, secret = self._where(key)
        try:
            plain = orjson.dumps(value)
        except TypeError:
            return
        nonce = os.urandom(_NONCE)
        blob = nonce + AESGCM(secret).encrypt(nonce, plain, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
            os.replace(tmp, path)  # atomic: a reader sees the old entry or the new one
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


_active: list[Cache] = []


def configure(folder: Path | None) -> Cache | None:
    """Use a cache under ``folder`` for the rest of this process (None: no cache).

    Set by the command line only: the scanned repository's configuration cannot move it.
    """
    _active.clear()
    if folder is not None:
        _active.append(Cache(folder))
    return active()


def active() -> Cache | None:
    """The cache this process uses, if one was configured."""
    return _active[0] if _active else None
