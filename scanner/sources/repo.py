"""The repository source: every manifest and estate config file in a Git work tree or folder."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from scanner import kinds
from scanner.config import RenderOptions
from scanner.model import Evidence, Finding, Origin, Resource, ResourceRef, Status
from scanner.redaction import strip_userinfo
from scanner.sources import configfiles, destinations, jsondocs, kustomization, ownoutputs
from scanner.sources.base import InputProblem, Skipped, Source, SourceItem
from scanner.sources.kubeyaml import Document, DocumentError, document_node, parse_yaml
from scanner.sources.parsecache import Memo, parse_once, shared_parses
from scanner.sources.places import DocumentPlaces
from scanner.sources.render import FieldMap, RenderedObject, render_repo
from scanner.sources.render.base import relocate
from scanner.sources.render.origins import concrete
from scanner.sources.render.templated import templated
from scanner.yamlutil import PathStep, parse_path, position_in

YAML_SUFFIXES = {".yaml", ".yml"}
GIT_TIMEOUT_S = 60
#: The tool's own files are configuration for the scan, not targets of it.
OWN_FILES = {"ledgergate.yaml", "ledgergate.yml", "waivers.yaml", "waivers.yml"}
DEFAULT_EXCLUDES = (".git/**",)
LFS_POINTER = "version https://git-lfs.github.com/spec/v1"


def run_git(
    root: Path, *args: str, timeout: float = GIT_TIMEOUT_S
) -> subprocess.CompletedProcess[bytes]:
    """git in ``root``: an argument list, no shell, a timeout; raises OSError/TimeoutExpired."""
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, timeout=timeout, check=False
    )


def _git(root: Path, *args: str) -> str | None:
    """Run git in ``root``; None when git is absent or this is not a work tree."""
    try:
        done = run_git(root, *args)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "surrogateescape")


def list_files(root: Path) -> list[str]:
    """Files git tracks plus untracked-not-ignored ones; every file outside a work tree."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
    if out is not None:
        return sorted({p for p in out.split("\0") if p})
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel_dir = Path(dirpath).relative_to(root)
        found.extend(PurePosixPath(rel_dir / f).as_posix() for f in filenames)
    return sorted(found)


def is_excluded(path: str, patterns: Iterable[str]) -> bool:
    """Glob match on the POSIX path; ``dir/`` or ``dir/**`` excludes a whole folder."""
    for pattern in patterns:
        pat = pattern.rstrip("/") + "/**" if pattern.endswith("/") else pattern
        if fnmatchcase(path, pat) or (pat.endswith("/**") and path.startswith(pat[:-2])):
            return True
    return False


def _suffix(name: str) -> str:
    """``PurePosixPath(name).suffix`` for a file name."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _is_candidate(path: str) -> bool:
    name = kustomization.file_name(path).lower()
    if name in OWN_FILES:
        return False
    suffix = _suffix(name)
    return suffix in YAML_SUFFIXES or suffix == ".json" or configfiles.parser_for(path) is not None


def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes kept as surrogates by git's output
        return False
    return True


def _printable(path: str) -> str:
    """A file name with undecodable bytes shown as ``\\xNN`` (safe in every output)."""
    raw = path.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _shape_problem(data: Mapping[str, Any]) -> str | None:
    """Why an object's identity fields do not have the types Kubernetes gives them, if so.

    The API server refuses such an object; judging it anyway would crash or mislead
    every rule that reads labels or names.
    """
    for field in ("apiVersion", "kind"):
        if not isinstance(data.get(field), str):
            return f"{field} is not a string"
    meta = data.get("metadata")
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        return "metadata is not a map"
    for field in ("name", "namespace", "generateName"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            return f"metadata.{field} is not a string"
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            return f"metadata.{field} is not a map"
        if not all(isinstance(v, str) for v in value.values()):
            return f"metadata.{field} values are not all strings (quote them)"
    return None


def _chart_roots(paths: Iterable[str]) -> set[str]:
    charts = (p for p in paths if kustomization.file_name(p) == "Chart.yaml")
    return {str(PurePosixPath(p).parent) for p in charts}


def _in_chart_templates(path: str, charts: set[str]) -> bool:
    parts = PurePosixPath(path).parts
    for i, part in enumerate(parts):
        if part == "templates":
            chart = PurePosixPath(*parts[:i]).as_posix() if i else "."
            if chart in charts:
                return True
    return False


@dataclass(frozen=True)
class _Loaded:
    """One file read and decoded once: its text (or why not) and its documents."""

    path: str
    text: str | InputProblem | None
    docs: tuple[Document | DocumentError, ...]
    #: Whether the documents were decoded without their nodes, which
    #: :func:`document_node` composes again from ``text`` when a finding needs lines.
    composable: bool = False

    def documents(self) -> Iterator[Document]:
        """The documents that decoded."""
        return (d for d in self.docs if isinstance(d, Document))


def _item_nodes(node: yaml.Node | None) -> list[yaml.Node | None]:
    """The nodes of a ``kind: List``'s items, so each item keeps its evidence lines."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "items" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    return []


def supersede_duplicates(items: list[SourceItem]) -> Iterator[SourceItem]:
    """kubectl applies the last of two definitions of one object in a folder: the earlier
    one is listed as skipped (naming the one that wins) and not judged."""
    last: dict[tuple[ResourceRef, str], Resource] = {}
    folders: dict[str, str] = {}  # path -> its folder, as PurePosixPath spells it

    def folder(path: str) -> str:
        known = folders.get(path)
        if known is None:
            known = folders[path] = str(PurePosixPath(path).parent)
        return known

    for item in items:
        if isinstance(item, Resource) and item.origin.path:
            last[(item.ref, folder(item.origin.path))] = item
    for item in items:
        if isinstance(item, Resource) and item.origin.path:
            winner = last[(item.ref, folder(item.origin.path))]
            if winner is not item:
                yield Skipped(
                    item.origin,
                    f"duplicate {item.ref.display()}: defined again at "
                    f"{winner.origin.path}:{winner.origin.start_line}, which kubectl applies",
                )
                continue
        yield item


def _json_document(text: str) -> Document | DocumentError:
    """A JSON file read strictly (no NaN, no duplicate keys, bounded depth)."""
    try:
        data = jsondocs.load(text)
    except jsondocs.JsonDocError as exc:
        manifest_like = '"apiVersion"' in text or '"kind"' in text
        return DocumentError(exc.line, exc.message, exc.code, manifest_like)
    return Document(data, 1, text.count("\n") + 1)


_GITOPS_GROUPS = frozenset(
    {
        "argoproj.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
    }
)


class RepoSource(Source):
    """Reads a Git work tree (or any folder) into resources with file and line origins."""

    name = "repo"

    def __init__(
        self,
        root: Path,
        *,
        excludes: Iterable[str] = (),
        max_file_size: int = 10 * 1024 * 1024,
        only: Iterable[str] | None = None,
        render: RenderOptions | None = None,
    ) -> None:
        self.root = root.resolve()
        self._root_text = os.fspath(self.root)
        self.render = render if render is not None else RenderOptions()
        self._fields: dict[tuple[ResourceRef, str], FieldMap] = {}
        #: (id of a field map in ``_fields``, path) -> whether :meth:`may_show` admits it
        self._shown_memo: dict[tuple[int, str], bool] = {}
        self.only = set(only) if only is not None else None
        self.excludes = (*DEFAULT_EXCLUDES, *excludes)
        self.max_file_size = max_file_size
        self._nodes: dict[tuple[str, int], tuple[yaml.Node, int]] = {}
        #: (path, first line) of an object whose nodes were not kept -> the line offset
        #: of its document and the ``items`` indexes down to it (a ``kind: List`` item).
        self._chunks: dict[tuple[str, int], tuple[int, tuple[int, ...]]] = {}
        #: Texts of the files in ``_chunks`` (a string each, where nodes were ~7x the text).
        self._texts: dict[str, str] = {}
        #: Documents the renderers parsed, for the repo source to take (see parsecache).
        self._memo: Memo | None = None
        self._kustomizations: dict[str, kustomization.Kustomization] = {}
        self._landing: dict[str, set[str]] = {}
        self._destinations: list[destinations.Destination] = []
        self._generating: set[str] = set()
        self._covered: set[str] = set()
        #: Files whose documents came from the content cache.
        self._without_nodes: set[str] = set()
        #: Repo paths whose findings are kept (``scan repo FILE...``); None keeps all. A
        #: cached file outside them is not parsed again to place evidence nobody sees.
        self.kept: tuple[str, ...] | None = None
        self._target: dict[str, str] | None = None
        #: Texts read during :meth:`collect`, by path: the renderers (graph, Helm consumers,
        #: source spans) and the file loading read most files two or three times.
        self._read_memo: dict[str, str | InputProblem | None] | None = None

    def target(self) -> dict[str, str]:
        """Repository identity: remote, commit and whether the tree is dirty (as read when
        the scan began: git forked from a process holding the whole scan is briefly
        counted at the parent's size, which was the corpus scan's peak)."""
        if self._target is None:
            self._target = self._identity()
        return dict(self._target)

    def _identity(self) -> dict[str, str]:
        info = {"type": "repo", "path": str(self.root)}
        commit = _git(self.root, "rev-parse", "HEAD")
        if commit:
            info["commit"] = commit.strip()
            status = _git(self.root, "status", "--porcelain", "-z")
            info["dirty"] = "true" if self._local_changes(status or "") else "false"
            remote = _git(self.root, "config", "--get", "remote.origin.url")
            if remote:
                info["remote"] = strip_userinfo(remote)
        return info

    def _local_changes(self, status: str) -> list[str]:
        """Changed or untracked paths, leaving out the tool's own reports."""
        changed = []
        for entry in status.split("\0"):
            if len(entry) < 4:
                continue
            code, path = entry[:2], entry[3:]
            if code == "??" and ownoutputs.is_own_output(self.root, path.rstrip("/")):
                continue
            changed.append(path)
        return changed

    def locate(self, findings: list[Finding]) -> list[Finding]:
        """Give each evidence path of a non-passing finding its line: a rendered object's
        from its field map, a file's from its document's nodes, composed once per document
        (all its findings together) and dropped again, so no scan holds every node tree.

        With :attr:`kept` set, a rendered object's finding that no file it can point at
        would show is left unplaced: it is dropped anyway (an ``error`` is still placed:
        its message, which placing can extend, names an input missing in the scope)."""
        located = list(findings)
        waiting: dict[tuple[str, int], list[int]] = {}
        rendered: dict[int, tuple[FieldMap, list[int]]] = {}
        for index, finding in enumerate(findings):
            origin = finding.origin
            fields = self._fields.get((finding.resource, origin.rendered_from))  # type: ignore[arg-type]
            if fields is not None and finding.status is not Status.PASS:
                if finding.status is not Status.ERROR and not self._shown(origin.path, fields):
                    continue
                rendered.setdefault(id(fields), (fields, []))[1].append(index)
            elif finding.status is not Status.PASS and finding.evidence:
                waiting.setdefault((origin.path, origin.start_line), []).append(index)
        for fields, indexes in rendered.values():
            for index in indexes:
                located[index] = relocate(findings[index], fields)
            fields.release()
        roots: dict[tuple[str, int], yaml.Node | None] = {}
        for key, indexes in waiting.items():
            places = self._places(key)
            if places is not None and self._from_places(places, findings, indexes, located):
                continue
            tree = self._tree(key, roots)
            if tree is None:
                continue
            node, offset = tree
            for index in indexes:
                finding = findings[index]
                evidence = tuple(
                    _placed(e, node, offset, finding.resource) if e.path and not e.line else e
                    for e in finding.evidence
                )
                if places is not None:
                    for asked, placed in zip(finding.evidence, evidence, strict=True):
                        if asked.path and not asked.line:
                            places.record(finding.resource, asked, placed)
                located[index] = replace(finding, evidence=evidence)
            if places is not None:
                places.save()
            if len(roots) > 1:  # findings come grouped by file: older documents are done
                roots = {k: v for k, v in roots.items() if k[0] == key[0]}
        return located

    def _places(self, key: tuple[str, int]) -> DocumentPlaces | None:
        """What earlier runs placed in the document at ``key``, when placing there means
        composing it again (its nodes were not kept) for a finding someone sees."""
        if key in self._nodes or key not in self._chunks:
            return None
        path = key[0]
        if path in self._without_nodes and self.kept is not None and not _within(path, self.kept):
            return None
        offset, items = self._chunks[key]
        return DocumentPlaces(self._texts.get(path, ""), offset, items)

    @staticmethod
    def _from_places(
        places: DocumentPlaces, findings: list[Finding], indexes: list[int], located: list[Finding]
    ) -> bool:
        """Place the findings at ``indexes`` from ``places``; False (nothing changed) unless
        every evidence field asked for is known there."""
        placed: list[tuple[int, tuple[Evidence, ...]]] = []
        for index in indexes:
            finding = findings[index]
            evidence: list[Evidence] = []
            for e in finding.evidence:
                known = places.get(finding.resource, e) if e.path and not e.line else e
                if known is None:
                    return False
                evidence.append(known)
            placed.append((index, tuple(evidence)))
        for index, evidence_tuple in placed:
            located[index] = replace(findings[index], evidence=evidence_tuple)
        return True

    def may_show(self, resource: Resource) -> bool:
        """With :attr:`kept` set, whether a finding on ``resource`` can land in a kept file:
        its own file, or (rendered, or a config file) any file its field map points at."""
        if self.kept is None:
            return True
        origin = resource.origin
        fields = self._fields.get((resource.ref, origin.rendered_from))
        if fields is None:
            return bool(origin.path) and _within(origin.path, self.kept)
        key = (id(fields), origin.path)  # asked once per pass (judging, analyzers, refs)
        shown = self._shown_memo.get(key)
        if shown is None:
            shown = self._shown_memo[key] = self._shown(origin.path, fields)
        return shown

    def _shown(self, path: str, fields: FieldMap) -> bool:
        """Whether a finding at ``path`` placed by ``fields`` can land in a kept file."""
        if self.kept is None:
            return True
        files = fields.files()
        if files is None:
            return True
        return any(_within(p, self.kept) for p in (path, *files))

    def _tree(
        self, key: tuple[str, int], roots: dict[tuple[str, int], yaml.Node | None]
    ) -> tuple[yaml.Node, int] | None:
        """The nodes of the object at ``key`` and their line offset: kept, or composed
        again from the file (``roots`` holds the documents composed so far)."""
        kept = self._nodes.get(key)
        if kept is not None or key not in self._chunks:
            return kept
        path = key[0]
        if path in self._without_nodes and self.kept is not None and not _within(path, self.kept):
            return None  # from the cache, outside the files asked for: nobody sees it
        offset, items = self._chunks[key]
        if (path, offset) not in roots:
            roots[(path, offset)] = document_node(self._texts.get(path, ""), offset)
        node = roots[(path, offset)]
        for item in items:
            nodes = _item_nodes(node)
            node = nodes[item] if item < len(nodes) else None
        return (node, offset) if node is not None else None

    def collect(self) -> Iterator[SourceItem]:
        """Yield every resource of every candidate file, in path order."""
        self.target()
        listed = sorted(self.only) if self.only is not None else list_files(self.root)
        paths = [p for p in listed if not is_excluded(p, self.excludes)]
        charts = _chart_roots(paths)
        self._memo = {}
        self._read_memo = {}
        self._shown_memo = {}  # its keys name this collection's field maps
        with shared_parses(self._memo):
            rendered = render_repo(self.root, paths, self.render, self._safe_text)
        self._covered = rendered.covered
        yield from rendered.problems
        loaded: dict[str, _Loaded] = {}
        problems: list[SourceItem] = []
        for path in paths:
            unseen = self._unseen(path)
            if unseen:
                yield Skipped(Origin(path=path), unseen)
                continue
            if not _is_candidate(path) or path in rendered.covered:
                continue
            if path.lower().endswith(".json") and ownoutputs.is_own_output(self.root, path):
                yield Skipped(
                    Origin(path=path), "a report written by an earlier ledgergate run; not scanned"
                )
                continue
            if not _is_utf8(path):
                yield InputProblem(
                    Origin(path=_printable(path)),
                    "file-name",
                    "file name is not valid UTF-8; not read (rename the file)",
                )
                continue
            if _in_chart_templates(path, charts):
                problems.append(
                    InputProblem(
                        Origin(path=path, start_line=1),
                        "helm-template",
                        "Helm chart template not rendered: run `helm template` and scan the "
                        "output, or exclude the chart path in ledgergate.yaml",
                    )
                )
                continue
            loaded[path] = self._load(path)
        self._read_memo = None
        self._plan_landing(loaded, paths if self.only is None else list_files(self.root))
        self._memo = None  # what the renderers parsed and no file here took
        items: list[SourceItem] = list(problems)
        for path in sorted(loaded):
            items.extend(self._items(loaded[path]))
        items.extend(self._generated())
        yield from supersede_duplicates(items)
        yield from (self._rendered_resource(obj) for obj in rendered.objects)

    def _unseen(self, path: str) -> str | None:
        """Why a listed path holds content the scan cannot read, so it is listed as skipped:
        a Git submodule, a packaged Helm subchart."""
        full = os.path.join(self.root, path)
        if os.path.isdir(full) and not os.path.islink(full):
            return "Git submodule: its manifests are not in this checkout and are not scanned"
        parts = PurePosixPath(path).parts if path.endswith(".tgz") else ()
        if len(parts) >= 2 and parts[-2] == "charts":
            return "packaged Helm subchart (charts/*.tgz): not unpacked or rendered"
        return None

    def _load(self, path: str) -> _Loaded:
        text = self._read_text(path)
        if text is None or isinstance(text, InputProblem):
            return _Loaded(path, text, ())
        if configfiles.parser_for(path) is not None:
            return _Loaded(path, text, ())
        if path.lower().endswith(".json"):
            return _Loaded(path, text, (_json_document(text),))
        if kustomization.is_kustomization(path) or configfiles.is_traefik_static_yaml(path):
            # their readers (or their findings' lines) need the nodes
            return _Loaded(path, text, tuple(parse_yaml(text)))
        docs, cached = parse_once(text, keep=True, memo=self._memo)
        if cached:
            self._without_nodes.add(path)
        return _Loaded(path, text, docs, composable=True)

    def _plan_landing(self, loaded: dict[str, _Loaded], context: list[str]) -> None:
        """Read kustomizations and GitOps destinations; load the extra files they name."""
        files = dict(loaded)
        for path in context:  # kustomizations outside a --changed file set still apply
            if kustomization.is_kustomization(path) and path not in files:
                files[path] = self._load(path)
        self._kustomizations = {
            k.folder: k
            for path, file in files.items()
            if kustomization.is_kustomization(path) and not is_excluded(path, self.excludes)
            for doc in file.documents()
            if (k := kustomization.read(path, doc)) is not None
        }
        self._generating = {p for p in loaded if kustomization.is_kustomization(p)}
        named = set(kustomization.named_files(self._kustomizations))
        for path in sorted(named - set(loaded) - set(self._covered)):
            wanted = self.only is None or path in self.only
            if wanted and not is_excluded(path, self.excludes) and (self.root / path).is_file():
                loaded[path] = self._load(path)
        self._landing = kustomization.landing_namespaces(self._kustomizations)
        self._destinations = [
            d
            for file in loaded.values()
            for doc in file.documents()
            if isinstance(doc.data, dict)
            for d in destinations.from_object(doc.data)
        ]

    def _namespaces(self, path: str, own: str) -> list[str]:
        """Where an object of ``path`` lands: "" when no source of a namespace says."""
        found: set[str] = set()
        for forced in sorted(self._landing.get(path) or {""}):
            target, overrides, _by = destinations.resolve(self._destinations, path)
            if forced:
                found.add(forced)
            elif target and overrides:
                found.add(target)
            elif own:
                found.add(own)
            elif path not in self._landing and self._default_namespace(path):
                found.add(self._default_namespace(path))
            else:
                found.add(target)
        return sorted(found)

    def _rendered_resource(self, obj: RenderedObject) -> Resource:
        start, end = obj.origin.start_line, obj.origin.end_line
        body = dict(obj.body)
        meta = body.get("metadata")
        own = str(meta.get("namespace") or "") if isinstance(meta, Mapping) else ""
        root = obj.origin.rendered_from or obj.origin.path
        namespace = own or destinations.resolve(self._destinations, f"{root}/kustomization.yaml")[0]
        raw = self._resource(body, obj.origin.path, start, end, namespace=namespace)
        self._fields[(raw.ref, obj.origin.rendered_from)] = obj.fields
        return Resource(raw.ref, raw.body, obj.origin, raw.facts)

    def _default_namespace(self, path: str) -> str:
        """The namespace of the nearest kustomization above a file it does not name."""
        folder = PurePosixPath(path).parent
        for candidate in (folder, *folder.parents):
            kust = self._kustomizations.get(str(candidate))
            if kust is not None and kust.namespace:
                return kust.namespace
        return ""

    def _generated(self) -> Iterator[SourceItem]:
        """The ConfigMaps and Secrets the kustomizations' generators would create, and their
        inline patches."""
        for kust in self._kustomizations.values():
            if kust.path not in self._generating:
                continue
            for gen in kust.generators:
                body = kustomization.generated_body(gen, self._safe_text)
                yield from self._resources(body, kust.path, gen.line, gen.line)
            for patch in kust.inline_patches:
                yield from self._inline_patch(kust.path, patch)

    def _inline_patch(self, path: str, patch: kustomization.InlinePatch) -> Iterator[SourceItem]:
        """An inline patch read like a patch file; a JSON 6902 op list is listed, not judged."""
        for doc in kustomization.inline_documents(patch):
            if isinstance(doc, DocumentError):
                yield InputProblem(Origin(path=path, start_line=doc.line), doc.code, doc.message)
            elif isinstance(doc.data, list):
                yield Skipped(
                    Origin(path=path, start_line=doc.start_line),
                    "inline JSON 6902 patch: judged only when the kustomization is rendered",
                )
            else:
                yield from self._objects(path, doc, doc.node)

    def _safe_text(self, path: str) -> str | None:
        item = self._read_text(path)
        return item if isinstance(item, str) else None

    def _read_text(self, path: str) -> str | InputProblem | None:
        """The file's text, or the problem that stops it being read (once per scan while
        :meth:`collect` reads; the outcome is the same value either way)."""
        memo = self._read_memo
        if memo is None:
            return self._read_file(path)
        if path not in memo:
            memo[path] = self._read_file(path)
        return memo[path]

    def _read_file(self, path: str) -> str | InputProblem | None:
        full = os.path.join(self._root_text, path)  # strings: 2,000 files per warm hook run
        origin = Origin(path=path)
        if os.path.islink(full):
            try:
                target = Path(full).resolve(strict=True)
            except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
                return InputProblem(
                    origin,
                    "symlink-loop",
                    "symlink cannot be resolved (a loop or a missing target); not followed",
                )
            if not target.is_relative_to(self.root):
                return InputProblem(
                    origin,
                    "symlink-escape",
                    f"symlink points outside the repository ({os.readlink(full)}); not followed",
                )
        try:
            # O_NONBLOCK: a FIFO named *.yaml must not hang the scan; fstat then refuses it
            fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if not os.path.lexists(full):
                return None  # deleted in the work tree but still tracked
            return InputProblem(origin, "unreadable", f"cannot read file: {exc.strerror}")
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                return InputProblem(
                    origin, "not-a-file", "not a regular file (a FIFO, socket or device); not read"
                )
            if info.st_size > self.max_file_size:
                return InputProblem(
                    origin,
                    "too-large",
                    f"file is {info.st_size:,} bytes, over the {self.max_file_size:,}-byte limit "
                    "(raise max_file_size in ledgergate.yaml or exclude the path)",
                )
            # read what fstat saw (a read of the limit allocated 10 MiB per file), and
            # past it only if the file grew since
            expected = info.st_size + 1
            try:
                raw = handle.read(expected)
                if len(raw) == expected:
                    raw += handle.read(self.max_file_size + 1 - expected)
            except OSError as exc:
                return InputProblem(origin, "unreadable", f"cannot read file: {exc.strerror}")
            if len(raw) > self.max_file_size:
                return InputProblem(
                    origin,
                    "too-large",
                    f"file grew past the {self.max_file_size:,}-byte limit while being read",
                )
        if b"\0" in raw[:8192]:
            return InputProblem(origin, "binary", "binary file (NUL bytes) with a config suffix")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return InputProblem(
                Origin(path=path, start_line=line),
                "encoding",
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            )

    def _items(self, file: _Loaded) -> Iterator[SourceItem]:
        """Every item of one file; repeated skips of one reason become one entry per file
        (a file of a million tiny documents must not make a million-line report)."""
        repeated: dict[str, tuple[Skipped, int]] = {}
        for item in self._file_items(file):
            if isinstance(item, Skipped):
                first, count = repeated.get(item.reason, (item, 0))
                repeated[item.reason] = (first, count + 1)
            else:
                yield item
        for first, count in repeated.values():
            if count == 1:
                yield first
            else:
                yield Skipped(first.origin, f"{first.reason} ({count:,} documents in this file)")

    def _file_items(self, file: _Loaded) -> Iterator[SourceItem]:
        path, text = file.path, file.text
        if text is None:
            return
        if isinstance(text, InputProblem):
            yield text
            return
        if text.startswith(LFS_POINTER):
            yield Skipped(
                Origin(path=path),
                "Git LFS pointer: the file's content is not checked out (run `git lfs pull`)",
            )
            return
        parser = configfiles.parser_for(path)
        if parser is not None:
            yield from self._read_config(path, text, parser)
            return
        if not path.lower().endswith(".json") and ("apiVersion" in text or "kind:" in text):
            # a templated manifest; a templated values or CI file is no manifest (skipped below)
            data = [d.data if isinstance(d, Document) else None for d in file.docs]
            # documents from the cache are JSON, whose keys are strings: a parsed ``{{ x }}``
            # key cannot be among them, so only a document that did not parse needs the scan
            json_only = path in self._without_nodes and all(d is not None for d in data)
            template = None if json_only else templated(text, data)
            if template is not None:
                yield InputProblem(
                    Origin(path=path, start_line=template),
                    "template",
                    "template syntax ({{ ... }}) in a file no chart renders: not a manifest as "
                    "written. Move it into a Helm chart (Chart.yaml) so it is rendered, or "
                    "exclude the path in ledgergate.yaml",
                )
                return
        traefik_static = configfiles.is_traefik_static_yaml(path)
        for doc in file.docs:
            if isinstance(doc, DocumentError):
                origin = Origin(path=path, start_line=doc.line)
                if doc.manifest_like:
                    yield InputProblem(origin, doc.code, doc.message)
                else:
                    yield Skipped(origin, f"not a Kubernetes manifest ({doc.message})")
            elif traefik_static and isinstance(doc.data, dict):
                body = configfiles.synthetic_body("TraefikStaticConfig", path, doc.data)
                if doc.node is not None:  # evidence paths are keys of the file: its lines
                    self._nodes[(path, doc.start_line)] = (doc.node, doc.line_offset)
                yield self._resource(body, path, doc.start_line, doc.end_line)
            else:
                if file.composable:
                    self._texts[path] = text
                yield from self._objects(path, doc, doc.node, () if file.composable else None)

    def _read_config(
        self, path: str, text: str, parser: configfiles.ParserFn
    ) -> Iterator[SourceItem]:
        try:
            parsed = parser(text)
        except configfiles.ConfigParseError as exc:
            yield InputProblem(Origin(path=path, start_line=exc.line), "parse-error", str(exc))
            return
        for line, directive, target in configfiles.includes(parsed.kind, text):
            # not followed: settings there are not judged, so the gap is listed
            yield Skipped(
                Origin(path=path, start_line=line),
                f"{directive} {target!r} not followed: settings in included files are not "
                "judged (inline them, or scan the included file on its own)",
            )
        body = configfiles.synthetic_body(parsed.kind, path, parsed.spec)
        lines = text.count("\n") + 1
        resource = self._resource(body, path, 1, lines)
        self._fields[(resource.ref, "")] = configfiles.KeyLines.of(path, text, parsed)
        yield resource

    def _objects(
        self,
        path: str,
        doc: Document,
        node: yaml.Node | None,
        items: tuple[int, ...] | None = None,
    ) -> Iterator[SourceItem]:
        """The object(s) of one document; ``items`` (the ``kind: List`` indexes down to it)
        is given when its nodes were not kept and can be composed again from the file."""
        data = doc.data
        if data is None:
            return
        origin = Origin(path=path, start_line=doc.start_line, end_line=doc.end_line)
        if not isinstance(data, dict) or not data.get("apiVersion") or not data.get("kind"):
            yield Skipped(origin, "not a Kubernetes object (no apiVersion/kind)")
            return
        shape = _shape_problem(data)
        if shape:
            yield InputProblem(origin, "invalid-object", shape)
            return
        if str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
            spans = doc.item_spans or tuple((doc.start_line, doc.end_line) for _ in data["items"])
            nodes = _item_nodes(node) or [None] * len(spans)
            below = zip(data["items"], spans, nodes, strict=False)
            for index, (item, (start, end), item_node) in enumerate(below):
                item_doc = Document(item, start, end, (), item_node, doc.line_offset)
                deeper = (*items, index) if items is not None else None
                yield from self._objects(path, item_doc, item_node, deeper)
            return
        if node is not None:
            self._nodes[(path, doc.start_line)] = (node, doc.line_offset)
        elif items is not None:
            self._chunks[(path, doc.start_line)] = (doc.line_offset, items)
        yield from self._resources(data, path, doc.start_line, doc.end_line)

    def _resources(
        self, body: dict[str, Any], path: str, start: int, end: int
    ) -> Iterator[Resource]:
        """One resource per namespace the object lands in (a base shared by two overlays)."""
        api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
        if not kinds.is_namespaced(api_version, kind):
            yield self._resource(body, path, start, end)
            return
        meta = body.get("metadata")
        own = meta.get("namespace") if isinstance(meta, dict) else None
        if isinstance(own, str) and own and api_version.split("/", 1)[0] in _GITOPS_GROUPS:
            # a GitOps controller's own object stays where it is declared: the destination
            # it names is for what it deploys, not for itself
            yield self._resource(body, path, start, end, namespace=own)
            return
        for namespace in self._namespaces(path, own if isinstance(own, str) else ""):
            yield self._resource(body, path, start, end, namespace=namespace)

    def _resource(
        self,
        body: dict[str, Any],
        path: str,
        start: int,
        end: int,
        facts: Mapping[str, Any] | None = None,
        *,
        namespace: str = "",
    ) -> Resource:
        api_version, kind = str(body["apiVersion"]), str(body["kind"])
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        name = str(meta.get("name") or meta.get("generateName") or "(unnamed)")
        if api_version.startswith("config.ledgergate.io"):
            namespace = ""
        ref = ResourceRef(api_version, kind, namespace, name)
        origin = Origin(path=path, start_line=start, end_line=end)
        return Resource(ref, body, origin, dict(facts or {}))


def _within(path: str, selected: tuple[str, ...]) -> bool:
    return any(path == s or path.startswith(s + "/") for s in selected)


def _placed(evidence: Evidence, node: yaml.Node, offset: int, ref: ResourceRef | None) -> Evidence:
    """The evidence with its field's line (and columns) from the document's composed nodes.

    ``podSpec.x`` is looked up where the kind keeps its pod spec; a container's effective
    ``securityContext`` field it does not set itself is looked up on the pod, which set it.
    """
    kind = {"apiVersion": ref.api_version, "kind": ref.kind} if ref is not None else {}
    path = concrete(kind, evidence.path)
    if path is None:
        return evidence
    steps = parse_path(path)
    line, column, end_column, complete = position_in(node, steps, evidence.value)
    inherited = _pod_level(steps)
    if not complete and inherited:
        found = position_in(node, inherited)
        if found[3]:
            line, column, end_column, _ = found
    if not line:
        return evidence
    return replace(evidence, line=offset + line, column=column, end_column=end_column)


def _pod_level(steps: list[PathStep]) -> list[PathStep]:
    """``…spec.containers[0].securityContext.x`` → ``…spec.securityContext.x`` (else [])."""
    for i in range(len(steps) - 2):
        if steps[i] in ("containers", "initContainers") and steps[i + 2] == "securityContext":
            return [*steps[:i], *steps[i + 2 :]]
    return []
