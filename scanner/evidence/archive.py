"""Write and read a bundle as a folder or a ``.zip``, byte-for-byte reproducibly.

Zip entries are sorted, stamped with a fixed time and fixed permissions, so two
runs over the same inputs give identical archives.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from scanner import outputs
from scanner.errors import ReportError

#: DOS time stamp of every zip entry (the earliest a zip can hold).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MAX_MEMBER_SIZE = 256 * 1024 * 1024


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
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name in sorted(files):
                    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3
                    info.external_attr = 0o100644 << 16
                    archive.writestr(info, files[name], compresslevel=9)
            outputs.write_atomic(path, buffer.getvalue())
            return
        if path.exists() and not path.is_dir():
            raise ReportError(f"{path}: exists and is not a folder")
        earlier = path.is_dir() and any(path.iterdir())
        if earlier and not (path / "manifest.json").is_file():
            raise ReportError(
                f"{path}: folder is not empty and holds no evidence bundle; "
                "choose a new or empty folder"
            )
        outputs.replace_folder(path, dict(files), may_replace=True)
    except outputs.OutputError as exc:
        raise ReportError(str(exc)) from exc
    except OSError as exc:
        raise ReportError(f"cannot write evidence bundle {path}: {exc.strerror or exc}") from exc


def _safe_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts


def read(path: Path, corrupt: dict[str, str] | None = None) -> dict[str, bytes]:
    """Every file of a bundle folder or zip (name -> bytes); raises ReportError if unreadable.

    Zip entries that fail their CRC are recorded in ``corrupt`` (name -> reason) when
    given, so verification can name them; otherwise they raise.
    """
    try:
        if path.is_dir():
            return {
                p.relative_to(path).as_posix(): p.read_bytes()
                for p in sorted(path.rglob("*"))
                if p.is_file()
            }
        with zipfile.ZipFile(path) as archive:
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
