"""Render the Helm charts of a repository with a real Helm engine.

The engine is Helm itself (Go, v4) through ``helm-python-sdk``: a manylinux wheel that
ships ``libhelm_c.so``, so no ``helm`` binary or network is needed (Debian has no Helm
package, and no other registry package here ships a Linux Helm). It runs in a child
process (:mod:`helm_worker`) with a timeout and an output cap.

Each chart is rendered once per consumer: an Argo CD ``Application`` or Flux
``HelmRelease`` in the repo whose source path is the chart, with the values it gives;
a chart nobody points at is rendered once with its defaults. Value files named under
``helm.charts`` in ``ledgergate.yaml`` are layered over the defaults in both cases.
The chart reaches the engine as an archive built here from the regular files inside
the repository, so a template cannot read a file outside it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import sys
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path, PurePosixPath
from typing import Any

from scanner import cache, kinds
from scanner.config import HelmChartConfig, RenderOptions
from scanner.model import Origin
from scanner.sources.base import InputProblem
from scanner.sources.kubeyaml import Document, parse_yaml
from scanner.sources.parsecache import parse_cached
from scanner.sources.render.base import RenderedObject, RenderOutput
from scanner.sources.render.helmmap import HelmFieldMap, Section, ValuesSource, defines_of
from scanner.sources.render.proc import RenderRunError, run_bounded
from scanner.sources.render.scrubbing import scrub_message, secrets_in, secrets_of_files

ReadText = Callable[[str], str | None]
WORKER = Path(__file__).with_name("helm_worker.py")
ENGINE_PACKAGE = "helm_python"
#: Largest chart archive handed to the engine.
MAX_ARCHIVE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Consumer:
    """Who deploys a chart and with what: an Argo CD Application or Flux HelmRelease."""

    label: str
    release: str
    namespace: str
    values: tuple[ValuesSource, ...] = ()
    value_files: tuple[str, ...] = ()


@dataclass
class ChartInfo:
    """A chart folder: its metadata and the files it stands for."""

    folder: str
    meta: Mapping[str, Any]
    files: list[str] = field(default_factory=list)
    #: ``file://`` dependencies inside the repository: name -> repo-relative folder.
    local_deps: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The chart's name (folder name when Chart.yaml has none)."""
        return str(self.meta.get("name") or PurePosixPath(self.folder).name)


def _load(text: str | None) -> Any:
    docs = [d for d in parse_yaml(text or "") if isinstance(d, Document)]
    return docs[0].data if docs else None


def find_charts(paths: list[str], read_text: ReadText) -> list[ChartInfo]:
    """Top-level charts (subcharts vendored under ``charts/`` render with their parent)."""
    folders = {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "Chart.yaml"}
    charts: list[ChartInfo] = []
    for folder in sorted(folders):
        parent = PurePosixPath(folder).parent
        if parent.name == "charts" and str(parent.parent) in folders:
            continue
        meta = _load(
            read_text(posixpath.join(folder, "Chart.yaml") if folder != "." else "Chart.yaml")
        )
        info = ChartInfo(folder, meta if isinstance(meta, Mapping) else {})
        prefix = "" if folder == "." else folder + "/"
        info.files = [
            p for p in paths if p.startswith(prefix) and not p[len(prefix) :].startswith("crds/")
        ]
        charts.append(info)
    return charts


def _declared(chart: ChartInfo, read_text: ReadText) -> list[Mapping[str, Any]]:
    deps = chart.meta.get("dependencies")
    if deps is None:  # Helm 2 charts list them in requirements.yaml
        req = _load(read_text(posixpath.join(chart.folder, "requirements.yaml")))
        deps = req.get("dependencies") if isinstance(req, Mapping) else None
    return [d for d in deps or () if isinstance(d, Mapping) and d.get("name")]


def resolve_local(chart: ChartInfo, root: Path, read_text: ReadText) -> list[str]:
    """Fill ``chart.local_deps`` from ``file://`` dependencies; why any were refused.

    A local dependency is vendored from the repository only: one that leaves the
    repository root (``file://../../elsewhere``, or a symlink out) is refused, as the
    scanned tree is untrusted and the chart must not read files beside it.
    """
    refused: list[str] = []
    for dep in _declared(chart, read_text):
        repository = str(dep.get("repository") or "")
        if not repository.startswith("file://"):
            continue
        rel = posixpath.normpath(posixpath.join(chart.folder, repository[len("file://") :]))
        target = (root / rel).resolve()
        if rel.startswith(("../", "/")) or rel == ".." or not target.is_relative_to(root):
            refused.append(f"{dep['name']} ({repository}) leaves the repository; refused")
        elif not (target / "Chart.yaml").is_file():
            refused.append(f"{dep['name']} ({repository}) has no Chart.yaml")
        else:
            chart.local_deps[str(dep["name"])] = target.relative_to(root).as_posix()
    return refused


def missing_dependencies(chart: ChartInfo, root: Path, read_text: ReadText) -> list[str]:
    """Declared dependencies with no folder or archive under the chart's ``charts/`` (and
    not resolved from a ``file://`` folder in the repository)."""
    vendored = root / chart.folder / "charts"
    present = {p.name for p in vendored.iterdir()} if vendored.is_dir() else set()
    missing: list[str] = []
    for dep in _declared(chart, read_text):
        name = str(dep["name"])
        if name in present or any(p.startswith(name + "-") and p.endswith(".tgz") for p in present):
            continue
        if name in chart.local_deps:
            continue
        where = " ".join(str(dep.get(k)) for k in ("repository", "version") if dep.get(k))
        missing.append(f"{name} ({where})" if where else name)
    return missing


def _chart_files(root: Path, chart: ChartInfo) -> list[tuple[str, bytes]]:
    """The chart's regular files inside the repository (symlinks out dropped) as archive
    members, with each local ``file://`` dependency vendored under ``charts/NAME/``."""
    members: list[tuple[str, bytes]] = []
    folders = [(root / chart.folder, f"{chart.name}/")]
    folders += [
        (root / f, f"{chart.name}/charts/{n}/") for n, f in sorted(chart.local_deps.items())
    ]
    for base, prefix in folders:
        for path in sorted(base.rglob("*")):
            real = path.resolve()
            if not path.is_file() or not real.is_relative_to(root) or path.name.startswith(".git"):
                continue
            members.append((f"{prefix}{path.relative_to(base).as_posix()}", real.read_bytes()))
    return members


def _archive(members: list[tuple[str, bytes]]) -> bytes:
    """The members as a .tgz."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            entry = tarfile.TarInfo(name)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
            if buf.tell() > MAX_ARCHIVE_BYTES:
                raise RenderRunError(f"chart is over {MAX_ARCHIVE_BYTES:,} bytes; not rendered")
    return buf.getvalue()


def _engine_identity() -> str:
    try:
        return f"{ENGINE_PACKAGE} {metadata.version('helm-python-sdk')}"
    except metadata.PackageNotFoundError:
        return ENGINE_PACKAGE


def _render_key(members: list[tuple[str, bytes]], request: Mapping[str, Any]) -> bytes:
    """The cache key of one render: the engine, every archive member and the request."""
    parts: list[bytes | str] = [_engine_identity()]
    for name, data in members:
        parts.extend((name, hashlib.sha256(data).digest()))
    parts.append(json.dumps(request, sort_keys=True))
    return cache.digest("helm", parts)


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


class Helm:
    """Renders every chart of a repository, once per consumer."""

    def __init__(self, root: Path, options: RenderOptions, read_text: ReadText) -> None:
        self.root, self.options, self.read_text = root, options, read_text

    def render(self, paths: list[str], consumers: Mapping[str, list[Consumer]]) -> RenderOutput:
        """Render each chart; each failure is one error on its Chart.yaml."""
        out = RenderOutput()
        engine = find_spec(ENGINE_PACKAGE) is not None
        for chart in find_charts(paths, self.read_text):
            out.covered.update(chart.files)  # judged rendered, or stands behind one error
            if str(chart.meta.get("type", "")) == "library":
                continue
            if not engine:
                out.problems.append(
                    self._problem(
                        chart,
                        "no Helm engine installed: `pip install helm-python-sdk` (ships Helm "
                        "as a library), or exclude the chart path in ledgergate.yaml",
                    )
                )
                continue
            refused = resolve_local(chart, self.root, self.read_text)
            if refused:
                out.problems.append(
                    self._problem(chart, "local dependencies: " + "; ".join(refused))
                )
                continue
            missing = missing_dependencies(chart, self.root, self.read_text)
            if missing:
                out.problems.append(
                    self._problem(
                        chart,
                        f"dependencies not vendored under charts/: {', '.join(missing)}. Run "
                        f"`helm dependency build {chart.folder}` and commit charts/*.tgz",
                    )
                )
                continue
            config = self.options.charts.get(chart.folder, HelmChartConfig())
            for consumer in consumers.get(chart.folder) or [self._default(chart, config)]:
                out.extend(self._render_one(chart, config, consumer))
        return out

    def _default(self, chart: ChartInfo, config: HelmChartConfig) -> Consumer:
        return Consumer("", config.release_name or chart.name, config.namespace)

    def _defines(self, chart: ChartInfo) -> dict[str, Section]:
        """Named templates of the chart and its vendored subcharts."""
        files = [*chart.files, *self._local_files(chart)]
        texts = {p: self.read_text(p) or "" for p in files if "/templates/" in f"/{p}"}
        return defines_of(texts)

    def _scrubbed(self, chart: ChartInfo, consumer: Consumer, message: str) -> str:
        """Helm's message without the secret values of the chart's files and values."""
        config = self.options.charts.get(chart.folder, HelmChartConfig())
        named = (posixpath.normpath(posixpath.join(chart.folder, v)) for v in config.values)
        extra = (posixpath.normpath(posixpath.join(chart.folder, v)) for v in consumer.value_files)
        inside = [p for p in (*named, *extra) if not p.startswith("../")]
        files = [*chart.files, *self._local_files(chart), *inside]
        secrets = secrets_of_files(files, self.read_text)
        secrets |= secrets_in([source.data for source in consumer.values])
        return scrub_message(message, secrets)

    def _local_files(self, chart: ChartInfo) -> list[str]:
        return [
            p.relative_to(self.root).as_posix()
            for folder in chart.local_deps.values()
            for p in sorted((self.root / folder).rglob("*"))
            if p.is_file()
        ]

    @staticmethod
    def _file(chart: ChartInfo, name: str) -> str:
        return posixpath.join(chart.folder, name) if chart.folder != "." else name

    def _problem(self, chart: ChartInfo, message: str) -> InputProblem:
        file = self._file(chart, "Chart.yaml")
        return InputProblem(
            Origin(path=file, start_line=1), "helm", f"chart {chart.folder} not rendered: {message}"
        )

    def _values(
        self, chart: ChartInfo, config: HelmChartConfig, consumer: Consumer
    ) -> list[ValuesSource]:
        """Values in precedence order: defaults, config files, consumer files, inline."""
        sources: list[ValuesSource] = []
        for name in (*config.values, *consumer.value_files):
            path = posixpath.normpath(posixpath.join(chart.folder, name))
            source = ValuesSource.from_file(path, self.read_text)
            if path.startswith("../") or source is None:
                raise RenderRunError(f"value file {name} not found in the repository")
            sources.append(source)
        sources.extend(consumer.values)
        return sources

    def _render_one(
        self, chart: ChartInfo, config: HelmChartConfig, consumer: Consumer
    ) -> RenderOutput:
        out = RenderOutput()
        label = f"helm {chart.folder}" + (f" via {consumer.label}" if consumer.label else "")
        try:
            overrides = self._values(chart, config, consumer)
            values: dict[str, Any] = {}
            for source in overrides:  # the engine applies the chart's own defaults first
                values = _deep_merge(values, source.data)
            defaults = ValuesSource.from_file(self._file(chart, "values.yaml"), self.read_text)
            sources = [defaults, *overrides] if defaults is not None else overrides
            answer, stderr = self._engine(_chart_files(self.root, chart), values, consumer)
        except (RenderRunError, OSError, ValueError) as exc:
            out.problems.append(
                self._problem(chart, self._scrubbed(chart, consumer, f"{label}: {exc}"))
            )
            return out
        if "manifests" not in answer:
            message = answer.get("error") or stderr.strip()[-500:] or "Helm engine failed"
            out.problems.append(
                self._problem(chart, self._scrubbed(chart, consumer, f"{label}: {message}"))
            )
            return out
        defines = self._defines(chart)
        for template, text in sorted(answer["manifests"].items()):
            out.objects.extend(
                self._objects(chart, template, text, sources, consumer, label, defines)
            )
        return out

    def _engine(
        self, members: list[tuple[str, bytes]], values: dict[str, Any], consumer: Consumer
    ) -> tuple[dict[str, Any], str]:
        """The engine's answer and its stderr; from the content cache when the chart's
        files, the values and the engine are unchanged (successes only are kept)."""
        request = {"values": values, "release": consumer.release, "namespace": consumer.namespace}
        store = cache.active()
        key = _render_key(members, request) if store is not None else b""
        if store is not None:
            hit = store.get(key)
            if isinstance(hit, dict) and isinstance(hit.get("manifests"), dict):
                return hit, ""
        done = run_bounded(
            [sys.executable, "-I", str(WORKER)],
            cwd=self.root,
            timeout_s=self.options.timeout_s,
            max_bytes=self.options.max_output_bytes,
            stdin=json.dumps(
                {**request, "archive": base64.b64encode(_archive(members)).decode()}
            ).encode(),
        )
        answer = json.loads(done.stdout or b"{}")
        if not isinstance(answer, dict):
            raise ValueError("the Helm engine's answer is not a JSON object")
        if store is not None and isinstance(answer.get("manifests"), dict):
            store.put(key, {"manifests": answer["manifests"]})
        return answer, done.stderr

    def _objects(
        self,
        chart: ChartInfo,
        template: str,
        text: str,
        sources: list[ValuesSource],
        consumer: Consumer,
        label: str,
        defines: Mapping[str, Section],
    ) -> Iterable[RenderedObject]:
        if not template.endswith((".yaml", ".yml", ".json", ".tpl")) or not text.strip():
            return
        rel = template.split("/", 1)[1] if "/" in template else template
        path = rel if chart.folder == "." else f"{chart.folder}/{rel}"
        for name, folder in chart.local_deps.items():  # a local dependency's own file
            if rel.startswith(f"charts/{name}/"):
                path = posixpath.join(folder, rel[len(f"charts/{name}/") :])
        source_text = self.read_text(path) or ""
        seen: dict[str, int] = {}
        for doc in parse_cached(text)[0]:
            if not isinstance(doc, Document) or not isinstance(doc.data, dict):
                continue
            body = doc.data
            if not body.get("kind"):
                continue
            meta = body.setdefault("metadata", {})
            api = str(body.get("apiVersion", ""))
            if (
                consumer.namespace
                and isinstance(meta, dict)
                and not meta.get("namespace")
                and kinds.is_namespaced(api, str(body["kind"]))
            ):
                meta["namespace"] = consumer.namespace
            index = seen.get(str(body["kind"]), 0)
            seen[str(body["kind"])] = index + 1
            fields = HelmFieldMap(body, path, source_text, index, sources, defines)
            start, end = fields.segment()
            origin = Origin(path=path, start_line=start, end_line=end, rendered_from=label)
            yield RenderedObject(body, origin, fields)
