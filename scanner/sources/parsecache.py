"""Parsed manifest streams from the content cache: the documents of a text, keyed by it.

What is kept is what :func:`parse_yaml` returns minus the node trees (values, line
spans, errors): the values are JSON already, as kubectl's decoding made them. Nodes are
only needed to place evidence on a line; the repo source composes the one document again
for that when a finding asks (:meth:`RepoSource.locate`), whether or not the documents
came from the cache. Kustomization files keep their nodes (their readers place lines
from them) and are parsed every time; they are small.

Within :func:`shared_parses` (one repository scan) a text is parsed once even when the
renderers look at it before the repo source loads it: an Argo CD ``install.yaml`` was
parsed three times, for a Kustomize span, for Helm consumers and for itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
        return tuple(parse_yaml(text, nodes=False)), False
    key = cache.digest("yaml-documents", [text])
    hit = _decode(store.get(key))
    if hit is not None:
        return hit, True
    docs = tuple(parse_yaml(text, nodes=False))
    store.put(key, _encode(docs))
    return docs, False


#: Documents parsed in one repository scan and not yet taken, by text.
Memo = dict[str, tuple[Parsed, bool]]
_shared: ContextVar[Memo | None] = ContextVar("ledgergate_shared_parses", default=None)


@contextmanager
def shared_parses(memo: Memo) -> Iterator[Memo]:
    """Let :func:`parse_once` in this thread hand a text's documents from one reader to
    the next through ``memo`` (kept by the caller for its own later reads)."""
    token = _shared.set(memo)
    try:
        yield memo
    finally:
        _shared.reset(token)


def parse_once(text: str, *, keep: bool, memo: Memo | None = None) -> tuple[Parsed, bool]:
    """:func:`parse_cached`, parsed once per text through ``memo`` (by default the one of
    :func:`shared_parses`; none: parsed as usual).

    A reader that only looks at the values (``keep=False``) leaves them for the next one;
    the reader that keeps them (``keep=True``, the repo source) takes them away, so two
    files of the same text never share one mutable body."""
    memo = memo if memo is not None else _shared.get()
    if memo is None:
        return parse_cached(text)
    found = memo.pop(text, None)
    if found is None:
        found = parse_cached(text)
    if not keep:
        memo[text] = found
    return found
