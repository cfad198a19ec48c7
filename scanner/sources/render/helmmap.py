"""Map a field of a Helm-rendered object to its template line and the value behind it.

Helm keeps no line mapping, so the template is searched the way a reviewer would: the
object's document in the template (the n-th ``---`` section declaring its kind), then
each key of the field path in order, indentation-aware. When the line found takes its
value from ``.Values.x.y`` (directly or through ``toYaml``), the values source that
last set ``x.y`` (defaults, a config value file, an Application's inline values) is
named too, with its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.sources.kubeyaml import Document, parse_yaml
from scanner.sources.render.base import FieldMap, Location
from scanner.sources.render.origins import concrete, translate
from scanner.yamlutil import PathStep, compose, parse_path, walk

ReadText = Callable[[str], str | None]
_SEPARATOR = re.compile(r"^---\s*$")
_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][\w-]*)+)")


@dataclass(frozen=True)
class ValuesSource:
    """One layer of values: a file, or inline values in an Application/HelmRelease."""

    path: str
    text: str
    data: Mapping[str, Any]
    #: Lines before ``text`` starts in ``path`` (inline values).
    offset: int = 0
    #: Where the values sit inside ``text`` (``spec.values`` of a HelmRelease).
    prefix: tuple[PathStep, ...] = ()

    @classmethod
    def from_file(cls, path: str, read_text: ReadText) -> ValuesSource | None:
        """A values file, or None when it cannot be read."""
        text = read_text(path)
        if text is None:
            return None
        docs = [d for d in parse_yaml(text) if isinstance(d, Document)]
        data = docs[0].data if docs and isinstance(docs[0].data, Mapping) else {}
        return cls(path, text, data)

    def line_of(self, steps: list[PathStep]) -> int:
        """Line (in :attr:`path`) where these values set ``steps``, 0 when they do not."""
        node: Any = self.data
        for step in steps:
            if not isinstance(node, Mapping) or str(step) not in node:
                return 0
            node = node[str(step)]
        line, complete = walk(compose(self.text), [*self.prefix, *steps])
        return line + self.offset if complete else 0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" -"))


_INCLUDE = re.compile(r"\b(?:include|template)\s+\"([^\"]+)\"")
_DEFINE = re.compile(r"\{\{-?\s*define\s+\"([^\"]+)\"")


@dataclass(frozen=True)
class Section:
    """Lines of a template file, and the [start, end) range one object or define spans."""

    path: str
    lines: list[str]
    start: int
    end: int


def defines_of(files: Mapping[str, str]) -> dict[str, Section]:
    """Named templates (``{{ define "x" }}``) of a chart, by name."""
    found: dict[str, Section] = {}
    for path, text in files.items():
        lines = text.splitlines()
        for i, line in enumerate(lines):
            match = _DEFINE.search(line)
            if match:
                end = next(
                    (j for j in range(i + 1, len(lines)) if _DEFINE.search(lines[j])), len(lines)
                )
                found.setdefault(match.group(1), Section(path, lines, i + 1, end))
    return found


def _include_below(section: Section, line: int) -> str | None:
    """The named template included on ``line`` or in the block under it."""
    indent = _indent(section.lines[line])
    for i in range(line, section.end):
        text = section.lines[i]
        stripped = text.strip()
        if i > line and stripped and _indent(text) <= indent and not stripped.startswith("{{"):
            return None
        match = _INCLUDE.search(text)
        if match:
            return match.group(1)
    return None


def _pattern(step: str | tuple[str, str]) -> re.Pattern[str]:
    if isinstance(step, tuple):  # a list item by its merge key: `- name: PGPASSWORD`
        key, value = (re.escape(x) for x in step)
        return re.compile(r"^\s*(?:-\s+)?" + key + r"\s*:\s*[\"']?" + value + r"[\"']?\s*(?:#.*)?$")
    return re.compile(r"^\s*(?:-\s+)?" + re.escape(step) + r"\s*:")


def search(section: Section, keys: list[str | tuple[str, str]]) -> tuple[int, int]:
    """0-based line of the deepest key found in order, and how many keys matched."""
    line, matched, indent = -1, 0, -1
    for key in keys:
        pattern = _pattern(key)
        for i in range(line + 1 if line >= 0 else section.start, section.end):
            text = section.lines[i]
            if pattern.match(text) and _indent(text) > indent:
                # keys of a matched list item sit at the item's own indentation
                line, matched = i, matched + 1
                indent = _indent(text) - (1 if isinstance(key, tuple) else 0)
                break
        else:
            if not isinstance(key, tuple):
                break
            matched += 1  # the item's name is itself templated: keep looking for its keys
    return line, matched


#: A trailing YAML comment on a template line (not part of what the field is set to).
_COMMENT = re.compile(r"\s+#[^\"'}]*$")


def _key_columns(text: str, last: list[str | tuple[str, str]]) -> tuple[int, int]:
    """Columns of ``key: ...`` on a template line (the key, through the line's last
    non-blank character: the template text a reviewer edits), or (0, 0) when the line does
    not hold the key itself (a list item's ``- name: x`` or a templated key)."""
    if not last or isinstance(last[0], tuple):
        return 0, 0
    found = re.search(rf"(?:^|[\s{{,-]){re.escape(last[0])}[\"']?\s*:", text)
    if found is None:
        return 0, 0
    begin = found.start() + (0 if text[found.start()].isalnum() else 1)
    end = len(_COMMENT.sub("", text).rstrip())
    return begin + 1, end + 1


class HelmFieldMap(FieldMap):
    """Field -> template line (plus the values line) for one object a chart rendered."""

    def __init__(
        self,
        body: Mapping[str, Any],
        path: str,
        template: str,
        index: int,
        sources: list[ValuesSource],
        defines: Mapping[str, Section] | None = None,
    ) -> None:
        self.body, self.path, self.index, self.sources = body, path, index, sources
        self.lines = template.splitlines()
        self.defines = defines or {}
        self._segment = self._find_segment()

    def _find_segment(self) -> tuple[int, int]:
        """0-based [start, end) lines of the object's ``---`` section in the template."""
        bounds: list[tuple[int, int]] = []
        start = 0
        for i, line in enumerate(self.lines):
            if _SEPARATOR.match(line):
                bounds.append((start, i))
                start = i + 1
        bounds.append((start, len(self.lines)))
        kind = re.compile(r"^\s*kind:\s*[\"']?" + re.escape(str(self.body.get("kind", ""))) + r"\b")
        matching = [b for b in bounds if any(kind.match(x) for x in self.lines[b[0] : b[1]])]
        if not matching:
            return 0, len(self.lines)
        return matching[min(self.index, len(matching) - 1)]

    def files(self) -> frozenset[str]:
        """The template and those of the named templates it includes."""
        return frozenset({self.path, *(s.path for s in self.defines.values())})

    def segment(self) -> tuple[int, int]:
        """1-based inclusive span of the object's section in the template."""
        start, end = self._segment
        return start + 1, max(start + 1, end)

    def where(self, path: str) -> Location | None:
        """The template line for ``path``, with the values line behind it when there is one."""
        real = concrete(self.body, path)
        if real is None:
            return None
        named, _ = translate(self.body, parse_path(real))
        keys = [s for s in named if not isinstance(s, int)]
        section = Section(self.path, self.lines, *self._segment)
        line, matched = search(section, keys)
        if line < 0:
            return None
        for _ in range(5):  # follow `include "name"` into the named template that holds the rest
            if matched == len(keys):
                break
            include = _include_below(section, line)
            inner = self.defines.get(include) if include else None
            if inner is None:
                break
            inner_line, inner_matched = search(inner, keys[matched:])
            if inner_line < 0:
                break
            section, line, matched = inner, inner_line, matched + inner_matched
        note = self._values_note(section, line, keys[matched:])
        start, end = (
            (section.start + 1, section.end) if section.path != self.path else self.segment()
        )
        column, end_column = _key_columns(section.lines[line], keys[matched - 1 : matched])
        return Location(section.path, line + 1, start, max(start, end), note, column, end_column)

    def _values_note(self, section: Section, line: int, rest: list[str | tuple[str, str]]) -> str:
        """``value from values.yaml:12 (.Values.image.tag)`` for the value behind a line."""
        refs = _VALUES_REF.findall(section.lines[line])
        if not refs and rest:  # the field comes from a block: `{{- toYaml .Values.x | nindent }}`
            indent = _indent(section.lines[line])
            for text in section.lines[line + 1 : section.end]:
                if text.strip() and _indent(text) <= indent and "{{" not in text:
                    break
                refs = _VALUES_REF.findall(text)
                if refs:
                    break
        for ref in refs:
            tail = [r for r in rest if isinstance(r, str)] if len(refs) == 1 else []
            steps: list[PathStep] = [*ref.strip(".").split("."), *tail]
            for source in reversed(self.sources):
                found = source.line_of(steps) or source.line_of(
                    steps[: len(ref.strip(".").split("."))]
                )
                if found:
                    return f"value from {source.path}:{found} (.Values.{ref.strip('.')})"
        return ""
