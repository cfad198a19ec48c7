"""Parsed manifest streams from the content cache: the documents of a text, keyed by it.

What is kept is what :func:`parse_yaml` returns minus the node trees (values, line
spans, errors): the values are JSON already, as kubectl's decoding made them. Nodes are
only needed to place evidence on a line; the repo source parses a file again for that
when a finding asks (:meth:`RepoSource.locate`). Kustomization files keep their nodes
(their readers place lines from them) and are parsed every time; they are small.
"""

from __future__ import annotations

from typing import Any

from scanner import cache
from scanner.sources.kubeyaml import Document, DocumentError, parse_yaml

Parsed = tuple[Document | DocumentError, ...]


def _encode(docs: Parsed) -> list[Any]:
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, Document):
            spans = [list(span) for span in doc.item_spans]
            out.append(["d", doc.data, doc.start_line, doc.end_line, spans, doc.line_offset])
        else:
            out.append(["e", doc.line, doc.message, doc.code, doc.manifest_like])
    return out


def _decode(value: Any) -> Parsed | None:
    """The documents of a cache entry; None for anything not shaped as :func:`_encode`
    writes it (an entry of another format is a miss, never a crash)."""
    if not isinstance(value, list):
        return None
    docs: list[Document | DocumentError] = []
    try:
        for entry in value:
            if entry[0] == "d":
                _, data, start, end, spans, offset = entry
                items = tuple((int(a), int(b)) for a, b in spans)
                docs.append(Document(data, int(start), int(end), items, None, int(offset)))
            elif entry[0] == "e":
                _, line, message, code, manifest_like = entry
                docs.append(DocumentError(int(line), str(message), str(code), bool(manifest_like)))
            else:
                return None
    except (TypeError, ValueError, IndexError):
        return None
    return tuple(docs)


def parse_cached(text: str) -> tuple[Parsed, bool]:
    """The documents of ``text`` and whether they came from the cache (without nodes)."""
    store = cache.active()
    if store is None:
        return tuple(parse_yaml(text)), False
    key = cache.digest("yaml-documents", [text])
    hit = _decode(store.get(key))
    if hit is not None:
        return hit, True
    docs = tuple(parse_yaml(text))
    store.put(key, _encode(docs))
    return docs, False
