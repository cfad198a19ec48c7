"""Last line of defence: refuse a bundle in which any detected secret value appears.

Every secret is searched in the forms it would take in each file type (raw, JSON-,
HTML- and CSV-escaped) and the forms a rule's message expression can turn it into
(any case, base64, URL-encoding), with one trie-shaped regular expression, so the check
stays linear in the bundle size instead of growing with the number of secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from markupsafe import escape

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


def find_leak(files: Mapping[str, bytes], secrets: Iterable[str]) -> str | None:
    """The name of the first file holding any secret value (in any spelling), or None."""
    pattern = trie_pattern({v for s in secrets for v in variants(s) if v}, re.IGNORECASE)
    if pattern is None:
        return None
    for name in sorted(files):
        if pattern.search(files[name].decode("utf-8", "replace")):
            return name
    return None
