"""A Kustomize root's built objects as content-cache data, so a warm scan skips building them.

Building a root's objects from its cached output (reading the output back, parsing it,
reading origin and transformation annotations, finding each object's document span and
patches) was the largest part of a warm hook run. An entry holds, per object, what that
building derived: the body, its file and line span, and the data of its field map (the
patches that touched it, or the generator that made it). Field maps are made again from
that data; nothing but JSON values is stored.

The key is the root's render key (every file below every folder of its closure, the
``kubectl`` identity, the render options: see :mod:`.cached`) and the digest of this
tool's code, which builds the objects from those inputs: no input of the objects is
outside it. An entry of any other shape is a miss (the root is built again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner import cache
from scanner.model import Origin
from scanner.sources.render.base import RenderedObject
from scanner.sources.render.origins import (
    GeneratedFieldMap,
    KustomizeFieldMap,
    Patch,
    SourceFiles,
)


def objects_key(render_key: bytes) -> bytes:
    """The entry's key: the root's render key and the code that builds its objects."""
    return cache.digest("kustomize-objects", [render_key, cache.code_digest()])


def encode(objects: list[RenderedObject], generators: Mapping[int, str]) -> list[Any] | None:
    """The objects as data (None when a patch target is not a map: not kept); ``generators``
    gives a generated object's (by index) kind."""
    out: list[Any] = []
    for index, obj in enumerate(objects):
        origin, fields = obj.origin, obj.fields
        head = [obj.body, origin.path, origin.start_line, origin.end_line]
        if isinstance(fields, GeneratedFieldMap):
            out.append(["g", *head, fields.folder, generators[index]])
        elif isinstance(fields, KustomizeFieldMap):
            if any(
                p.target is not None and not isinstance(p.target, Mapping) for p in fields.patches
            ):
                return None
            patches = [
                [p.kustomization, p.file, p.inline, p.inline_line, p.target] for p in fields.patches
            ]
            out.append(["k", *head, patches])
        else:
            raise TypeError(f"no encoding for {type(fields).__name__}")
    return out


def decode(value: Any, folder: str, files: SourceFiles) -> list[RenderedObject] | None:
    """The objects of an entry, field maps made again; None unless shaped as
    :func:`encode` writes it."""
    if not isinstance(value, list):
        return None
    objects: list[RenderedObject] = []
    try:
        for entry in value:
            tag, body, path, start, end, *rest = entry
            if not isinstance(body, dict) or not isinstance(path, str):
                return None
            origin = Origin(
                path=path, start_line=int(start), end_line=int(end), rendered_from=folder
            )
            objects.append(RenderedObject(body, origin, _fields(tag, body, origin, rest, files)))
    except (TypeError, ValueError, IndexError):
        return None
    return objects


def _fields(
    tag: Any, body: dict[str, Any], origin: Origin, rest: list[Any], files: SourceFiles
) -> GeneratedFieldMap | KustomizeFieldMap:
    path = origin.path
    if tag == "g":
        folder_of, kind = rest
        return GeneratedFieldMap(body, path, str(folder_of), str(kind), files.text)
    if tag != "k":
        raise ValueError(f"unknown entry {tag!r}")
    (patches,) = rest
    found = [
        Patch(str(k), str(f), str(inline), int(line), target if target is None else dict(target))
        for k, f, inline, line, target in patches
    ]
    span = (origin.start_line, origin.end_line)
    return KustomizeFieldMap(body, path, files.text(path) or "", span, found, files.text)
