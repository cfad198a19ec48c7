"""Writing output files safely: only where told, atomically, never half-written.

The scanned tree is untrusted: a pull request can commit ``results.sarif`` as a symlink
to a file outside the repository, or a ``reports/`` folder that links elsewhere. Every
output path is therefore checked component by component, and written under a unique
temporary name in its folder, then renamed into place, so two concurrent scans never
leave a mixed file and an interrupted one never leaves a truncated one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from scanner.errors import ScannerError


class OutputError(ScannerError):
    """An output path the tool refuses to write, or cannot."""


@runtime_checkable
class Pieced(Protocol):
    """Files that can hand a member over in pieces (the evidence bundle's ``Members``,
    whose large members wait on disk): read whole, one of them was the bundle's peak."""

    def pieces(self, name: str) -> Iterator[bytes]: ...

    def size(self, name: str) -> int: ...


def member_pieces(files: Mapping[str, bytes], name: str) -> Iterator[bytes]:
    """``files[name]`` in pieces where ``files`` can give them, else whole."""
    if isinstance(files, Pieced):
        yield from files.pieces(name)
    else:
        yield files[name]


def member_size(files: Mapping[str, bytes], name: str) -> int:
    """``len(files[name])`` without reading a member that waits on disk."""
    return files.size(name) if isinstance(files, Pieced) else len(files[name])


def _outside(target: Path, *allowed: Path) -> bool:
    return not any(target.is_relative_to(folder) for folder in allowed)


def safe_target(path: Path, cwd: Path | None = None) -> Path:
    """The real file to write for ``path``; raises :class:`OutputError` for a symlink that
    leads outside the current directory (inside it) or outside the requested folder."""
    cwd = (cwd or Path.cwd()).resolve()
    wanted = Path(os.path.abspath(path))
    folder = wanted.parent
    prefix = Path(wanted.anchor)
    for part in wanted.parts[1:]:
        prefix = prefix / part
        if not prefix.is_symlink():
            continue
        try:
            real = prefix.resolve(strict=False)
        except (OSError, RuntimeError) as exc:
            raise OutputError(f"{path}: {prefix} is a symlink that cannot be resolved") from exc
        final = prefix == wanted
        inside = prefix.is_relative_to(cwd)
        if (final and _outside(real, cwd, folder.resolve())) or (inside and _outside(real, cwd)):
            raise OutputError(
                f"{path}: {prefix} is a symlink to {real}, outside the current directory; "
                "refusing to write through it"
            )
    return wanted.resolve()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a unique temporary file and a rename."""
    write_atomic_with(path, lambda handle: handle.write(data))


def write_atomic_with(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """:func:`write_atomic` of what ``write`` streams into the file (a large archive need
    not exist in memory first)."""
    target = safe_target(path)
    if target.exists() and not target.is_file():  # /dev/null, a FIFO: write, never replace
        with open(target, "wb") as stream:
            write(stream)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:  # including KeyboardInterrupt: never leave the temporary file
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder(path: Path, files: Mapping[str, bytes], may_replace: bool) -> None:
    """Write a folder of files beside ``path`` and swap it in with renames.

    ``may_replace`` says whether an existing folder at ``path`` is an earlier output that
    may be replaced as a whole.
    """
    target = safe_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    old: Path | None = None
    try:
        for name in sorted(files):
            member = staging / name
            member.parent.mkdir(parents=True, exist_ok=True)
            with open(member, "wb") as out:
                out.writelines(member_pieces(files, name))
        os.chmod(staging, 0o755)
        if target.exists():
            if not may_replace:
                raise OutputError(f"{path}: exists and may not be replaced")
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.replace(target, old / "bundle")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def remove_stale(paths: Iterable[Path | None]) -> None:
    """Remove an earlier run's outputs before scanning, so an interrupted or failed run
    never leaves a previous (passing) report under the requested name."""
    for path in paths:
        if path is None or str(path) == "-":
            continue
        target = safe_target(path)
        if target.is_file():
            target.unlink()
