"""Parse multi-document YAML with exact line spans, and refuse hostile input.

PyYAML's C composer gives every document node its start and end marks; we check
each node graph for alias bombs and runaway nesting *before* constructing Python
objects, so a hostile file costs milliseconds and becomes an error finding.
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


#: Text shapes that could hide an alias bomb or runaway nesting; files without any of
#: them skip the node-graph walk, which is most of the parse cost otherwise.
_SUSPICIOUS = re.compile(
    r"&"  # an anchor: aliases may expand
    r"|^[ \t-]{40,}"  # deep block nesting needs deep indentation or compact sequences
    r"|(?:[\[{][^\]}\[{]*+){40}",  # many flow openings with no closing between them
    re.MULTILINE,
)


def needs_limit_check(text: str) -> bool:
    """Whether a YAML text could exceed the alias or depth limits."""
    return _SUSPICIOUS.search(text) is not None


def _span(node: yaml.Node) -> tuple[int, int]:
    start = node.start_mark.line + 1
    end_mark = node.end_mark
    end = end_mark.line + (1 if end_mark.column > 0 else 0)
    return start, max(start, end)


def _check_limits(root: yaml.Node) -> DocumentError | None:
    """Depth and alias-expanded size of a node graph, computed without recursion."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            return DocumentError(
                node.start_mark.line + 1,
                f"nesting deeper than {MAX_DEPTH} levels; refusing to parse",
                "too-deep",
            )
        key = id(node)
        if key in expanded and not done:
            continue
        children = _children(node)
        if done:
            total = 1 + sum(expanded[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                return DocumentError(
                    node.start_mark.line + 1,
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(an alias bomb?); refusing to parse",
                    "alias-bomb",
                )
            expanded[key] = total
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _list_item_spans(node: yaml.Node) -> tuple[tuple[int, int], ...]:
    """Spans of ``items`` in a ``kind: List`` document, so each item keeps its lines."""
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(_span(item) for item in value.value)
    return ()


def parse_yaml(text: str) -> Iterator[Document | DocumentError]:
    """Yield each document of a YAML stream; stop at the first syntax error."""
    check = needs_limit_check(text)
    loader = _Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node = loader.get_node()
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark else 0
                problem = exc.problem or exc.context or "invalid YAML"
                yield DocumentError(line, f"YAML syntax error: {problem}", "parse-error")
                return
            except yaml.YAMLError as exc:
                yield DocumentError(0, f"YAML error: {exc}", "parse-error")
                return
            if node is None:
                continue
            limit_error = _check_limits(node) if check else None
            if limit_error is not None:
                yield limit_error
                continue
            start, end = _span(node)
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                yield DocumentError(start, f"YAML error: {exc}", "parse-error")
                continue
            except RecursionError:
                yield DocumentError(start, "nesting too deep to parse", "too-deep")
                continue
            yield Document(data, start, end, _list_item_spans(node))
    finally:
        loader.dispose()
