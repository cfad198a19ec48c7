"""Who deploys a chart from this repository: Argo CD Applications and Flux HelmReleases.

An ``Application`` whose ``source.path`` (or one of ``sources[].path``) is a chart folder,
or a ``HelmRelease`` whose ``spec.chart.spec.chart`` is one (from a ``GitRepository``),
gives that chart a release name, a namespace and values; each consumer is one render.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import yaml

from scanner.sources.kubeyaml import Document
from scanner.sources.parsecache import parse_once
from scanner.sources.render.helm import Consumer
from scanner.sources.render.helmmap import ValuesSource
from scanner.yamlutil import compose

ReadText = Callable[[str], str | None]


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _norm(path: Any) -> str:
    return posixpath.normpath(str(path).strip().lstrip("/")).removeprefix("./") or "."


def find_consumers(
    paths: Iterable[str], read_text: ReadText, charts: set[str]
) -> dict[str, list[Consumer]]:
    """Chart folder -> its consumers, in file order."""
    found: dict[str, list[Consumer]] = {}
    for path in paths:
        if not path.endswith((".yaml", ".yml")):
            continue
        text = read_text(path)
        if not text or ("Application" not in text and "HelmRelease" not in text):
            continue
        lines: list[str] = []  # split once per file, only when a consumer is in it
        for doc in parse_once(text, keep=False)[0]:
            if (
                isinstance(doc, Document)
                and isinstance(doc.data, Mapping)
                and doc.data.get("kind") in ("Application", "HelmRelease")
            ):
                lines = lines or text.splitlines()
                for folder, consumer in _consumers(path, lines, doc):
                    if folder in charts:
                        found.setdefault(folder, []).append(consumer)
    return found


def _consumers(path: str, lines: list[str], doc: Document) -> Iterator[tuple[str, Consumer]]:
    data = doc.data
    api, kind = str(data.get("apiVersion", "")), str(data.get("kind", ""))
    meta = _map(data.get("metadata"))
    spec = _map(data.get("spec"))
    name = str(meta.get("name", ""))
    label = f"{kind} {name} ({path}:{doc.start_line})"
    doc_text = "\n".join(lines[doc.start_line - 1 : doc.end_line])
    offset = doc.start_line - 1
    if api.startswith("argoproj.io/") and kind == "Application":
        sources = [("source", spec.get("source"))]
        sources += [(f"sources[{i}]", s) for i, s in enumerate(spec.get("sources") or ())]
        destination = _map(spec.get("destination"))
        for key, source in sources:
            if isinstance(source, Mapping) and source.get("path"):
                yield (
                    _norm(source["path"]),
                    _argo(path, doc_text, offset, key, source, label, name, destination),
                )
    elif api.startswith("helm.toolkit.fluxcd.io/") and kind == "HelmRelease":
        chart = (
            ((spec.get("chart") or {}).get("spec") or {})
            if isinstance(spec.get("chart"), Mapping)
            else {}
        )
        ref = _map(chart.get("sourceRef"))
        if chart.get("chart") and ref.get("kind") in ("GitRepository", "Bucket"):
            folder = _norm(chart["chart"])
            values = spec.get("values") if isinstance(spec.get("values"), Mapping) else None
            inline = (
                (ValuesSource(path, doc_text, values, offset, ("spec", "values")),)
                if values
                else ()
            )
            files = tuple(
                posixpath.relpath(_norm(f), folder) for f in chart.get("valuesFiles") or ()
            )
            yield (
                folder,
                Consumer(
                    label,
                    str(spec.get("releaseName") or name),
                    str(spec.get("targetNamespace") or meta.get("namespace") or ""),
                    inline,
                    files,
                ),
            )


def _argo(
    path: str,
    doc_text: str,
    offset: int,
    key: str,
    source: Mapping[str, Any],
    label: str,
    name: str,
    destination: Mapping[str, Any],
) -> Consumer:
    helm = _map(source.get("helm"))
    values: list[ValuesSource] = []
    prefix = ("spec", *key.replace("[", ".").replace("]", "").split("."), "helm")
    steps = [int(s) if s.isdigit() else s for s in prefix]
    if isinstance(helm.get("values"), str):
        data = _safe(helm["values"])
        if isinstance(data, Mapping):
            values.append(
                ValuesSource(
                    path, helm["values"], data, offset + _block_line(doc_text, [*steps, "values"])
                )
            )
    if isinstance(helm.get("valuesObject"), Mapping):
        values.append(
            ValuesSource(path, doc_text, helm["valuesObject"], offset, (*steps, "valuesObject"))
        )
    files = tuple(
        f for f in helm.get("valueFiles") or () if isinstance(f, str) and not f.startswith("$")
    )
    return Consumer(
        label,
        str(helm.get("releaseName") or name),
        str(destination.get("namespace") or ""),
        tuple(values),
        files,
    )


def _safe(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _block_line(doc_text: str, steps: list[Any]) -> int:
    """Lines before the content of a block scalar at ``steps`` (``values: |``)."""
    node = compose(doc_text)
    for step in steps:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            node = node.value[step]
        else:
            return 0
    if node is None:
        return 0
    line: int = node.start_mark.line
    return line + 1 if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">") else line
