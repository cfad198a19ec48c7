"""Map a field of a rendered object back to the line that set it.

Kustomize tells which file an object came from (``config.kubernetes.io/origin``) and
which kustomizations patched it (``alpha.config.kubernetes.io/transformations``), but not
which patch set which field. So the patches of those kustomizations are read, last
applied first, and the first one that sets the field (a strategic-merge patch holding
the path, list items matched by ``name`` as Kustomize merges them, or a JSON 6902
operation on the path or one of its parents) is the line a reviewer edits. When no patch
set it, the field is looked up in the base file the object came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import yaml

from scanner import kinds
from scanner.sources.kubeyaml import Document, parse_yaml
from scanner.sources.parsecache import parse_once
from scanner.sources.render.base import FieldMap, Location
from scanner.yamlutil import PathStep, compose, parse_path, position_in, walk

try:  # pragma: no cover - depends on how PyYAML was built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

ReadText = Callable[[str], str | None]


def concrete(body: Mapping[str, Any], path: str) -> str | None:
    """A CEL evidence path as a path in the object (``podSpec.x`` -> ``spec.template.spec.x``).

    None for paths that are not in the object at all (``facts.``).
    """
    head, _, rest = path.partition(".")
    if head == "facts":
        return None
    if head == "podSpec":
        info = kinds.lookup(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        if info is None or not info.pod_spec_path:
            return None
        return ".".join((*info.pod_spec_path, rest)) if rest else ".".join(info.pod_spec_path)
    return path


def translate(body: Any, steps: Sequence[PathStep]) -> tuple[list[PathStep], list[PathStep]]:
    """The path with list items named (``[name=odoo]``) and with plain indexes.

    A patch names list items by their merge key, not by position, so ``containers[0]``
    of the rendered object is ``containers[name=odoo]`` in the patch.
    """
    named: list[PathStep] = []
    indexed: list[PathStep] = []
    node = body
    for step in steps:
        if isinstance(step, tuple) and isinstance(node, list):
            index = next(
                (
                    i
                    for i, item in enumerate(node)
                    if isinstance(item, Mapping) and str(item.get(step[0])) == step[1]
                ),
                None,
            )
            named.append(step)
            indexed.append(index if index is not None else step)
            node = node[index] if index is not None else None
            continue
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            item = node[step]
            name = item.get("name") if isinstance(item, Mapping) else None
            named.append(("name", str(name)) if name is not None else step)
            indexed.append(step)
            node = item
            continue
        named.append(step)
        indexed.append(step)
        node = node.get(str(step)) if isinstance(node, Mapping) else None
    return named, indexed


@lru_cache(maxsize=16)
def _lines(text: str) -> list[str]:
    """A source file's lines, split once: every object rendered from one large file (a
    CRD bundle) would split the whole file again."""
    return text.splitlines()


def _name(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata")
    return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""


class SourceFiles:
    """Texts and document spans of source files, read and parsed once per scan."""

    def __init__(self, read_text: ReadText) -> None:
        self._read = read_text
        self._texts: dict[str, str | None] = {}
        self._docs: dict[str, list[tuple[str, str, int, int]]] = {}

    def text(self, path: str) -> str | None:
        """The file's text (cached); None when unreadable."""
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def span(self, path: str, body: Mapping[str, Any]) -> tuple[int, int]:
        """Line span of the document defining ``body`` in ``path``.

        Names may have gained a prefix, suffix or generator hash, so the longest source
        name of the same kind contained in the rendered name wins.
        """
        text = self.text(path) or ""
        if path not in self._docs:
            self._docs[path] = [
                (str(d.data.get("kind", "")), _name(d.data), d.start_line, d.end_line)
                for d in parse_once(text, keep=False)[0]
                if isinstance(d, Document) and isinstance(d.data, Mapping)
            ]
        docs = self._docs[path]
        kind, name = str(body.get("kind", "")), _name(body)
        best: tuple[int, int, int] | None = None
        for doc_kind, doc_name, start, end in docs:
            better = best is None or len(doc_name) > best[0]
            if doc_kind == kind and doc_name and doc_name in name and better:
                best = (len(doc_name), start, end)
        if best is not None:
            return best[1], best[2]
        if len(docs) == 1:
            return docs[0][2], docs[0][3]
        return 1, max(1, text.count("\n") + 1)


def _target_matches(target: Mapping[str, Any] | None, body: Mapping[str, Any]) -> bool:
    if not target:
        return True
    if target.get("kind") and str(target["kind"]) != str(body.get("kind", "")):
        return False
    wanted = target.get("name")
    if wanted:
        name = _name(body)
        try:
            return bool(re.fullmatch(str(wanted), name)) or str(wanted) in name
        except re.error:
            return str(wanted) in name
    return True


@dataclass(frozen=True)
class Patch:
    """One patch entry of a kustomization: a file or inline text, and its target."""

    kustomization: str
    file: str
    inline: str
    #: 0-based line in the kustomization where inline text starts (block scalars).
    inline_line: int
    target: Mapping[str, Any] | None

    @classmethod
    def all_of(cls, kust_file: str, folder: str, data: Mapping[str, Any]) -> list[Patch]:
        """Every patch of a kustomization, in the order Kustomize applies them."""
        found: list[Patch] = []
        for field_name in ("patchesStrategicMerge", "patchesJson6902", "patches"):
            for index, entry in enumerate(data.get(field_name) or ()):
                target = entry.get("target") if isinstance(entry, Mapping) else None
                if isinstance(entry, str) and "\n" not in entry:
                    found.append(cls(kust_file, _join(folder, entry), "", 0, None))
                elif isinstance(entry, str):
                    found.append(cls(kust_file, "", entry, _marker(field_name, index), None))
                elif isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                    found.append(cls(kust_file, _join(folder, entry["path"]), "", 0, target))
                elif isinstance(entry, Mapping) and isinstance(entry.get("patch"), str):
                    marker = _marker(field_name, index)
                    found.append(cls(kust_file, "", entry["patch"], marker, target))
        return found

    def documents(self, read_text: ReadText) -> Iterator[tuple[Any, yaml.Node, str, int]]:
        """(data, node, file, line offset) of each document of the patch."""
        text = self.inline if not self.file else read_text(self.file)
        if not text:
            return
        file = self.file or self.kustomization
        offset = 0
        if not self.file:
            offset = _inline_offset(read_text(self.kustomization) or "", self.inline_line)
        for data, node in _patch_documents(text):
            yield data, node, file, offset

    def where(
        self,
        body: Mapping[str, Any],
        named: list[PathStep],
        indexed: list[PathStep],
        read_text: ReadText,
    ) -> Location | None:
        """Where this patch sets the field, or None when it does not touch it."""
        if not _target_matches(self.target, body):
            return None
        pointer = "/" + "/".join(str(s) for s in indexed)
        for data, node, file, offset in self.documents(read_text):
            if _is_json6902(data):
                assert isinstance(node, yaml.SequenceNode)
                for op, op_node in zip(data, node.value, strict=False):
                    path = str(op.get("path", ""))
                    if pointer == path or pointer.startswith(path.rstrip("/") + "/"):
                        line = op_node.start_mark.line + 1 + offset
                        column = op_node.start_mark.column + 1 if self.file else 0
                        return Location(file, line, line, line, "", column)
                continue
            if not isinstance(data, Mapping):
                continue
            if self.target is None and (
                str(data.get("kind", "")) != str(body.get("kind", ""))
                or _name(data) not in _name(body)
            ):
                continue
            line, complete = walk(node, named)
            if complete:
                start = node.start_mark.line + 1 + offset
                end = max(start, node.end_mark.line + offset)
                # inline patch text sits indented in a block scalar: its columns are not the
                # kustomization's, so only a patch file gets them
                column, end_column = _columns(node, named) if self.file else (0, 0)
                return Location(file, line + offset, start, end, "", column, end_column)
        return None


@lru_cache(maxsize=256)
def _patch_documents(text: str) -> tuple[tuple[Any, yaml.Node], ...]:
    """(data, node) of each document of a patch text, parsed once: every evidence field of
    every object a kustomization patches asked for the same file again (a third of the
    time spent placing rendered findings). Empty when it does not parse."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
        datas = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError:
        return ()
    return tuple((data, node) for node, data in zip(nodes, datas, strict=False) if node is not None)


def _columns(node: yaml.Node | None, named: list[PathStep]) -> tuple[int, int]:
    """Start and end column of the field on ``named`` in a node composed from the file's
    own text (0, 0 when the path is not all there or the field spans lines)."""
    _, column, end_column, complete = position_in(node, named)
    return (column, end_column) if complete else (0, 0)


def _is_json6902(data: Any) -> bool:
    return isinstance(data, list) and all(
        isinstance(op, Mapping) and "op" in op and "path" in op for op in data
    )


def _join(folder: str, entry: str) -> str:
    joined = PurePosixPath(folder) / entry if folder != "." else PurePosixPath(entry)
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _marker(field_name: str, index: int) -> int:
    """Encode which inline patch (field, index) so its line can be found lazily."""
    order = ("patchesStrategicMerge", "patchesJson6902", "patches").index(field_name)
    return order * 100_000 + index


def _inline_offset(kust_text: str, marker: int) -> int:
    """Lines before the inline patch text in the kustomization file."""
    if marker < 0:
        return 0
    field_name = ("patchesStrategicMerge", "patchesJson6902", "patches")[marker // 100_000]
    index = marker % 100_000
    root = compose(kust_text)
    if not isinstance(root, yaml.MappingNode):
        return 0
    for key, value in root.value:
        if getattr(key, "value", None) == field_name and isinstance(value, yaml.SequenceNode):
            if index >= len(value.value):
                return 0
            item = value.value[index]
            if isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    if getattr(k, "value", None) == "patch":
                        item = v
                        break
            first: int = item.start_mark.line
            if isinstance(item, yaml.ScalarNode) and item.style in ("|", ">"):
                return first + 1
            return first
    return 0


class KustomizeFieldMap(FieldMap):
    """Field -> line for an object rendered by Kustomize: the patch, else the base file."""

    def __init__(
        self,
        body: Mapping[str, Any],
        path: str,
        text: str,
        span: tuple[int, int],
        patches: list[Patch],
        read_text: ReadText,
    ) -> None:
        self.body, self.path, self.text, self.span = body, path, text, span
        self.patches, self.read_text = patches, read_text
        self._node: yaml.Node | None = None
        self._composed = False

    def release(self) -> None:
        """Forget the base document's nodes (1,666 rendered objects each kept theirs)."""
        self._node = None
        self._composed = False

    def files(self) -> frozenset[str]:
        """The base file and every patch's (an inline patch's: its kustomization)."""
        return frozenset({self.path, *(p.file or p.kustomization for p in self.patches)})

    def where(self, path: str) -> Location | None:
        """The patch line that set ``path``, else its line in the base document."""
        real = concrete(self.body, path)
        if real is None:
            return None
        named, indexed = translate(self.body, parse_path(real))
        for patch in self.patches:
            found = patch.where(self.body, named, indexed, self.read_text)
            if found is not None:
                return found
        if not self._composed:
            lines = _lines(self.text)
            self._node = compose("\n".join(lines[self.span[0] - 1 : self.span[1]]))
            self._composed = True
        line, _ = walk(self._node, named)
        if not line:
            return None
        # the document was composed from whole lines of the file: its columns are the file's
        column, end_column = _columns(self._node, named)
        return Location(
            self.path, self.span[0] - 1 + line, self.span[0], self.span[1], "", column, end_column
        )


_GENERATORS = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}


class GeneratedFieldMap(FieldMap):
    """Field -> line for a ConfigMap or Secret made by a generator: its file or literal."""

    def __init__(
        self,
        body: Mapping[str, Any],
        kustomization: str,
        folder: str,
        generator: str,
        read_text: ReadText,
    ) -> None:
        self.body, self.kustomization, self.folder = body, kustomization, folder
        self.field_name = _GENERATORS.get(generator, "")
        self.read_text = read_text

    def entry(self) -> tuple[int, Mapping[str, Any]] | None:
        """Index and data of the generator entry that made the object."""
        text = self.read_text(self.kustomization) or ""
        data = next((d.data for d in parse_yaml(text) if isinstance(d, Document)), None)
        entries = data.get(self.field_name) if isinstance(data, Mapping) else None
        name = _name(self.body)
        best: tuple[int, int, Mapping[str, Any]] | None = None
        for index, item in enumerate(entries or ()):
            wanted = str(item.get("name", "")) if isinstance(item, Mapping) else ""
            if wanted and wanted in name and (best is None or len(wanted) > best[0]):
                best = (len(wanted), index, item)
        return (best[1], best[2]) if best else None

    def files(self) -> frozenset[str]:
        """The kustomization and the files its generator entry reads (what :meth:`where`
        can point at)."""
        found = self.entry()
        sources = (found[1].get("files") or ()) if found is not None else ()
        named = (_join(self.folder, str(spec).rpartition("=")[2]) for spec in sources)
        return frozenset({self.kustomization, *named})

    def where(self, path: str) -> Location | None:
        """The generator's source file for ``data.KEY``, else its literal or entry line."""
        found = self.entry()
        if found is None:
            return None
        index, item = found
        head, _, key = path.partition(".")
        key = key if head in ("data", "binaryData", "stringData") else ""
        for spec in item.get("files") or ():
            name, _, source = str(spec).rpartition("=")
            if key and key == (name or PurePosixPath(source).name):
                file = _join(self.folder, source)
                lines = max(1, (self.read_text(file) or "").count("\n"))
                return Location(file, 1, 1, lines)
        node = compose(self.read_text(self.kustomization) or "")
        entry_steps: list[PathStep] = [self.field_name, index]
        literals = [str(x).partition("=")[0] for x in item.get("literals") or ()]
        if key in literals:
            entry_steps += ["literals", literals.index(key)]
        line, _ = walk(node, entry_steps)
        return Location(self.kustomization, line, line, line) if line else None
