"""Keys for cached renders: a digest of every file a render can read, and the renderer.

``kubectl kustomize`` with ``LoadRestrictionsRootOnly`` reads only below the folders of
the kustomizations it visits, so a root's key hashes every file below each folder of its
closure (names, bytes, symlink targets; ``.git`` left out), whether Git tracks it or not:
a git-ignored ``.env`` a ``secretGenerator`` reads counts. A symlinked folder below a
root (which Kustomize would follow) makes the root uncacheable. The renderer's identity
is the binary's path, size and modification time (no process start per scan).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from scanner import cache

#: A key part meaning "cannot be keyed": the caller renders without the cache.
UNCACHEABLE = None


class TreeHasher:
    """File digests of one repository, each file read once per scan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_text = os.fspath(root)
        self._files: dict[str, bytes] = {}
        self._folders: dict[str, bytes | None] = {}

    def file(self, rel: str) -> bytes:
        """sha256 of a regular file's bytes; a symlink adds its target text and reads the
        target only when it is a regular file inside the repository (never a FIFO or a
        file outside: hashing must neither hang nor read beyond the tree)."""
        known = self._files.get(rel)
        if known is None:
            known = self._files[rel] = self._digest(os.path.join(self._root_text, rel))
        return known

    def _digest(self, full: str) -> bytes:
        """String paths and one sized read: pathlib objects and 1 MiB read buffers per
        file were half of hashing a warm hook run's 2,000 files."""
        h = hashlib.sha256()
        try:
            if os.path.islink(full):
                h.update(b"link\0" + os.fsencode(os.readlink(full)) + b"\0")
                target = Path(full).resolve()
                if not target.is_relative_to(self.root):
                    return h.digest()
                full = os.fspath(target)
            # O_NONBLOCK: opening a FIFO does not wait for a writer; fstat then refuses it
            fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    return hashlib.sha256(b"not a regular file\0" + h.digest()).digest()
                want = min(info.st_size + 1, 1 << 22)  # a large file: 4 MiB at a time
                while chunk := os.read(fd, want):
                    h.update(chunk)
            finally:
                os.close(fd)
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            h.update(f"unreadable\0{exc}".encode())
        return h.digest()

    def folder(self, rel: str) -> bytes | None:
        """Digest of every file below ``rel``; None when a symlinked folder is below it."""
        if rel in self._folders:
            return self._folders[rel]
        h = hashlib.sha256()
        base = os.path.join(self._root_text, rel) if rel not in ("", ".") else self._root_text
        prefix = self._root_text.rstrip("/") + "/"
        result: bytes | None = None
        for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            if any(os.path.islink(os.path.join(dirpath, d)) for d in dirnames):
                break
            here = dirpath.removeprefix(prefix) if dirpath != self._root_text else ""
            for name in sorted(filenames):
                path = f"{here}/{name}" if here else name
                h.update(os.fsencode(path) + b"\0" + self.file(path))
        else:
            result = h.digest()
        self._folders[rel] = result
        return result


def program_identity(path: str | None) -> str | None:
    """A program's path, size and modification time (None when it is not there)."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{os.path.realpath(path)}\0{info.st_size}\0{info.st_mtime_ns}"


def kustomize_key(
    hasher: TreeHasher, folders: Iterable[str], root_folder: str, program: str, options: str
) -> bytes | None:
    """The key of one root's render, or None when one of its folders cannot be keyed."""
    parts = [root_folder, program, options]
    for folder in sorted(folders):
        folder_digest = hasher.folder(folder)
        if folder_digest is None:
            return None
        parts.append(folder)
        parts.append(folder_digest.hex())
    return cache.digest("kustomize", parts)
