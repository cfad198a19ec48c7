"""Read a manifest stream exactly as ``kubectl apply`` does, with a line mark on every node.

Kubernetes reads manifests through ``sigs.k8s.io/yaml``: the stream is split at ``---``
lines, each chunk is decoded by go-yaml v2 and converted to JSON. One path here does the
same, so a rule judges the object the API server would store:

- libyaml (PyYAML's C composer) builds the node tree; resolution is ours, not YAML 1.1's:
  go-yaml v2 booleans (``y``, ``yes``, ``on`` ... in its spellings), Go integer syntax
  (``0x1F``, ``0o17``, ``017``, ``0b1``; no base 60), timestamps kept as strings;
- merge keys apply in document order, as go-yaml v2 does (a key *before* ``<<`` is
  overwritten by the merged map, a key after it wins; in ``<<: [a, b]`` ``a`` wins);
- a duplicate key keeps its last value, ``!!binary`` becomes the decoded text, map keys
  become JSON strings (``yes:`` is ``"true"``), ``.inf`` is refused as JSON refuses it;
- numbers then pass through the JSON round trip (``1e3`` is the integer 1000);
- a stream whose first character is ``{`` is read as JSON, like kubectl's sniffing decoder.

The nodes stay with each :class:`Document`, so evidence lines need no second parse.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml
from yaml.composer import Composer

_Parser: Any
try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import _yaml

    _Parser = _yaml.CParser
except ImportError:  # pragma: no cover
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _PureParser(Reader, Scanner, Parser, Composer):
        """Pure-Python parser and composer, used only when libyaml is missing."""

        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

    _Parser = _PureParser


#: Most nodes one document may expand to through aliases.
MAX_EXPANDED_NODES = 1_000_000
#: Most nodes aliases may add in one file, all its documents together: three documents
#: just under the per-document limit cost minutes; real manifests' anchors add hundreds.
MAX_ALIAS_NODES_PER_FILE = 100_000
#: Deepest nesting accepted; real manifests (CRD schemas included) stay far below.
MAX_DEPTH = 100

_TAG = "tag:yaml.org,2002:"
#: Tag the composer gives an untagged plain scalar; ours to resolve.
PLAIN = "!plain"
STR = _TAG + "str"
_MERGE = _TAG + "merge"
_MAP, _SEQ = _TAG + "map", _TAG + "seq"
_BINARY = _TAG + "binary"
_RESOLVABLE = {_TAG + t: t for t in ("str", "bool", "int", "float", "null", "timestamp")}
_INT64 = (-(2**63), 2**63 - 1)
_F32 = struct.Struct("<f")


@dataclass(frozen=True)
class Document:
    """One decoded document, the lines it spans (1-based, inclusive) and its node tree."""

    data: Any
    start_line: int
    end_line: int
    item_spans: tuple[tuple[int, int], ...] = ()
    #: Root node (None for JSON input); its marks plus ``line_offset`` are file lines - 1.
    node: yaml.Node | None = field(default=None, compare=False, repr=False)
    line_offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class DocumentError:
    """A document that could not be decoded, with the line where it went wrong."""

    line: int
    message: str
    code: str
    #: Whether the failed text names ``apiVersion`` or ``kind`` (else it is no manifest).
    manifest_like: bool = True


class _Refused(ValueError):
    """A value kubectl refuses while converting to JSON; carries the node for its line."""

    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


class _Composer(_Parser):  # type: ignore[misc]
    """libyaml's composer with resolution deferred: a plain scalar is tagged :data:`PLAIN`."""

    def descend_resolver(self, parent: Any, index: Any) -> None:
        """No path-based resolvers."""

    def ascend_resolver(self) -> None:
        """No path-based resolvers."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        """Called by the C composer for every untagged node; the node class tells the rest."""
        if kind is yaml.ScalarNode:
            return PLAIN if implicit[0] else STR
        return _MAP if kind is yaml.MappingNode else _SEQ


class _RelaxedComposer(Composer, _Composer):
    """The same parser and resolution with PyYAML's Python composer, which (unlike the C one)
    can let an anchor be defined again, as go-yaml does: an alias names the latest."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Forget an anchor about to be defined again, then compose as usual."""
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, yaml.AliasEvent):
            self.anchors.pop(anchor, None)
        return Composer.compose_node(self, parent, index)


# --- go-yaml v2 scalar resolution ------------------------------------------------------

_BOOLS = {
    **dict.fromkeys(
        ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True
    ),
    **dict.fromkeys(
        ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False
    ),
}
_SPECIAL: dict[str, tuple[str, Any]] = {
    **{k: ("bool", v) for k, v in _BOOLS.items()},
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), ("null", None)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), ("float", math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), ("float", -math.inf)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), ("float", math.nan)),
}
#: First characters that may start a non-string plain scalar (go-yaml's resolve table).
_HINT = {
    **dict.fromkeys("+-", "S"),
    **dict.fromkeys("0123456789", "D"),
    **dict.fromkeys("yYnNtTfFoO~", "M"),
    ".": ".",
    "": "M",
}
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)\Z")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?\Z")
_BASES = {"x": 16, "X": 16, "b": 2, "B": 2, "o": 8, "O": 8}


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, ...)`` without the range check."""
    match = _GO_INT.match(text)
    if match is None:
        return None
    sign, body = match.groups()
    if len(body) > 1 and body[0] == "0":
        base = _BASES.get(body[1], 8)
        value = int(body[2:] if base != 8 or body[1] in "oO" else body[1:], base)
    else:
        value = int(body)
    return -value if sign == "-" else value


def resolve_plain(text: str) -> tuple[str, Any]:
    """The go-yaml v2 type and value of a plain scalar: str, null, bool, int, uint or float."""
    hint = _HINT.get(text[:1])
    if hint is None:
        return "str", text
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    if hint == ".":
        if _GO_DOT_FLOAT.match(text):
            return "float", float(text.replace("_", ""))
    elif hint in "DS":
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            if _INT64[0] <= number <= _INT64[1]:
                return "int", number
            if number <= 2**64 - 1 and plain[0] not in "+-":
                return "uint", number
        if _GO_FLOAT.match(plain):
            value = float(plain)
            if not math.isinf(value):  # Go's ParseFloat reports a range error: stays a string
                return "float", value
    return "str", text


def json_number(value: float) -> int | float:
    """A float after Go's JSON encoding and Kubernetes' decoding: whole values are int64."""
    if not value.is_integer():
        return value
    if abs(value) < 2**53:
        return int(value)
    whole = int(Decimal(repr(value)))  # Go writes the shortest digits, then re-reads them
    return whole if _INT64[0] <= whole <= _INT64[1] else value


def _finite(value: float, node: yaml.Node) -> int | float:
    if math.isinf(value) or math.isnan(value):
        shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        raise _Refused(f"json: unsupported value: {shown} (kubectl refuses it)", node)
    return json_number(value)


def _typed(kind: str, value: Any, node: yaml.Node) -> Any:
    if kind == "float":
        return _finite(value, node)
    if kind == "uint":
        return float(value)  # JSON decoding keeps only int64; larger numbers are floats
    return value


def _tagged(node: yaml.ScalarNode) -> Any:
    """An explicitly tagged scalar, as go-yaml v2 decodes it into ``interface{}``."""
    tag, text = node.tag, node.value
    if tag == _BINARY:
        try:
            raw = base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("yaml: !!binary value contains invalid base64 data", node) from None
        return raw.decode("utf-8", "replace")
    wanted = _RESOLVABLE.get(tag)
    if wanted is None:  # custom tags (``!Ref``) and ``!!str``-like: the text
        return text
    if wanted == "timestamp":
        return text
    kind, value = resolve_plain(text)
    if kind == wanted or (kind == "uint" and wanted == "int"):
        return _typed(kind, value, node)
    if wanted == "float" and kind in ("int", "uint"):
        return _finite(float(value), node)
    shown = {"uint": "int"}.get(kind, kind)
    raise _Refused(f"yaml: cannot decode !!{shown} `{text}` as a !!{wanted}", node)


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == PLAIN:
        text = node.value
        if text[:1] not in _HINT:
            return text
        kind, value = resolve_plain(text)
        return _typed(kind, value, node) if kind in ("float", "uint") else value
    if tag == STR:
        return node.value
    return _tagged(node)


def _go_float_key(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 32)``, as sigs.k8s.io/yaml writes a float key."""
    try:
        single = _F32.unpack(_F32.pack(value))[0]
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single) or math.isnan(single):
        return ".nan" if math.isnan(single) else (".inf" if single > 0 else "-.inf")
    packed = _F32.pack(single)
    shortest = next(
        text for text in (f"{single:.{p}e}" for p in range(9)) if _F32.pack(float(text)) == packed
    )
    mantissa, exponent = shortest.split("e")
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go's %g switches to an exponent at these magnitudes
        return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return format(Decimal(shortest), "f")


def _key(node: yaml.Node) -> str:
    """A map key as sigs.k8s.io/yaml converts it to a JSON object key."""
    if not isinstance(node, yaml.ScalarNode):
        raise _Refused("yaml: invalid map key: a mapping or sequence", node)
    if node.tag == STR or (node.tag == PLAIN and node.value[:1] not in _HINT):
        return str(node.value)
    if node.tag == PLAIN:
        kind, value = resolve_plain(node.value)
    elif node.tag in _RESOLVABLE or node.tag == _BINARY:
        value = _tagged(node)
        kind = type(value).__name__
    else:
        return str(node.value)
    if kind == "str":
        return str(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(value)
    if kind == "float":
        return _go_float_key(float(value))
    raise _Refused(f"unsupported map key of type {kind}: {node.value!r}", node)


class _Pending:
    """A value kubectl would refuse to convert, held where a later duplicate key (or
    merge) may still overwrite it: kubectl converts only the value it keeps."""

    __slots__ = ("refused",)

    def __init__(self, refused: _Refused) -> None:
        self.refused = refused


def _mapping(node: yaml.MappingNode, out: dict[str, Any]) -> dict[str, Any]:
    scalar = yaml.ScalarNode
    pending = False
    for key_node, value_node in node.value:
        tag, text = key_node.tag, key_node.value
        if (text == "<<" and tag == PLAIN) or tag == _MERGE:
            _merge(value_node, out)
            continue
        key = text if tag == STR or (tag == PLAIN and text[:1] not in _HINT) else _key(key_node)
        if value_node.__class__ is scalar:  # inlined: most values are plain strings
            tag, text = value_node.tag, value_node.value
            if tag == STR or (tag == PLAIN and text[:1] not in _HINT):
                out[key] = text
                continue
        try:
            out[key] = build(value_node)
        except _Refused as refused:
            out[key], pending = _Pending(refused), True
    if pending:
        for value in out.values():
            if value.__class__ is _Pending:
                raise value.refused
    return out


def _merge(node: yaml.Node, out: dict[str, Any]) -> None:
    """go-yaml v2: merged maps overwrite what is set so far; in a list the first map wins."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item in reversed(items):
        if not isinstance(item, yaml.MappingNode):
            raise _Refused("yaml: map merge requires map or sequence of maps as the value", node)
        _mapping(item, out)


def build(node: yaml.Node) -> Any:
    """The JSON-shaped value kubectl would send for a composed node."""
    cls = node.__class__
    if cls is yaml.ScalarNode:
        return _scalar(node)  # type: ignore[arg-type]
    if cls is yaml.MappingNode:
        return _mapping(node, {})  # type: ignore[arg-type]
    return [build(item) for item in node.value]


# --- stream splitting and limits -------------------------------------------------------

#: A ``---`` line, as kubectl's YAMLReader sees one: at column 0, then only a comment.
_SEPARATOR = re.compile(r"^---([^\n]*)(?:\n|\Z)", re.MULTILINE)
_JSON_START = re.compile(r"\s*\{")
_CONTENT_LINE = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)
_MANIFEST_KEY = re.compile(r"""(?:^|[\s{,])["']?(?:apiVersion|kind)["']?[ \t]*:""")
#: Text shapes that could hide an alias bomb or runaway nesting.
#: Each block level adds at least one column of indentation or ``- ``, so nesting beyond
#: MAX_DEPTH needs 60 such characters (plus under 40 unclosed flow openings) somewhere.
_DEEP_BLOCK = re.compile(r"^[ \t-]{60,}", re.MULTILINE)
_DEEP_FLOW = re.compile(r"(?:[\[{][^\]}\[{]*+){40}")  # many flow openings, none closed between


#: An anchor or alias token: libyaml (and PyYAML's pure scanner) take its name as the
#: longest run of these characters, so a real ``*name`` alias always matches in full.
_ANCHOR_NAME = re.compile(r"&([0-9A-Za-z_-]+)")
_ALIAS_NAME = re.compile(r"\*([0-9A-Za-z_-]+)")


def may_alias(text: str) -> bool:
    """Whether the text could hold an alias to one of its anchors: some ``*name`` whose
    name an ``&name`` also defines. Never false for a real alias (either token anywhere in
    the text counts, in quotes too), so it only spares the node-graph walk for texts like
    RBAC ``verbs: ["*"]`` beside a shell ``&&``, which an ``&``-and-``*`` test sent to it."""
    if "*" not in text or "&" not in text:
        return False
    aliases = set(_ALIAS_NAME.findall(text))
    return bool(aliases) and any(name in aliases for name in _ANCHOR_NAME.findall(text))


def needs_limit_check(text: str) -> bool:
    """Whether a YAML text could exceed the alias or depth limits (without an alias its
    depth shows in its shape, as for any text; an ``&`` alone no longer sends it to the
    node walk)."""
    if may_alias(text) or _DEEP_BLOCK.search(text):
        return True
    return text.count("[") + text.count("{") >= 40 and _DEEP_FLOW.search(text) is not None


def looks_like_manifest(text: str) -> bool:
    """Whether a text names ``apiVersion`` or ``kind``: a broken file that does is an error
    (fail closed); one that names neither is no manifest, and kubectl could not apply it."""
    return _MANIFEST_KEY.search(text) is not None


def split_stream(text: str) -> Iterator[tuple[str, int, str]]:
    """Chunks between ``---`` lines with the 1-based line each starts on, and kubectl's
    error for a separator line carrying content (``--- {a: 1}``), after which it stops."""
    position, line = 0, 1
    for marker in _SEPARATOR.finditer(text):
        rest = marker.group(1).strip()
        yield text[position : marker.start()], line, ""
        if rest and not rest.startswith("#"):
            at = line + text.count("\n", position, marker.start())
            yield "", at, f"invalid Yaml document separator: {rest}"
            return
        line += text.count("\n", position, marker.end())
        position = marker.end()
    yield text[position:], line, ""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _too_deep(root: yaml.Node) -> DocumentError | None:
    """Depth alone: without anchors nothing can expand beyond the text's own size."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return DocumentError(
                node.start_mark.line + 1,
                f"nesting deeper than {MAX_DEPTH} levels; refusing to parse",
                "too-deep",
            )
        if node.__class__ is yaml.MappingNode:
            stack.extend((value, depth + 1) for _key, value in node.value)
        elif node.__class__ is yaml.SequenceNode:
            stack.extend((item, depth + 1) for item in node.value)
    return None


def _check_graph(root: yaml.Node) -> tuple[DocumentError | None, int]:
    """Depth and alias-expanded size, computed without recursion; also how many nodes the
    aliases add beyond the document's own (what counts against the file's budget)."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            return DocumentError(
                node.start_mark.line + 1,
                f"nesting deeper than {MAX_DEPTH} levels; refusing to parse",
                "too-deep",
            ), 0
        key = id(node)
        if key in expanded and not done:
            continue
        children = _children(node)
        if done:
            total = 1 + sum(expanded[id(c)] for c in children)
            if total > MAX_EXPANDED_NODES:
                return _alias_bomb(
                    node.start_mark.line + 1,
                    f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes",
                ), 0
            expanded[key] = total
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)
    return None, expanded[id(root)] - len(expanded)


def _alias_bomb(line: int, what: str) -> DocumentError:
    return DocumentError(line, f"YAML {what} (an alias bomb?); refusing to parse", "alias-bomb")


def _span(node: yaml.Node, lines: list[str], offset: int) -> tuple[int, int]:
    """First and last content line of a node; trailing blank and comment lines excluded."""
    start = node.start_mark.line + 1
    end_mark = node.end_mark
    end = max(start, end_mark.line + (1 if end_mark.column > 0 else 0))
    while end > start and end <= len(lines) and not _CONTENT_LINE.match(lines[end - 1]):
        end -= 1
    return start + offset, min(end, max(len(lines), start)) + offset


def _list_item_spans(node: yaml.Node, lines: list[str], offset: int) -> tuple[tuple[int, int], ...]:
    """Spans of ``items`` in a ``kind: List`` document, so each item keeps its lines."""
    if not isinstance(node, yaml.MappingNode):
        return ()
    for key, value in node.value:
        if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
            return tuple(_span(item, lines, offset) for item in value.value)
    return ()


# --- documents -------------------------------------------------------------------------


def parse_yaml(text: str, *, nodes: bool = True) -> Iterator[Document | DocumentError]:
    """Yield each document of a manifest stream with its line span, or why it failed.

    ``nodes=False`` drops each node tree once its values are built: the trees take about
    seven times the memory of the values, and :func:`document_node` composes one again
    from the text and the document's ``line_offset`` when a finding needs its lines."""
    if _JSON_START.match(text):
        yield from _json_stream(text)
        return
    text = _ended(text)
    hostile = needs_limit_check(text)
    budget = [MAX_ALIAS_NODES_PER_FILE]  # alias-added nodes the rest of the file may use
    for chunk, first_line, refused in split_stream(text):
        if refused:
            yield DocumentError(first_line, refused, "parse-error")
            return
        if _CONTENT_LINE.search(chunk):
            for doc in _document(chunk, first_line, hostile and needs_limit_check(chunk), budget):
                yield doc if nodes or isinstance(doc, DocumentError) else _without_node(doc)
                if isinstance(doc, DocumentError) and doc.code == "alias-bomb":
                    return  # the rest of the file would only spend more


def _ended(text: str) -> str:
    """kubectl's line reader ends every line, the last one included."""
    return text if text.endswith("\n") else text + "\n"


def _without_node(doc: Document) -> Document:
    return Document(doc.data, doc.start_line, doc.end_line, doc.item_spans, None, doc.line_offset)


def document_node(text: str, line_offset: int) -> yaml.Node | None:
    """The node tree of the YAML document of ``text`` whose chunk starts after
    ``line_offset`` lines, composed again as :func:`parse_yaml` composed it (None for a
    JSON stream or a chunk that is not there)."""
    if _JSON_START.match(text):
        return None
    for chunk, first_line, refused in split_stream(_ended(text)):
        if refused or first_line > line_offset + 1:
            return None
        if first_line == line_offset + 1:
            try:
                return _compose(chunk)
            except (yaml.YAMLError, RecursionError):
                return None
    return None


def _compose(chunk: str, relaxed: bool = False) -> yaml.Node | None:
    """The first document's node tree (go-yaml reads only the first, as kubectl does)."""
    loader = _RelaxedComposer(chunk) if relaxed else _Composer(chunk)
    try:
        try:
            node: yaml.Node | None = loader.get_node() if loader.check_node() else None
            return node
        except yaml.composer.ComposerError as exc:
            if relaxed or "found duplicate anchor" not in str(exc.context):
                raise
    finally:
        loader.dispose()
    return _compose(chunk, relaxed=True)


def _document(
    chunk: str, first_line: int, check: bool, budget: list[int] | None = None
) -> Iterator[Document | DocumentError]:
    """The document of one chunk between separators; ``budget`` holds the alias-added nodes
    the file has left, and shrinks by what this document's aliases add."""
    offset = first_line - 1
    try:
        node = _compose(chunk)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + offset if mark else first_line
        problem = exc.problem or exc.context or "invalid YAML"
        yield DocumentError(
            line, f"YAML syntax error: {problem}", "parse-error", looks_like_manifest(chunk)
        )
        return
    except (yaml.YAMLError, RecursionError) as exc:
        yield DocumentError(
            first_line, f"YAML error: {exc}", "parse-error", looks_like_manifest(chunk)
        )
        return
    if node is None or (
        isinstance(node, yaml.ScalarNode)
        and node.tag == PLAIN
        and resolve_plain(node.value)[0] == "null"
    ):
        return
    if check:
        added = 0
        if may_alias(chunk):
            refused, added = _check_graph(node)
        else:
            refused = _too_deep(node)
        if refused is None and budget is not None:
            budget[0] -= added
            if budget[0] < 0:
                refused = _alias_bomb(
                    node.start_mark.line + 1,
                    f"aliases add more than {MAX_ALIAS_NODES_PER_FILE:,} nodes across the "
                    "documents of this file",
                )
        if refused is not None:
            yield DocumentError(refused.line + offset, refused.message, refused.code)
            return
    try:
        data = build(node)
    except _Refused as exc:
        line = exc.node.start_mark.line + 1 + offset
        yield DocumentError(line, str(exc), "parse-error", looks_like_manifest(chunk))
        return
    except RecursionError:
        yield DocumentError(first_line, "nesting too deep to parse", "too-deep")
        return
    lines = chunk.split("\n")
    start, end = _span(node, lines, offset)
    items = (
        _list_item_spans(node, lines, offset) if isinstance(data, dict) and "items" in data else ()
    )
    yield Document(data, start, end, items, node, offset)


def _json_int(text: str) -> int | float:
    value = int(text)
    return value if _INT64[0] <= value <= _INT64[1] else float(value)


def _json_float(text: str) -> int | float:
    return json_number(float(text))


#: Numbers as Kubernetes decodes JSON: int64 when whole and in range, else float64.
_JSON = json.JSONDecoder(parse_float=_json_float, parse_int=_json_int)


def _json_stream(text: str) -> Iterator[Document | DocumentError]:
    """Concatenated JSON objects, as kubectl's decoder reads a stream starting with ``{``."""
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        start = text.count("\n", 0, position) + 1
        try:
            data, end = _JSON.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield DocumentError(
                exc.lineno, f"JSON error: {exc.msg}", "parse-error", looks_like_manifest(text)
            )
            return
        last = start + text.count("\n", position, end)
        yield Document(data, start, last)
        position = end
