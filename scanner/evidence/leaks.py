"""Last line of defence: refuse a bundle in which any detected secret value appears.

Every secret is searched in the forms it would take in each file type (raw, JSON-,
HTML- and CSV-escaped) with one trie-shaped regular expression, so the check stays
linear in the bundle size instead of growing with the number of secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from markupsafe import escape

Trie = dict[str, "Trie"]


def variants(secret: str) -> set[str]:
    """The spellings a value takes when written into JSON, HTML or CSV."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        str(escape(secret)),
        secret.replace('"', '""'),
    }


def trie_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """One regex matching any of the words, shaped as a trie (shared prefixes once)."""
    trie: Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    if not trie:
        return None

    def build(node: Trie) -> str:
        branches = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie))


def find_leak(files: Mapping[str, bytes], secrets: Iterable[str]) -> str | None:
    """The name of the first file holding any secret value (in any spelling), or None."""
    pattern = trie_pattern({v for s in secrets for v in variants(s) if v})
    if pattern is None:
        return None
    for name in sorted(files):
        if pattern.search(files[name].decode("utf-8", "replace")):
            return name
    return None
