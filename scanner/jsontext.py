"""Deterministic JSON text, fast: ``json.dumps(doc, indent=2, sort_keys=True)``, byte for byte.

The standard library's encoder is pure Python as soon as ``indent`` is set; on a corpus
scan writing JSON and SARIF cost seconds. orjson (Rust) writes the same indented,
key-sorted text except in three ways, each put back here so the output stays identical:

- non-ASCII characters (and DEL) come out raw where ``ensure_ascii`` writes ``\\uXXXX``
  (surrogate pairs above the BMP);
- floats are written in Rust's shortest form (``1e16``) where Python writes ``repr``
  (``1e+16``): every float token is rewritten with ``repr``;
- NaN and infinities become ``null``: a document holding one is written by the standard
  encoder (as are integers beyond 64 bits, non-string keys and lone surrogates, which
  orjson refuses).

Dataclasses and datetimes raise ``TypeError`` as before; a plain ``Enum`` member, which
the standard encoder refused, is written as its value (the scan's documents hold none).
"""

from __future__ import annotations

import json
import re
from typing import Any

#: A float token ends a line of indented output (an object value or a list item), so no
#: string can hold one: every string closes with ``"`` on its own line.
_FLOAT = re.compile(
    rb"(?<![^\s\[])-?[0-9]+(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)(?=,?$)", re.M
)
#: Where orjson and ``repr`` can differ: an exponent, or a small number written out
#: (``0.00001``). Literal-led patterns scan fast; the exact rewrite runs only on a hit.
_MAYBE_DIFFERENT = (re.compile(rb"e-?[0-9]+,?$", re.M), re.compile(rb"0\.0000[0-9]*,?$", re.M))
_NOT_ASCII = re.compile("[\x7f-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _python_float(match: re.Match[bytes]) -> bytes:
    return repr(float(match.group())).encode()


def _nonfinite(doc: Any) -> bool:
    """Whether ``doc`` holds a NaN or an infinity (the C encoder finds one fast)."""
    try:
        json.dumps(doc, allow_nan=False, ensure_ascii=False, check_circular=False)
    except (ValueError, TypeError):  # TypeError: an enum or such, which orjson took
        return True
    return False


def _options() -> int:
    import orjson

    # dataclasses and datetimes raise, as the standard encoder does
    native = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
    return orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | native


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2, sort_keys=True)``, through orjson when it can."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; keep working without
        return json.dumps(doc, indent=2, sort_keys=True)
    try:
        raw = orjson.dumps(doc, option=_options())
    except TypeError:  # big ints, non-str keys, lone surrogates, unknown types
        return json.dumps(doc, indent=2, sort_keys=True)
    if b"null" in raw and _nonfinite(doc):  # orjson writes NaN as null
        return json.dumps(doc, indent=2, sort_keys=True)
    if any(pattern.search(raw) for pattern in _MAYBE_DIFFERENT):
        raw = _FLOAT.sub(_python_float, raw)
    text = raw.decode()
    return text if text.isascii() and "\x7f" not in text else _NOT_ASCII.sub(_escape, text)


def dumpb(doc: Any) -> bytes:
    """:func:`dumps` as ASCII bytes, without a text copy when orjson's output is ASCII
    already (a large document exists once, not three times)."""
    try:
        import orjson

        raw = orjson.dumps(doc, option=_options())
    except (ImportError, TypeError):
        return dumps(doc).encode()
    if (b"null" in raw and _nonfinite(doc)) or not raw.isascii() or b"\x7f" in raw:
        return dumps(doc).encode()
    if any(pattern.search(raw) for pattern in _MAYBE_DIFFERENT):
        raw = _FLOAT.sub(_python_float, raw)
    return raw


def dumpb_utf8(doc: Any) -> bytes:
    """``json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode()``, through
    orjson when it can: orjson writes UTF-8 unescaped, as ``ensure_ascii=False`` does, so
    only floats and non-finite numbers need the treatment :func:`dumps` gives them."""
    try:
        import orjson

        raw = orjson.dumps(doc, option=_options())
    except (ImportError, TypeError):  # lone surrogates raise below, as they always did
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode()
    if b"null" in raw and _nonfinite(doc):
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode()
    if any(pattern.search(raw) for pattern in _MAYBE_DIFFERENT):
        raw = _FLOAT.sub(_python_float, raw)
    return raw
