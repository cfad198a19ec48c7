"""Last line of defence: refuse a bundle in which any detected secret value appears.

Every secret is searched in the forms it would take in each file type (raw, JSON-,
HTML- and CSV-escaped) and the forms a rule's message expression can turn it into
(any case, base64, URL-encoding), with one trie-shaped regular expression, so the check
stays linear in the bundle size instead of growing with the number of secrets.
"""

from __future__ import annotations

import codecs
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping

from markupsafe import escape

from scanner.outputs import member_pieces
from scanner.redaction import encodings, trie_pattern

__all__ = ["find_leak", "trie_pattern", "variants"]


def variants(secret: str) -> set[str]:
    """The spellings a value takes when written into JSON, HTML or CSV, or re-encoded."""
    found: set[str] = set()
    for form in encodings(secret):
        found |= {
            form,
            json.dumps(form)[1:-1],
            json.dumps(form, ensure_ascii=False)[1:-1],
            str(escape(form)),
            form.replace('"', '""'),
        }
    return found


#: Bytes of a gzipped member inflated at a time: the population of a nightly estate is
#: hundreds of megabytes as text, and never needs to exist whole.
CHUNK = 1 << 22


def _texts(name: str, pieces: Iterable[bytes], overlap: int) -> Iterator[str]:
    """A member's text, in pieces that overlap by ``overlap`` characters (so a value that
    straddles two pieces is still whole in one); a ``.gz`` member is searched inflated,
    since its compressed bytes hide every value in it."""
    inflater = zlib.decompressobj(wbits=31) if name.endswith(".gz") else None
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    tail = ""
    for piece in pieces:
        for start in range(0, len(piece), CHUNK):
            raw = piece[start : start + CHUNK]
            text = tail + decoder.decode(inflater.decompress(raw) if inflater else raw)
            yield text
            tail = text[-overlap:] if overlap else ""
    rest = inflater.flush() if inflater else b""
    yield tail + decoder.decode(rest, final=True)


def find_leak(files: Mapping[str, bytes], secrets: Iterable[str]) -> str | None:
    """The name of the first file holding any secret value (in any spelling), or None."""
    spellings = {v for s in secrets for v in variants(s) if v}
    pattern = trie_pattern(spellings, re.IGNORECASE)
    if pattern is None:
        return None
    overlap = max(map(len, spellings)) - 1
    for name in sorted(files):
        texts = _texts(name, member_pieces(files, name), overlap)
        if any(pattern.search(text) for text in texts):
            return name
    return None
