"""Parse multi-document YAML with exact line spans, and refuse hostile input.

Two paths give the same documents and spans:

- the **fast path** splits the stream at ``---`` lines and parses each document with
  ``yaml-rs`` (Rust; about ten times faster than PyYAML's C loader here, with alias
  replay limits built in);
- the **reference path** uses PyYAML's C composer, checks each node graph for alias
  bombs, runaway nesting and duplicate keys *before* constructing objects, and keeps
  node marks (needed for ``kind: List`` item spans and exact error lines).

A document takes the reference path whenever the fast path could differ: YAML 1.1
scalars Kubernetes reads differently (``yes``, ``on``, ``0755``), a ``List``, a parse
error, explicit tags, directives or content on a ``---`` line. Timestamps stay strings, as in the
JSON the API server stores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_rs: Any
try:
    import yaml_rs as _rs
except ImportError:  # pragma: no cover - the reference path alone still works
    _rs = None

#: Most nodes one document may expand to through aliases.
MAX_EXPANDED_NODES = 1_000_000
#: Deepest nesting accepted; real manifests (CRD schemas included) stay far below.
MAX_DEPTH = 100


@dataclass(frozen=True)
class Document:
    """One parsed YAML document and the lines it spans (1-based, inclusive)."""

    data: Any
    start_line: int
    end_line: int
    item_spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class DocumentError:
    """A document that could not be parsed, with the line where it went wrong."""

    line: int
    message: str
    code: str


_DOC_MARKER = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
#: Streams the splitter does not handle: directives, ``...`` ends, content after ``---``.
_COMPLEX_STREAM = re.compile(r"^(?:%|\.\.\.|---[ \t]+[^\s#])", re.MULTILINE)
#: Plain scalars whose meaning differs between YAML 1.1 (Kubernetes) and 1.2 (yaml-rs):
#: booleans spelled as words, and octal, binary, sexagesimal or .inf/.nan numbers. Each
#: pattern starts with a literal character so a text without one is skipped quickly.
_YAML11_WORD = re.compile(
    r"[:\-,\[{][ \t]*(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)[ \t]*(?:[,\]}#\r\n]|$)"
)
_YAML11_NUMBER = re.compile(
    r"[:\-,\[{][ \t]*[-+]?(?:0[0-7_]+|0b[01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|\.(?:inf|Inf|INF|nan|NaN|NAN))[ \t]*(?:[,\]}#\r\n]|$)"
)
_LIST_KIND = re.compile(r"^kind:[ \t]*['\"]?\w*List['\"]?[ \t]*(?:#.*)?$", re.MULTILINE)
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)

#: Text shapes that could hide an alias bomb or runaway nesting.
_DEEP_BLOCK = re.compile(r"^[ \t-]{40,}", re.MULTILINE)  # deep block nesting needs indentation
_DEEP_FLOW = re.compile(r"(?:[\[{][^\]}\[{]*+){40}")  # many flow openings, none closed between


def needs_limit_check(text: str) -> bool:
    """Whether a YAML text could exceed the alias or depth limits."""
    if "&" in text or _DEEP_BLOCK.search(text):
        return True
    return text.count("[") + text.count("{") >= 40 and _DEEP_FLOW.search(text) is not None


def _has_yaml11_scalar(text: str) -> bool:
    """Whether a plain scalar reads differently in YAML 1.1 than in 1.2 (Kubernetes reads 1.1)."""
    for pattern in (_YAML11_WORD, _YAML11_NUMBER):
        for match in pattern.finditer(text):
            lead = match.group(0)
            if lead[0] not in ":-" or lead[1:2] in (" ", "\t"):  # `key: 0755`, not `sha256:0755`
                return True
    return False


def parse_yaml(text: str) -> Iterator[Document | DocumentError]:
    """Yield each document of a YAML stream with its line span, or why it failed."""
    if _rs is None or _COMPLEX_STREAM.search(text):
        yield from reference_parse(text)
        return
    # Most files need no per-document check at all: look once at the whole text.
    check_each = _needs_reference(text)
    for chunk, first_line in _split(text):
        yield from _fast_document(chunk, first_line, check_each)


def _needs_reference(text: str) -> bool:
    """Explicit tags (``!!binary``), YAML 1.1 scalars, Lists and hostile shapes."""
    return bool(
        "!!" in text
        or _has_yaml11_scalar(text)
        or _LIST_KIND.search(text)
        or needs_limit_check(text)
    )


def _split(text: str) -> Iterator[tuple[str, int]]:
    """Documents of a simple stream with the 1-based line each chunk starts on."""
    position, line = 0, 1
    for marker in _DOC_MARKER.finditer(text):
        yield text[position : marker.start()], line
        line += text.count("\n", position, marker.end()) + 1
        position = marker.end() + 1
    yield text[position:], line


def _fast_document(chunk: str, first_line: int, check: bool) -> Iterator[Document | DocumentError]:
    first = _CONTENT_LINE.search(chunk)
    if first is None:
        return
    if check and _needs_reference(chunk):
        yield from reference_parse(chunk, first_line)
        return
    try:
        assert _rs is not None
        data = _rs.loads(chunk, parse_datetime=False)
    except (_rs.YAMLDecodeError, RecursionError, ValueError):
        yield from reference_parse(chunk, first_line)
        return
    if data is None:
        return
    lines = chunk.splitlines()
    start = first_line + chunk.count("\n", 0, first.start())
    last = len(lines)
    while last > 1 and not _CONTENT_LINE.match(lines[last - 1]):
        last -= 1
    yield Document(data, start, first_line + last - 1)


def _span(node: yaml.Node, offset: int) -> tuple[int, int]:
    start = node.start_mark.line + 1
    end_mark = node.end_mark
    end = end_mark.line + (1 if end_mark.column > 0 else 0)
    return start + offset, max(start, end) + offset


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: yaml.Node) -> DocumentError | None:
    """Depth, alias-expanded size and duplicate keys, computed without recursion."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            return DocumentError(
                line, f"nesting deeper than {MAX_DEPTH} levels; refusing to parse", "too-deep"
            )
        key = id(node)
        if key in expanded and not done:
            continue
        children = _children(node)
        if done:
            total = 1 + sum(expanded[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                return DocumentError(
                    line,
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(an alias bomb?); refusing to parse",
                    "alias-bomb",
                )
            expanded[key] = total
            continue
        if isinstance(node, yaml.MappingNode):
            duplicate = _duplicate_key(node)
            if duplicate is not None:
                return duplicate
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)
    return None


def _duplicate_key(node: yaml.MappingNode) -> DocumentError | None:
    """Kubernetes rejects duplicate keys; a second value must never hide behind the first."""
    seen: set[str] = set()
    for key, _value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if key.value in seen:
                return DocumentError(
                    key.start_mark.line + 1,
                    f"duplicate mapping key {key.value!r}; refusing an ambiguous object",
                    "duplicate-key",
                )
            seen.add(key.value)
    return None


def _list_item_spans(node: yaml.Node, offset: int) -> tuple[tuple[int, int], ...]:
    """Spans of ``items`` in a ``kind: List`` document, so each item keeps its lines."""
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(_span(item, offset) for item in value.value)
    return ()


def _last_content_line(lines: list[str], start: int, end: int) -> int:
    """Trailing blank and comment-only lines do not belong to the object."""
    while end > start and end <= len(lines) and not _CONTENT_LINE.match(lines[end - 1]):
        end -= 1
    return min(end, max(len(lines), start))


class _StringTimestamps(_Loader):
    """Timestamps and ``!!binary`` stay strings, as in the JSON the API server stores."""


def _binary_as_base64_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    """Kubernetes turns ``!!binary`` into bytes and back to base64 in JSON: the same text."""
    return "".join(str(node.value).split())


_StringTimestamps.add_constructor(
    "tag:yaml.org,2002:timestamp",
    _StringTimestamps.construct_yaml_str,  # type: ignore[type-var]
)
_StringTimestamps.add_constructor(
    "tag:yaml.org,2002:binary",
    _binary_as_base64_text,
)


def reference_parse(text: str, first_line: int = 1) -> Iterator[Document | DocumentError]:
    """PyYAML path: every check on the node graph, exact marks; stops at a syntax error."""
    offset = first_line - 1
    lines = text.splitlines()
    loader = _StringTimestamps(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 + offset if mark else first_line
                problem = exc.problem or exc.context or "invalid YAML"
                yield DocumentError(line, f"YAML syntax error: {problem}", "parse-error")
                return
            except yaml.YAMLError as exc:
                yield DocumentError(first_line, f"YAML error: {exc}", "parse-error")
                return
            if node is None or (isinstance(node, yaml.ScalarNode) and node.value == ""):
                continue
            refused = _check_graph(node)
            if refused is not None:
                yield DocumentError(refused.line + offset, refused.message, refused.code)
                continue
            start, end = _span(node, offset)
            end = _last_content_line(lines, start - offset, end - offset) + offset
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                yield DocumentError(start, f"YAML error: {exc}", "parse-error")
                continue
            except RecursionError:
                yield DocumentError(start, "nesting too deep to parse", "too-deep")
                continue
            yield Document(data, start, end, _list_item_spans(node, offset))
    finally:
        loader.dispose()
