"""Safe YAML loading for the tool's own files, and the line of any field for error messages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

try:  # pragma: no cover
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class YamlLoadError(ValueError):
    """A YAML file that does not parse, with its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def load(text: str) -> Any:
    """Load one YAML document with the safe loader."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlLoadError(mark.line + 1 if mark else 0, str(exc.problem or exc)) from exc
    except yaml.YAMLError as exc:
        raise YamlLoadError(0, str(exc)) from exc


def load_file(path: Path) -> tuple[Any, str]:
    """Load a YAML file; returns the data and the text (for :func:`line_of`)."""
    text = path.read_text(encoding="utf-8")
    return load(text), text


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
    """A selector value matches a scalar, or one entry of a list (``resources=pods/exec``)."""
    if isinstance(node, yaml.SequenceNode):
        return any(getattr(n, "value", None) == value for n in node.value)
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


def line_in(node: yaml.Node | None, path: Sequence[PathStep]) -> int:
    """:func:`line_of` on an already composed document, for many paths in one object."""
    return walk(node, path)[0]


def walk(node: yaml.Node | None, path: Sequence[PathStep]) -> tuple[int, bool]:
    """1-based line of the deepest node on ``path``, and whether the whole path exists."""
    if node is None:
        return 0, False
    line = node.start_mark.line + 1
    for step in path:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and not isinstance(step, tuple):
            for key, value in node.value:
                if getattr(key, "value", None) == str(step):
                    nxt = key if value is None else value
                    line = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, tuple):
            nxt = _select(node, *step)
            if nxt is not None:
                line = nxt.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            nxt = node.value[step]
            line = nxt.start_mark.line + 1
        if nxt is None:
            return line, False
        node = nxt
    return line, True
