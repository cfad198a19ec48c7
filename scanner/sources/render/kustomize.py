"""Render the root kustomizations of a repository with the Kustomize built into ``kubectl``.

``kubectl kustomize`` is used rather than a standalone ``kustomize``: the machine image
and every CI runner already have ``kubectl`` (Kustomize v5 built in), so rendering needs
no second binary, and what is judged is exactly what ``kubectl apply -k`` would send.

The repository is never written to. Each root is rendered through a wrapper
kustomization in a temporary folder that lists the root as its only resource and asks
for ``buildMetadata: [originAnnotations, transformerAnnotations]``, so every object says
which file it came from and which kustomizations patched it. Before a render, the whole
graph below the root is checked: remote bases, ``helmCharts`` and references that leave
the repository (``../..``, symlinks) are refused, and Kustomize runs with
``LoadRestrictionsRootOnly``, no plugins and no exec functions.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from scanner import cache, parallel
from scanner.config import RenderOptions
from scanner.model import Origin
from scanner.sources.base import InputProblem
from scanner.sources.kubeyaml import Document, parse_yaml
from scanner.sources.kustomization import file_name
from scanner.sources.parsecache import parse_cached
from scanner.sources.render import built
from scanner.sources.render.base import FieldMap, RenderedObject, RenderOutput
from scanner.sources.render.cached import TreeHasher, kustomize_key, program_identity
from scanner.sources.render.origins import (
    GeneratedFieldMap,
    KustomizeFieldMap,
    Patch,
    SourceFiles,
)
from scanner.sources.render.proc import InputBudget, RenderRunError, run_bounded
from scanner.sources.render.scrubbing import generator_secrets, scrub_message, secrets_of_files

ReadText = Callable[[str], str | None]

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TRANSFORM_ANNOTATION = "alpha.config.kubernetes.io/transformations"
_PATCH_TRANSFORMERS = {
    "PatchTransformer",
    "PatchStrategicMergeTransformer",
    "PatchJson6902Transformer",
}
_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|git::|git@|[\w.-]+\.(?:com|org|io|net|dev)/)|\?ref=|//",
    re.IGNORECASE,
)
#: Fields whose entries are kustomization folders or files.
_REF_LISTS = ("resources", "bases", "components", "generators", "transformers", "validators")
#: Fields whose entries are files only.
_FILE_LISTS = ("crds", "configurations")
#: Most roots rendered at once. A build is CPU-bound (on the corpus 60 s of kubectl CPU in
#: 45 s with four at once on 2 cores) and one holds up to ~190 MB, so more builds than
#: cores only added memory: four at once were the scan's peak (556 of 646 MiB).
WORKERS = 4


#: Input bytes the builds running at once may read together (see :class:`InputBudget`):
#: one large Kustomize build (~4 MB of manifests, ~250 MB of kubectl) beside small ones.
INPUT_BUDGET_BYTES = 4 * 1024 * 1024

#: Go runtime settings for each build: no proportional collector (``GOGC=off``), only a
#: soft heap ceiling (``GOMEMLIMIT``). Go's default lets the heap double before each
#: collection, so a build's short life was spent collecting garbage it would have dropped
#: at exit anyway. Measured on the corpus's 156 roots one after another: 54 s of kubectl
#: CPU with the defaults, 43 s with these, and the largest build's peak fell from 211 to
#: 172 MB (the ceiling also caps what the default let double). Output is unchanged: the
#: collector decides when memory is freed, never what Kustomize computes.
GO_RUNTIME_ENV = {"GOGC": "off", "GOMEMLIMIT": "128MiB"}


def render_workers() -> int:
    """kubectl builds to run at once: one per usable core, at most :data:`WORKERS`."""
    return max(1, min(WORKERS, parallel.available_cpus()))


@dataclass
class Node:
    """One kustomization: its folder, file, parsed data, and what it references."""

    folder: str
    file: str
    data: Mapping[str, Any]
    dirs: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


def find_kustomizations(paths: Iterable[str]) -> dict[str, str]:
    """Folder -> kustomization file, preferring ``kustomization.yaml`` as Kustomize does."""
    found: dict[str, str] = {}
    named = [(p, file_name(p)) for p in paths]
    for path, _ in sorted(
        ((p, n) for p, n in named if n in NAMES), key=lambda pair: NAMES.index(pair[1])
    ):
        found.setdefault(str(PurePosixPath(path).parent), path)
    return found


def _inside(root: Path, rel: str, folders: dict[str, str] | None = None) -> bool:
    """Whether ``rel`` stays inside ``root`` once symlinks are resolved (string paths:
    ``Path.resolve`` per entry was a tenth of a warm hook run's graph loading).

    ``folders`` keeps resolved folders for one pass over the graph: the corpus's 1,500
    entries sit in a few hundred folders, and realpath checks every component of every
    path. Only the last component is then checked for a symlink of its own."""
    if rel == ".." or rel.startswith("../") or rel.startswith("/"):
        return False
    base = os.fspath(root)
    folder, name = posixpath.split(rel)
    if folders is None or not name or name in (".", ".."):
        real = os.path.realpath(os.path.join(base, rel))
    else:
        resolved = folders.get(folder)
        if resolved is None:
            resolved = folders[folder] = os.path.realpath(os.path.join(base, folder))
        real = os.path.join(resolved, name)
        if os.path.islink(real):
            real = os.path.realpath(real)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def _entries(data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(field, entry) of every local or remote reference in a kustomization."""
    for name in _REF_LISTS + _FILE_LISTS + ("patchesStrategicMerge",):
        for entry in data.get(name) or ():
            if isinstance(entry, str) and "\n" not in entry:
                yield name, entry.strip()
    for name in ("patches", "patchesJson6902", "replacements"):
        for entry in data.get(name) or ():
            if isinstance(entry, Mapping) and isinstance(entry.get("path"), str):
                yield name, entry["path"]
    openapi = data.get("openapi")
    if isinstance(openapi, Mapping) and isinstance(openapi.get("path"), str):
        yield "openapi", openapi["path"]


def _node(
    root: Path,
    folder: str,
    file: str,
    data: Mapping[str, Any],
    allow_remote: bool,
    resolved: dict[str, str] | None = None,
) -> Node:
    node = Node(folder, file, data)
    if (data.get("helmCharts") or data.get("helmChartInflationGenerator")) and not allow_remote:
        node.refusals.append(
            f"{file}: helmCharts need Helm and usually the network (--enable-helm); refused. "
            "Vendor the chart into the repository and name it under `helm.charts` in "
            "ledgergate.yaml, or set render.allowRemote"
        )
    for name, entry in _entries(data):
        if _REMOTE.search(entry):
            if not allow_remote:
                node.refusals.append(
                    f"{file}: remote {name} entry {entry!r} needs the network; refused offline "
                    "(vendor it, or set render.allowRemote in ledgergate.yaml)"
                )
            continue
        rel = posixpath.normpath(posixpath.join(folder, entry))
        if not _inside(root, rel, resolved):
            node.refusals.append(f"{file}: {name} entry {entry!r} leaves the repository; refused")
            continue
        if os.path.isdir(os.path.join(root, rel)):
            node.dirs.append(rel)
        else:
            node.files.append(rel)
    return node


def load_graph(
    root: Path, paths: Iterable[str], read_text: ReadText, allow_remote: bool
) -> dict[str, Node]:
    """Every readable kustomization in the tree, by folder."""
    graph: dict[str, Node] = {}
    resolved: dict[str, str] = {}  # folder -> its realpath, for this graph's entries
    for folder, file in find_kustomizations(paths).items():
        text = read_text(file)
        if text is None:
            continue
        docs = [d for d in parse_yaml(text) if isinstance(d, Document)]
        data = docs[0].data if docs and isinstance(docs[0].data, Mapping) else {}
        graph[folder] = _node(root, folder, file, data, allow_remote, resolved)
    return graph


def roots_of(graph: Mapping[str, Node]) -> list[str]:
    """Kustomizations no other one references (Components never stand alone).

    A group that only references itself (a cycle) still gets one root, so Kustomize
    reports the cycle instead of the files silently going unrendered.
    """
    referenced = {d for node in graph.values() for d in node.dirs if d != node.folder}
    roots = [f for f, n in graph.items() if f not in referenced and not _is_component(n)]
    reached = set().union(*(closure(graph, r) for r in roots)) if roots else set()
    for folder in sorted(graph):
        if folder not in reached and not _is_component(graph[folder]):
            roots.append(folder)
            reached |= closure(graph, folder)
    return sorted(roots)


def _is_component(node: Node) -> bool:
    return str(node.data.get("kind", "")) == "Component"


def closure(graph: Mapping[str, Node], folder: str) -> set[str]:
    """The folders a kustomization pulls in, itself included."""
    seen: set[str] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        if current in seen or current not in graph:
            continue
        seen.add(current)
        stack.extend(graph[current].dirs)
    return seen


def covered_files(graph: Mapping[str, Node], folders: Iterable[str]) -> set[str]:
    """Manifest files a successful render of these folders stands for."""
    out: set[str] = set()
    for folder in folders:
        node = graph[folder]
        out.add(node.file)
        out.update(
            f
            for f in node.files
            if f.lower().endswith((".yaml", ".yml", ".json")) or "." not in PurePosixPath(f).name
        )
    return out


@dataclass(frozen=True)
class _Stored:
    """A root's built objects as a cache entry holds them (see :mod:`.built`)."""

    value: Any


class KustomizeRefused(RenderRunError):
    """``kubectl kustomize`` exited 1: the inputs are wrong, and will be again."""


class Kustomize:
    """Renders the roots of one repository's kustomization graph."""

    def __init__(self, root: Path, options: RenderOptions, read_text: ReadText) -> None:
        self.root = root
        self.options = options
        self.read_text = read_text
        self.kubectl = shutil.which("kubectl")
        self.hasher = TreeHasher(root)
        self.budget = InputBudget(INPUT_BUDGET_BYTES)
        #: (transformations annotation, wrapper prefix) -> the patches it names: a root's
        #: objects share their transformations (1,666 corpus objects, a few hundred texts).
        self._patch_memo: dict[tuple[str, str], tuple[Patch, ...]] = {}

    def render(self, paths: Iterable[str]) -> RenderOutput:
        """Render every root; failures become one error each and leave files to raw judging."""
        graph = load_graph(self.root, paths, self.read_text, self.options.allow_remote)
        self._patch_memo.clear()  # its patches are this graph's
        roots = roots_of(graph)
        out = RenderOutput()
        # Every build ends before objects are built: building them while later builds ran
        # overlapped this thread with kubectl, but the objects held by then beside two
        # builds raised the scan's peak PSS from 356 to 467 MiB on the corpus.
        with ThreadPoolExecutor(max_workers=render_workers()) as pool:
            runs = list(pool.map(lambda r: self._render_root(graph, r), roots))
        files = SourceFiles(self.read_text)  # objects are built in one thread, files read once
        for folder, result in zip(roots, runs, strict=True):
            if isinstance(result, _Stored):
                restored = built.decode(result.value, folder, files)
                if restored is not None:
                    covered = covered_files(graph, closure(graph, folder))
                    out.extend(RenderOutput(restored, covered))
                    continue
                result = self._render_root(graph, folder, stored=False)
            if isinstance(result, InputProblem):
                out.problems.append(result)
            else:
                assert not isinstance(result, _Stored)
                out.extend(self._objects(graph, folder, *result, files))
        return out

    def _objects(
        self,
        graph: Mapping[str, Node],
        folder: str,
        text: str,
        prefix: str,
        key: bytes | None,
        files: SourceFiles,
    ) -> RenderOutput:
        out = RenderOutput()
        node = graph[folder]
        objects: list[RenderedObject] = []
        generators: dict[int, str] = {}
        for doc in parse_cached(text)[0]:
            if not isinstance(doc, Document):
                out.problems.append(
                    self._problem(node, f"unreadable Kustomize output: {doc.message}")
                )
                return out
            if isinstance(doc.data, dict) and doc.data.get("kind"):
                obj, generator = self._object(graph, folder, doc.data, prefix, files)
                if generator:
                    generators[len(objects)] = generator
                objects.append(obj)
        store = cache.active()
        if store is not None and key is not None:
            encoded = built.encode(objects, generators)
            if encoded is not None and cache.canonical(encoded) is not None:
                store.put(key, encoded)  # before any reader holds the bodies
        out.objects = objects
        out.covered = covered_files(graph, closure(graph, folder))
        return out

    def _render_root(
        self, graph: Mapping[str, Node], folder: str, *, stored: bool = True
    ) -> tuple[str, str, bytes | None] | _Stored | InputProblem:
        """Kustomize's output for one root, the wrapper prefix and the key its built objects
        are kept under (None: not kept); or those objects from the cache (unless not
        ``stored``); or why there is none."""
        node = graph[folder]
        folders = closure(graph, folder)
        refusals = [r for f in sorted(folders) for r in graph[f].refusals]
        if refusals:
            return self._problem(node, "; ".join(refusals[:3]))
        if self.kubectl is None:
            return self._problem(
                node,
                "kubectl not found on PATH (Kustomize v5 is built into "
                "kubectl >= 1.27); files below are judged unrendered",
            )
        try:
            return self._cached_run(folder, folders, self._input_bytes(graph, folders), stored)
        except RenderRunError as exc:
            return self._problem(node, self._scrubbed(graph, folder, folders, str(exc)))

    def _input_bytes(self, graph: Mapping[str, Node], folders: set[str]) -> int:
        """Bytes of the files a build of ``folders`` reads (its memory grows with them)."""
        paths = {p for f in folders for p in (graph[f].file, *graph[f].files)}
        total = 0
        for path in paths:
            with contextlib.suppress(OSError):
                total += (self.root / path).stat().st_size
        return total

    def _scrubbed(
        self, graph: Mapping[str, Node], folder: str, folders: set[str], message: str
    ) -> str:
        """Kustomize's message without the secret values of the files it was rendering.

        A refused root's message (cached too) was scrubbed again on every warm run, each
        time reading and searching its files. The result is kept under the root's render
        key, the message, this code and the digest of every file the scrubbing read (some
        may lie outside the root's folders): two entries, the paths read and the message,
        so that reading either needs the content it was derived from."""
        store = cache.active()
        render = self._render_key(folder, folders) if store is not None else None
        if store is None or render is None:
            return self._scrub(graph, folders, message, self.read_text)
        reads_key = cache.digest("kustomize-scrub-reads", [cache.code_digest(), render, message])
        paths = store.get(reads_key)
        if isinstance(paths, list) and all(isinstance(p, str) for p in paths):
            known = self._scrub_key(reads_key, paths)
            hit = store.get(known) if known is not None else None
            if isinstance(hit, str):
                return hit
        read: set[str] = set()

        def recording(path: str) -> str | None:
            read.add(path)
            return self.read_text(path)

        scrubbed = self._scrub(graph, folders, message, recording)
        listed = sorted(read | {graph[f].file for f in folders})
        key = self._scrub_key(reads_key, listed)
        if key is not None:
            store.put(reads_key, listed)
            store.put(key, scrubbed)
        return scrubbed

    def _scrub_key(self, reads_key: bytes, paths: list[str]) -> bytes | None:
        """The scrubbed message's key: the paths' current digests (None when a path leaves
        the repository: it is never hashed)."""
        parts: list[bytes | str] = [reads_key]
        for path in paths:
            if not _inside(self.root, posixpath.normpath(path)):
                return None
            parts += [path, self.hasher.file(path)]
        return cache.digest("kustomize-scrubbed", parts)

    @staticmethod
    def _scrub(
        graph: Mapping[str, Node], folders: set[str], message: str, read_text: ReadText
    ) -> str:
        paths = [p for f in sorted(folders) for p in (graph[f].file, *graph[f].files)]
        secrets = secrets_of_files(paths, read_text)
        for f in folders:
            secrets |= generator_secrets(graph[f].data, f, read_text)
        return scrub_message(message, secrets)

    def _render_key(self, folder: str, folders: set[str]) -> bytes | None:
        """The key of a root's render: its folders' files, kubectl and the options (None:
        no kubectl, or a folder cannot be keyed)."""
        program = program_identity(self.kubectl)
        if program is None:
            return None
        options = f"allow_remote={self.options.allow_remote}"
        return kustomize_key(self.hasher, folders, folder, program, options)

    def _problem(self, node: Node, message: str) -> InputProblem:
        where = node.folder if node.folder != "." else "(repository root)"
        return InputProblem(
            Origin(path=node.file, start_line=1),
            "kustomize",
            f"kustomization {where} not rendered: {message}",
        )

    def _cached_run(
        self, folder: str, folders: set[str], size: int, stored: bool = True
    ) -> tuple[str, str, bytes | None] | _Stored:
        """``_run``, answered from the content cache when every input is unchanged: a
        render's output, or Kustomize's own refusal of the inputs (exit 1, the same every
        time; a warm scan of a tree with a broken root ran it again on every commit). A
        timeout, an output cap or a crash is not kept: it may not recur."""
        store = cache.active()
        key = self._render_key(folder, folders) if store is not None else None
        objects = built.objects_key(key) if store is not None and key is not None else None
        if store is not None and key is not None:
            if stored and objects is not None:
                value = store.get(objects)
                if value is not None:
                    return _Stored(value)
            hit = store.get(key)
            if isinstance(hit, list) and len(hit) == 2 and all(isinstance(x, str) for x in hit):
                return hit[0], hit[1], objects
            if isinstance(hit, list) and len(hit) == 3 and hit[0] == "refused":
                raise RenderRunError(str(hit[1]))
        try:
            with self.budget.hold(size):
                text, prefix = self._run(folder)
        except KustomizeRefused as exc:
            if store is not None and key is not None:
                store.put(key, ["refused", str(exc), ""])
            raise
        if store is not None and key is not None:
            store.put(key, [text, prefix])
        return text, prefix, objects

    def _run(self, folder: str) -> tuple[str, str]:
        """Kustomize's output, and the repo root as seen from the wrapper folder."""
        assert self.kubectl is not None
        with tempfile.TemporaryDirectory(prefix="ledgergate-kust-") as tmp:
            wrapper = Path(tmp).resolve()
            target = os.path.relpath(self.root / folder, wrapper)
            (wrapper / "kustomization.yaml").write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "kustomize.config.k8s.io/v1beta1",
                        "kind": "Kustomization",
                        "resources": [target],
                        "buildMetadata": ["originAnnotations", "transformerAnnotations"],
                    }
                )
            )
            argv = [
                self.kubectl,
                "kustomize",
                str(wrapper),
                "--load-restrictor",
                "LoadRestrictionsRootOnly",
            ]
            if self.options.allow_remote:
                argv.append("--enable-helm")
            done = run_bounded(
                argv,
                cwd=wrapper,
                timeout_s=self.options.timeout_s,
                max_bytes=self.options.max_output_bytes,
                env=GO_RUNTIME_ENV,
            )
            if done.returncode == 1:  # kubectl's error exit: Kustomize refused the inputs
                raise KustomizeRefused(self._clean(done.stderr, wrapper))
            if done.returncode != 0:
                raise RenderRunError(self._clean(done.stderr, wrapper))
            return done.stdout.decode("utf-8", "replace"), os.path.relpath(self.root, wrapper)

    def _clean(self, stderr: str, wrapper: Path) -> str:
        """Kustomize's message, with temporary and absolute paths made repo-relative."""
        match = re.search(r'err="((?:[^"\\]|\\.)*)"', stderr)
        text = match.group(1).replace('\\"', '"').replace("\\'", "'") if match else stderr.strip()
        text = text.removeprefix("error: ")
        prefix = os.path.relpath(self.root, wrapper)
        for noise in (str(wrapper) + "/", str(self.root) + "/", prefix + "/", str(wrapper)):
            text = text.replace(noise, "")
        return " ".join(text.split())[:1000] or "kubectl kustomize failed"

    @staticmethod
    def _repo_path(annotated: str, prefix: str) -> str:
        """A path from an origin annotation (relative to the wrapper) as a repo path."""
        rel = posixpath.normpath(annotated)
        if rel.startswith(prefix + "/"):
            return rel[len(prefix) + 1 :]
        return rel

    def _object(
        self,
        graph: Mapping[str, Node],
        folder: str,
        body: dict[str, Any],
        prefix: str,
        files: SourceFiles,
    ) -> tuple[RenderedObject, str]:
        """The object and, for a generated one, its generator's kind (else "")."""
        meta = body.get("metadata") or {}
        annotations = dict(meta.get("annotations") or {})
        origin_text = annotations.pop(ORIGIN_ANNOTATION, "")
        transforms_text = annotations.pop(TRANSFORM_ANNOTATION, "")
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
        loaded = _safe_load(origin_text)
        origin: Mapping[str, Any] = loaded if isinstance(loaded, Mapping) else {}
        source = origin.get("path") or origin.get("configuredIn") or graph[folder].file
        path = self._repo_path(str(source), prefix)
        memo_key = (transforms_text, prefix)
        known = self._patch_memo.get(memo_key)
        if known is None:
            known = tuple(self._patches(graph, _safe_load(transforms_text) or [], prefix))
            self._patch_memo[memo_key] = known
        patches = list(known)
        text = files.text(path) or ""
        configured = origin.get("configuredBy")
        by: Mapping[str, Any] = configured if isinstance(configured, Mapping) else {}
        fields: FieldMap
        generator = ""
        if by.get("kind") in ("ConfigMapGenerator", "SecretGenerator"):
            generator = str(by["kind"])
            folder_of = str(PurePosixPath(path).parent)
            fields = GeneratedFieldMap(body, path, folder_of, str(by["kind"]), files.text)
            span = (1, max(1, text.count("\n")))
        else:
            span = files.span(path, body)
            fields = KustomizeFieldMap(body, path, text, span, patches, files.text)
        where = Origin(path=path, start_line=span[0], end_line=span[1], rendered_from=folder)
        return RenderedObject(body, where, fields), generator

    def _patches(self, graph: Mapping[str, Node], transforms: Any, prefix: str) -> list[Patch]:
        """Patches that touched the object, last applied first."""
        found: list[Patch] = []
        seen: set[str] = set()
        for step in transforms if isinstance(transforms, list) else ():
            by = step.get("configuredBy") if isinstance(step, Mapping) else None
            if not isinstance(by, Mapping) or by.get("kind") not in _PATCH_TRANSFORMERS:
                continue
            kust = self._repo_path(str(step.get("configuredIn", "")), prefix)
            if kust in seen:
                continue
            seen.add(kust)
            node = graph.get(str(PurePosixPath(kust).parent))
            if node is not None:
                found.extend(Patch.all_of(node.file, node.folder, node.data))
        return found[::-1]


@functools.lru_cache(maxsize=4096)
def _safe_load(text: str) -> Any:
    """An origin annotation kustomize wrote (libyaml's loader: the pure-Python one cost
    about a third of a corpus scan), read once per text: the objects of one root share
    their transformations, and the corpus's 3,332 annotations are 782 texts (0.8 s of a
    warm scan). Callers only read the value."""
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader) if text else None
    except yaml.YAMLError:
        return None
