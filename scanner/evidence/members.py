"""A bundle's files by name, the large ones held in a temporary folder beside the bundle.

At nightly scale the inventory snapshot and the population are hundreds of megabytes:
holding every member in memory until the archive was written added them all to the
scan's peak. A member over :data:`SPILL_OVER` bytes is written to disk when it is made
and read back (one at a time) where it is hashed, searched for leaks and archived. The
folder is beside the bundle, where the bundle goes anyway; a bundle bound for S3 is
built in ``TMPDIR``, so the S3 component sizes that ``emptyDir`` for a night's bundle.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path

#: Members larger than this go to disk (the findings, the HTML of a small scan stay).
SPILL_OVER = 8 * 1024 * 1024


class Members(MutableMapping[str, bytes]):
    """Name -> bytes, insertion-ordered; without a ``folder`` every member stays in memory.

    Call :meth:`close` (or use it as a context manager) to remove the temporary folder."""

    def __init__(self, folder: Path | None = None, spill_over: int | None = None) -> None:
        self._held: dict[str, bytes | Path] = {}
        self._folder = folder
        self._spill_over = SPILL_OVER if spill_over is None else spill_over
        self._temp: tempfile.TemporaryDirectory[str] | None = None
        self._numbers = itertools.count()

    def _spill_path(self) -> Path | None:
        if self._folder is None:
            return None
        if self._temp is None:
            self._folder.mkdir(parents=True, exist_ok=True)
            self._temp = tempfile.TemporaryDirectory(dir=self._folder, prefix=".ledgergate-")
        return Path(self._temp.name) / str(next(self._numbers))

    def __setitem__(self, name: str, data: bytes) -> None:
        path = self._spill_path() if len(data) > self._spill_over else None
        self._drop(name)
        if path is None:
            self._held[name] = data
            return
        path.write_bytes(data)
        self._held[name] = path

    def put_parts(self, name: str, parts: Iterable[bytes]) -> None:
        """Store a member made in pieces: written piece by piece when there is a folder,
        so the whole never exists in memory; joined otherwise."""
        path = self._spill_path()
        self._drop(name)
        if path is None:
            self._held[name] = b"".join(parts)
            return
        with open(path, "wb") as out:
            out.writelines(parts)
        self._held[name] = path

    def __getitem__(self, name: str) -> bytes:
        found = self._held[name]
        return found.read_bytes() if isinstance(found, Path) else found

    def pieces(self, name: str, piece: int = 1 << 22) -> Iterator[bytes]:
        """A member in pieces of ``piece`` bytes (read from disk one at a time), or whole
        when it is held in memory."""
        found = self._held[name]
        if not isinstance(found, Path):
            yield found
            return
        with found.open("rb") as fh:
            while chunk := fh.read(piece):
                yield chunk

    def size(self, name: str) -> int:
        """A member's size in bytes, without reading it."""
        found = self._held[name]
        return found.stat().st_size if isinstance(found, Path) else len(found)

    def _drop(self, name: str) -> None:
        found = self._held.pop(name, None)
        if isinstance(found, Path):
            found.unlink(missing_ok=True)

    def __delitem__(self, name: str) -> None:
        if name not in self._held:
            raise KeyError(name)
        self._drop(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, name: object) -> bool:
        return name in self._held

    def spilled(self) -> list[str]:
        """The members held on disk (for tests and the benchmark)."""
        return [name for name, found in self._held.items() if isinstance(found, Path)]

    def close(self) -> None:
        """Remove the temporary folder; spilled members cannot be read afterwards."""
        if self._temp is not None:
            self._temp.cleanup()
            self._temp = None

    def __enter__(self) -> Members:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
