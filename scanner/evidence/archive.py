"""Write and read a bundle as a folder or a ``.zip``, byte-for-byte reproducibly.

Zip entries are sorted, stamped with a fixed time and fixed permissions, so two
runs over the same inputs give identical archives.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from scanner import outputs
from scanner.errors import ReportError

#: DOS time stamp of every zip entry (the earliest a zip can hold).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAX_MEMBER_SIZE = 256 * 1024 * 1024
#: Largest total of all members a bundle may unpack to (a zip bomb is refused unread).
MAX_TOTAL_SIZE = 512 * 1024 * 1024
MAX_ENTRIES = 10_000
#: Members already compressed (the gzipped population files) are stored as they are:
#: deflating them again cost seconds at nightly scale and saved nothing.
STORED_SUFFIXES = (".gz",)
#: zlib's default level: level 9 cost a third more time on the inventory snapshot for
#: an archive under 1 % smaller.
LEVEL = 6


def is_zip_path(path: Path) -> bool:
    """A bundle path ending in ``.zip`` is written as an archive."""
    return path.suffix.lower() == ".zip"


def write(files: Mapping[str, bytes], path: Path) -> None:
    """Write every file (name -> bytes) to a folder or a zip; replaces an old bundle.

    Both are written under a unique temporary name and renamed into place, so two
    concurrent scans never produce a mixed bundle and an interrupted one leaves none.
    """
    try:
        if is_zip_path(path):
            outputs.write_atomic_with(path, lambda stream: _write_zip(files, stream))
            return
        if path.exists() and not path.is_dir():
            raise ReportError(f"{path}: exists and is not a folder")
        earlier = path.is_dir() and any(path.iterdir())
        if earlier and not (path / "manifest.json").is_file():
            raise ReportError(
                f"{path}: folder is not empty and holds no evidence bundle; "
                "choose a new or empty folder"
            )
        outputs.replace_folder(path, files, may_replace=True)
    except outputs.OutputError as exc:
        raise ReportError(str(exc)) from exc
    except OSError as exc:
        raise ReportError(f"cannot write evidence bundle {path}: {exc.strerror or exc}") from exc


def _write_zip(files: Mapping[str, bytes], stream: BinaryIO) -> None:
    """The zip, written straight into ``stream`` (never a second copy in memory), each
    member copied in pieces: ``writestr`` wanted the whole member in memory, and the
    population of a nightly estate is 170 MB."""
    with zipfile.ZipFile(stream, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            stored = name.endswith(STORED_SUFFIXES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.file_size = outputs.member_size(files, name)  # as writestr sets it
            # what writestr's compresslevel sets (Python 3.13 also names it compress_level)
            info._compresslevel = None if stored else LEVEL  # type: ignore[attr-defined]
            with archive.open(info, "w") as member:
                for piece in outputs.member_pieces(files, name):
                    member.write(piece)


def _safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts


def _read_folder(path: Path) -> dict[str, bytes]:
    """A folder bundle; any symlink in it is refused (it could lead anywhere)."""
    out: dict[str, bytes] = {}
    total = 0
    for p in sorted(path.rglob("*")):
        if p.is_symlink():
            raise ReportError(
                f"{path}: {p.relative_to(path).as_posix()} is a symlink; a bundle holds "
                "only regular files"
            )
        if p.is_file():
            total += p.stat().st_size
            if total > MAX_TOTAL_SIZE:
                raise ReportError(f"{path}: files total over {MAX_TOTAL_SIZE:,} bytes")
            out[p.relative_to(path).as_posix()] = p.read_bytes()
    return out


def _check_zip(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuse what a reader could interpret two ways, or what would unpack unbounded."""
    infos = archive.infolist()
    names = [i.filename for i in infos]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ReportError(
            f"{path}: duplicate entry name(s) {', '.join(duplicates)}: a forged copy could "
            "shadow the signed one; refused"
        )
    if archive.comment:
        raise ReportError(f"{path}: the zip carries an archive comment; a bundle never does")
    if infos and min(i.header_offset for i in infos) != 0:
        raise ReportError(f"{path}: bytes before the first zip entry; refused")
    if len(infos) > MAX_ENTRIES:
        raise ReportError(f"{path}: more than {MAX_ENTRIES:,} entries")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_SIZE:
        raise ReportError(
            f"{path}: members would unpack to {total:,} bytes, over the "
            f"{MAX_TOTAL_SIZE:,}-byte cap (zip bomb?); refused"
        )


def read(path: Path, corrupt: dict[str, str] | None = None) -> dict[str, bytes]:
    """Every file of a bundle folder or zip (name -> bytes); raises ReportError if unreadable.

    Reading is strict: duplicate names, an archive comment, bytes before the first
    entry, symlinks in a folder and members over the size caps are refused. Zip entries
    that fail their CRC are recorded in ``corrupt`` (name -> reason) when given, so
    verification can name them; otherwise they raise.
    """
    try:
        if path.is_dir():
            return _read_folder(path)
        with zipfile.ZipFile(path) as archive:
            _check_zip(path, archive)
            out: dict[str, bytes] = {}
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if not _safe_name(info.filename):
                    raise ReportError(f"{path}: unsafe entry name {info.filename!r}")
                if info.file_size > MAX_MEMBER_SIZE:
                    raise ReportError(f"{path}: entry {info.filename} is too large")
                try:
                    out[info.filename] = archive.read(info)
                except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                    if corrupt is None:
                        raise ReportError(f"{path}: entry {info.filename}: {exc}") from exc
                    corrupt[info.filename] = str(exc)
            return out
    except (OSError, zipfile.BadZipFile) as exc:
        raise ReportError(f"cannot read evidence bundle {path}: {exc}") from exc


def read_member(source: IO[bytes], where: str, name: str) -> bytes:
    """One member of a bundle zip read from a seekable file object, after the same checks
    as :func:`read` (so a manifest can be read over ranged GETs without the rest)."""
    try:
        with zipfile.ZipFile(source) as archive:
            _check_zip(Path(where), archive)
            info = archive.getinfo(name)
            if not _safe_name(info.filename) or info.file_size > MAX_MEMBER_SIZE:
                raise ReportError(f"{where}: entry {name} is unsafe or too large")
            return archive.read(info)
    except KeyError as exc:
        raise ReportError(f"{where}: no {name} in the zip") from exc
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise ReportError(f"cannot read evidence bundle {where}: {exc}") from exc
