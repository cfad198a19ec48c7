"""Safe YAML loading for the tool's own files, and the line of any field for error messages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from scanner.errors import ScannerError

try:  # pragma: no cover
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class YamlLoadError(ScannerError, ValueError):
    """A YAML file that does not parse, with its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


#: The tool's own files (config, waivers, rules) are small: these bounds stop an alias
#: bomb or a deep nest committed by a PR author before it costs time or memory.
MAX_NODES = 200_000
MAX_DEPTH = 100


def _refusal(root: yaml.Node, unique_keys: bool) -> tuple[int, str] | None:
    """(line, reason) when the node graph is too big once aliases expand or too deep;
    computed without recursion and without expanding anything."""
    expanded: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            return line, f"nesting deeper than {MAX_DEPTH} levels"
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
            if unique_keys and not done:
                duplicate = _duplicate_key(node)
                if duplicate is not None:
                    return duplicate
        if done:
            expanded[id(node)] = 1 + sum(expanded[id(c)] for c in children)
            if expanded[id(node)] > MAX_NODES:
                return (
                    line,
                    f"YAML aliases expand to more than {MAX_NODES:,} nodes (an alias bomb?)",
                )
        elif id(node) not in expanded:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)
    return None


def _duplicate_key(node: yaml.MappingNode) -> tuple[int, str] | None:
    """(line, reason) for a key given twice: PyYAML keeps the last silently, so a config
    or waiver could say one thing to a reviewer reading the top and do another."""
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if (key.tag, key.value) in seen:
            first = seen[(key.tag, key.value)]
            return line, f"duplicate key {key.value!r} (first given on line {first})"
        seen[(key.tag, key.value)] = line
    return None


def load(text: str, *, unique_keys: bool = False) -> Any:
    """Load one YAML document with the safe loader, within the bounds above; with
    ``unique_keys`` (the tool's own files) a key given twice is refused."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        refused = _refusal(node, unique_keys)
        if refused is not None:
            raise YamlLoadError(refused[0], f"{refused[1]}; refusing to load")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlLoadError(mark.line + 1 if mark else 0, str(exc.problem or exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlLoadError(0, str(exc)) from exc
    except RecursionError as exc:
        raise YamlLoadError(0, "nesting too deep to load") from exc
    finally:
        loader.dispose()


def load_file(path: Path) -> tuple[Any, str]:
    """Load one of the tool's own YAML files (keys unique); returns the data and the text
    (for :func:`line_of`)."""
    text = path.read_text(encoding="utf-8")
    return load(text, unique_keys=True), text


PathStep = str | int | tuple[str, str]
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]")


def parse_path(dotted: str) -> list[PathStep]:
    """``spec.containers[0].image`` or ``subjects[name=jane]`` as steps for :func:`line_of`."""
    steps: list[PathStep] = []
    for key, index, sel_key, sel_value in _STEP.findall(dotted):
        if key:
            steps.append(key)
        elif index:
            steps.append(int(index))
        else:
            steps.append((sel_key, sel_value))
    return steps


def _holds(node: yaml.Node, value: str) -> bool:
    """A selector value matches a scalar, or entries of a list: one (``resources=pods/exec``)
    or, comma-joined as rules name a rule's resources, each (``resources=roles,rolebindings``)."""
    if isinstance(node, yaml.SequenceNode):
        entries = {getattr(n, "value", None) for n in node.value}
        return value in entries or set(value.split(",")) <= entries
    return getattr(node, "value", None) == value


def _select(node: yaml.SequenceNode, key: str, value: str) -> yaml.Node | None:
    for item in node.value:
        if isinstance(item, yaml.MappingNode) and any(
            getattr(k, "value", None) == key and _holds(v, value) for k, v in item.value
        ):
            return item
    return None


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (None when it does not parse)."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None


def line_of(text: str, path: Sequence[PathStep]) -> int:
    """1-based line of the node at ``path`` (keys, indexes, ``(key, value)`` selectors).

    Stops at the deepest node found when the path runs out of the document.
    """
    return line_in(compose(text), path)


def _mapping_entry(node: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The entry for ``name``: the last one (the value kubectl applies), else one reached
    through a ``<<`` merge key."""
    for key, value in reversed(node.value):
        if getattr(key, "value", None) == name:
            return key, value
    for key, value in node.value:
        if getattr(key, "value", None) == "<<":
            merged = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for item in merged:
                if isinstance(item, yaml.MappingNode):
                    found = _mapping_entry(item, name)
                    if found is not None:
                        return found
    return None


def line_in(node: yaml.Node | None, path: Sequence[PathStep]) -> int:
    """:func:`line_of` on an already composed document, for many paths in one object."""
    return walk(node, path)[0]


def position_in(
    node: yaml.Node | None, path: Sequence[PathStep], value: str = ""
) -> tuple[int, int, int, bool]:
    """1-based line, start column and end column (exclusive; 0 when the field spans lines)
    of the field on ``path``, and whether the whole path exists (else: the deepest node's
    line and no columns). libyaml marks carry columns, so a SARIF region can underline the
    field itself; a mapping entry spans its key and a one-line scalar value. When the field
    is a list with an entry equal to ``value`` (the evidence's), that entry is the place."""
    start, end, complete, last = _walk_nodes(node, path)
    if start is None or (not complete and last is node):
        return 0, 0, 0, False  # not even the first step is a field here: no line to show
    if not complete:
        return start.line + 1, 0, 0, False
    if value and isinstance(last, yaml.SequenceNode):
        item = _item_named(last, value)
        if item is not None:
            start, end = item.start_mark, item.end_mark
    end_column = end.column + 1 if end is not None and end.line == start.line else 0
    return start.line + 1, start.column + 1, end_column, True


def walk(node: yaml.Node | None, path: Sequence[PathStep]) -> tuple[int, bool]:
    """1-based line of the deepest node on ``path``, and whether the whole path exists."""
    start, _, complete = _walk_marks(node, path)
    return (start.line + 1 if start is not None else 0), complete


def _entry_at(
    node: yaml.MappingNode, path: Sequence[PathStep], i: int
) -> tuple[tuple[yaml.Node, yaml.Node], int, bool] | None:
    """The entry step ``i`` names, and how many steps it took: a dotted path splits keys
    that hold dots (``data.tls.key``, ``annotations.kubectl.kubernetes.io/last-applied-…``),
    so when the step alone is no key the longest run of steps that joins into one wins;
    ``key:rest`` (a field inside an annotation's value) names the annotation and ends the
    walk there."""
    run = 0
    while i + run < len(path) and isinstance(path[i + run], str):
        run += 1
    for j in (i + 1, *range(i + run, i + 1, -1)):
        name = ".".join(str(s) for s in path[i:j])
        found = _mapping_entry(node, name)
        if found is not None:
            return found, j - i, False
        head, colon, _ = name.partition(":")
        if colon and head:
            found = _mapping_entry(node, head)
            if found is not None:
                return found, len(path) - i, True
    return None


def _item_named(node: yaml.SequenceNode, value: str) -> yaml.Node | None:
    """The scalar entry of a list that equals an evidence value (``cipherSuites`` → the
    one weak suite), so a finding on one entry points at that entry."""
    for item in node.value:
        if isinstance(item, yaml.ScalarNode) and item.value == value:
            return item
    return None


def _walk_marks(node: yaml.Node | None, path: Sequence[PathStep]) -> tuple[Any, Any, bool]:
    """Start and end marks of the deepest node on ``path`` (from the key, for a mapping
    entry), and whether the whole path exists."""
    start, end, complete, _ = _walk_nodes(node, path)
    return start, end, complete


def _walk_nodes(
    node: yaml.Node | None, path: Sequence[PathStep]
) -> tuple[Any, Any, bool, yaml.Node | None]:
    """:func:`_walk_marks`, and the node the walk ended on."""
    if node is None:
        return None, None, False, None
    start, end = node.start_mark, node.end_mark
    i = 0
    while i < len(path):
        step = path[i]
        nxt: yaml.Node | None = None
        taken = 1
        if isinstance(node, yaml.MappingNode) and not isinstance(step, tuple):
            found = _entry_at(node, path, i) if isinstance(step, str) else None
            if found is None and not isinstance(step, str):
                entry = _mapping_entry(node, str(step))
                found = (entry, 1, False) if entry is not None else None
            if found is not None:
                (key, value), taken, inside = found
                nxt = key if value is None else value
                start = key.start_mark
                end = nxt.end_mark if isinstance(nxt, yaml.ScalarNode) else key.end_mark
                if inside:
                    return start, end, True, nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, tuple):
            nxt = _select(node, *step)
            if nxt is not None:
                start, end = nxt.start_mark, nxt.end_mark
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            nxt = node.value[step]
            start, end = nxt.start_mark, nxt.end_mark
        if nxt is None:
            return start, end, False, node
        node = nxt
        i += taken
    return start, end, True, node


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (for fields of untrusted objects)."""
    return value if isinstance(value, Mapping) else {}
