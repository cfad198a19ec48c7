"""What a kustomization says about the files it names, read without rendering it.

When a folder is not rendered, its kustomization still decides what will be deployed:
its ``namespace:`` *overrides* the namespace of every object it includes (the outermost
kustomization wins, as Kustomize's namespace transformer runs at each level); files named
in ``resources:`` are objects whatever their suffix; patch files are read; and
``configMapGenerator`` / ``secretGenerator`` entries become the ConfigMaps and Secrets
Kustomize would generate (a literal password there is a secret in the repository), named
with the hash suffix Kustomize gives them; inline patches (``patches[].patch`` and inline
``patchesStrategicMerge`` entries) are read like patch files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from scanner.sources.kubeyaml import Document, DocumentError, parse_yaml
from scanner.yamlutil import PathStep, line_in

FILE_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class Entry:
    """A repository path a kustomization names, and the line that names it."""

    path: str
    line: int


@dataclass(frozen=True)
class Generator:
    """One ``configMapGenerator`` or ``secretGenerator`` entry."""

    kind: str
    name: str
    namespace: str
    line: int
    literals: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    envs: tuple[str, ...]
    secret_type: str
    hash_suffix: bool = True


@dataclass(frozen=True)
class InlinePatch:
    """A patch written inline in a kustomization, and the line its text starts on."""

    text: str
    line: int


@dataclass(frozen=True)
class Kustomization:
    """The parts of a kustomization that matter when it is not rendered."""

    path: str
    namespace: str
    resources: tuple[Entry, ...]
    patches: tuple[Entry, ...]
    generators: tuple[Generator, ...]
    inline_patches: tuple[InlinePatch, ...] = ()

    @property
    def folder(self) -> str:
        """The folder the kustomization's paths are relative to."""
        return posixpath.dirname(self.path) or "."


def file_name(path: str) -> str:
    """``PurePosixPath(path).name`` by a string split: called for every listed file several
    times per scan, where building a ``PurePosixPath`` each time added up."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name != "." else PurePosixPath(path).name  # pathlib drops "." parts


def is_kustomization(path: str) -> bool:
    """Whether a file is a kustomization by its name."""
    return file_name(path) in FILE_NAMES


def _resolve(folder: str, name: Any) -> str:
    """A repository-relative path, or "" for remote, absolute or escaping references."""
    if not isinstance(name, str) or not name or "://" in name or name.startswith(("/", "git@")):
        return ""
    joined = posixpath.normpath(posixpath.join(folder, name))
    if joined == ".." or joined.startswith("../"):
        return ""
    return joined


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _split_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (Kustomize strips one level of matching quotes from the value)."""
    key, _, value = text.partition("=")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return key.strip(), value


def read(path: str, doc: Document) -> Kustomization | None:
    """A kustomization's namespace, resources, patches and generators (None if not a map)."""
    data = doc.data
    if not isinstance(data, Mapping):
        return None
    folder = posixpath.dirname(path) or "."

    def line(*steps: PathStep) -> int:
        return line_in(doc.node, list(steps)) + doc.line_offset if doc.node else doc.start_line

    resources = [
        Entry(target, line(key, i))
        for key in ("resources", "components", "bases", "crds")
        for i, name in enumerate(_list(data, key))
        if (target := _resolve(folder, name))
    ]
    patches: list[Entry] = []
    inline: list[InlinePatch] = []
    for i, item in enumerate(_list(data, "patchesStrategicMerge")):
        if isinstance(item, str) and "\n" in item:
            inline.append(InlinePatch(item, _text_line(doc, "patchesStrategicMerge", i)))
        elif isinstance(item, str) and (target := _resolve(folder, item)):
            patches.append(Entry(target, line("patchesStrategicMerge", i)))
    for key in ("patches", "patchesJson6902"):
        for i, item in enumerate(_list(data, key)):
            if isinstance(item, Mapping) and isinstance(item.get("patch"), str):
                inline.append(InlinePatch(item["patch"], _text_line(doc, key, i, "patch")))
            elif isinstance(item, Mapping) and (target := _resolve(folder, item.get("path"))):
                patches.append(Entry(target, line(key, i)))
    namespace = data.get("namespace")
    options = data.get("generatorOptions")
    hashed = not (isinstance(options, Mapping) and options.get("disableNameSuffixHash") is True)
    generators = [
        _generator(kind, item, folder, line(key, i), namespace, hashed)
        for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret"))
        for i, item in enumerate(_list(data, key))
        if isinstance(item, Mapping) and isinstance(item.get("name"), str)
    ]
    return Kustomization(
        path,
        namespace if isinstance(namespace, str) else "",
        tuple(resources),
        tuple(patches),
        tuple(generators),
        tuple(inline),
    )


def _text_line(doc: Document, *steps: PathStep) -> int:
    """The line an inline string's text starts on (a block scalar starts below its ``|``)."""
    node = doc.node
    for step in steps:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
            node = node.value[step] if step < len(node.value) else None
        else:
            node = None
    if not isinstance(node, yaml.ScalarNode):
        return doc.start_line
    block = 1 if node.style in ("|", ">") else 0
    return node.start_mark.line + 1 + block + doc.line_offset


def _generator(
    kind: str, item: Mapping[str, Any], folder: str, line: int, namespace: Any, hashed: bool
) -> Generator:
    files = []
    for spec in item.get("files") or ():
        if isinstance(spec, str):
            key, _, name = spec.rpartition("=")
            target = _resolve(folder, name)
            if target:
                files.append((key or PurePosixPath(name).name, target))
    envs = [_resolve(folder, e) for e in (item.get("envs") or ()) if isinstance(e, str)]
    if isinstance(item.get("env"), str):
        envs.append(_resolve(folder, item["env"]))
    own = item.get("namespace")
    return Generator(
        kind=kind,
        name=str(item["name"]),
        namespace=own
        if isinstance(own, str)
        else (namespace if isinstance(namespace, str) else ""),
        line=line,
        literals=tuple(
            _split_pair(lit) for lit in (item.get("literals") or ()) if isinstance(lit, str)
        ),
        files=tuple(files),
        envs=tuple(e for e in envs if e),
        secret_type=str(item.get("type") or "Opaque"),
        hash_suffix=_own_hash_option(item.get("options"), hashed),
    )


def _own_hash_option(options: Any, inherited: bool) -> bool:
    """An entry's ``options.disableNameSuffixHash`` wins over ``generatorOptions``."""
    if isinstance(options, Mapping) and isinstance(options.get("disableNameSuffixHash"), bool):
        return not options["disableNameSuffixHash"]
    return inherited


def name_hash(body: Mapping[str, Any]) -> str:
    """The suffix Kustomize (v5, ``api/hasher``) appends to a generated ConfigMap or Secret.

    It hashes Go's ``json.Marshal`` of kind, data (and type) with the name looked up as
    the single key ``metadata/name``, which never exists, so the name hashes as "" (a
    Kustomize quirk kept here so names match ``kubectl kustomize`` exactly; tested
    against it).
    """
    encoded: dict[str, Any] = {"kind": body["kind"], "name": "", "data": body.get("data") or ""}
    if body["kind"] == "Secret":
        encoded["type"] = body.get("type", "")
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)  # Go escapes HTML characters in JSON
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def generated_body(gen: Generator, read_text: Callable[[str], str | None]) -> dict[str, Any]:
    """The ConfigMap or Secret Kustomize would generate (Secret values base64, as applied)."""
    values: dict[str, str] = {}
    for env in gen.envs:
        for raw in (read_text(env) or "").splitlines():
            text = raw.strip()
            if text and not text.startswith("#") and "=" in text:
                key, value = _split_pair(text)
                values[key] = value
    for key, value in gen.literals:
        values[key] = value
    for key, path in gen.files:
        content = read_text(path)
        if content is not None:
            values[key] = content
    meta: dict[str, Any] = {"name": gen.name}
    if gen.namespace:
        meta["namespace"] = gen.namespace
    body: dict[str, Any] = {"apiVersion": "v1", "kind": gen.kind, "metadata": meta}
    if gen.kind == "Secret":
        body["type"] = gen.secret_type
        data = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
    else:
        data = values
    if data:
        body["data"] = data
    if gen.hash_suffix:
        meta["name"] = f"{gen.name}-{name_hash(body)}"
    return body


def inline_documents(patch: InlinePatch) -> Iterator[Document | DocumentError]:
    """The documents of an inline patch, with lines counted in the kustomization."""
    shift = patch.line - 1
    for doc in parse_yaml(patch.text):
        if isinstance(doc, DocumentError):
            yield DocumentError(doc.line + shift, doc.message, doc.code, doc.manifest_like)
        else:
            yield Document(
                doc.data,
                doc.start_line + shift,
                doc.end_line + shift,
                tuple((a + shift, b + shift) for a, b in doc.item_spans),
                doc.node,
                doc.line_offset + shift,
            )


def named_files(kustomizations: Mapping[str, Kustomization]) -> Iterator[str]:
    """Every file path the kustomizations name as a resource or a patch."""
    for kust in kustomizations.values():
        for entry in (*kust.resources, *kust.patches):
            yield entry.path


def landing_namespaces(kustomizations: Mapping[str, Kustomization]) -> dict[str, set[str]]:
    """Path (file or kustomization) -> the namespaces a kustomization forces on it.

    ``kustomizations`` is keyed by folder. A path reached through several roots (a base
    shared by overlays) lands in each root's namespace; "" means no kustomization on the
    way sets one.
    """
    referenced = {e.path for k in kustomizations.values() for e in k.resources}
    landing: dict[str, set[str]] = {}

    def walk(kust: Kustomization, forced: str, seen: frozenset[str]) -> None:
        if kust.folder in seen:
            return  # a cycle: Kustomize refuses it; the files stay as they are
        namespace = forced or kust.namespace
        landing.setdefault(kust.path, set()).add(namespace)
        for entry in (*kust.resources, *kust.patches):
            child = kustomizations.get(entry.path)
            if child is not None:
                walk(child, namespace, seen | {kust.folder})
            else:
                landing.setdefault(entry.path, set()).add(namespace)

    for folder, kust in sorted(kustomizations.items()):
        if folder not in referenced:
            walk(kust, "", frozenset())
    return landing
