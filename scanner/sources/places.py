"""Evidence lines placed in a document, kept in the content cache between runs.

A file served from the content cache has no node trees, so a finding whose evidence needs
a line composes its document again (pure-Python composing: 265 documents, about 0.8 s of
a warm full scan of the corpus, twice under ``--base``). Where an evidence field lies
depends only on the document's text and on the field asked for, so the answers are kept
per document: keyed by the file's text, the document's place in it and this tool's code
(every module's bytes), encrypted like every entry (``scanner.cache``). A field is named
in the entry by a digest, never by its value, which may be a secret.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from scanner import cache
from scanner.model import Evidence, ResourceRef

#: Bump when a stored entry's shape changes.
FORMAT = 1


def _name(ref: ResourceRef | None, evidence: Evidence) -> str:
    """The field asked for: what placing it reads (the kind, the path, the value)."""
    kind = [ref.api_version, ref.kind] if ref is not None else ["", ""]
    parts = [*kind, evidence.path, evidence.value]
    h = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8", "surrogateescape")
        h.update(len(raw).to_bytes(8, "big") + raw)
    return h.hexdigest()[:32]


def _valid(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(type(v) is int for v in value)


class DocumentPlaces:
    """The places of one document's evidence fields known so far; :meth:`save` stores
    what this run added."""

    def __init__(self, text: str, offset: int, items: tuple[int, ...]) -> None:
        self.store = cache.active()
        self.key: bytes | None = None
        self.known: dict[str, list[int]] = {}
        self.added = False
        if self.store is None:
            return
        where = [cache.code_digest(), text, str(offset), ",".join(map(str, items))]
        self.key = cache.digest(f"evidence-places/{FORMAT}", where)
        stored = self.store.get(self.key)
        if isinstance(stored, dict):
            self.known = {k: v for k, v in stored.items() if isinstance(k, str) and _valid(v)}

    def get(self, ref: ResourceRef | None, evidence: Evidence) -> Evidence | None:
        """The evidence placed as an earlier run placed it; None when not known."""
        found = self.known.get(_name(ref, evidence))
        if found is None:
            return None
        line, column, end_column = found
        if not line:
            return evidence  # placing found no line: the evidence stays as it was
        return replace(evidence, line=line, column=column, end_column=end_column)

    def record(self, ref: ResourceRef | None, evidence: Evidence, placed: Evidence) -> None:
        """Remember where ``evidence`` was placed (``placed`` is it unchanged: nowhere)."""
        spot = [0, 0, 0] if placed is evidence else [placed.line, placed.column, placed.end_column]
        self.known[_name(ref, evidence)] = spot
        self.added = True

    def save(self) -> None:
        """Store the places this run added (nothing without a cache or news)."""
        if self.added and self.store is not None and self.key is not None:
            self.store.put(self.key, self.known)
            self.added = False
