"""The repository source: every manifest and estate config file in a Git work tree or folder."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from scanner import kinds
from scanner.config import RenderOptions
from scanner.model import Finding, Origin, Resource, ResourceRef, Status
from scanner.sources import configfiles
from scanner.sources.base import InputProblem, Skipped, Source, SourceItem
from scanner.sources.render import FieldMap, RenderedObject, render_repo
from scanner.sources.render.base import relocate
from scanner.sources.render.templated import templated
from scanner.sources.yamldocs import Document, DocumentError, parse_yaml
from scanner.yamlutil import compose, line_in, parse_path

YAML_SUFFIXES = {".yaml", ".yml"}
GIT_TIMEOUT_S = 60
#: The tool's own files are configuration for the scan, not targets of it.
OWN_FILES = {"ledgergate.yaml", "ledgergate.yml", "waivers.yaml", "waivers.yml"}
DEFAULT_EXCLUDES = (".git/**",)


def _git(root: Path, *args: str) -> str | None:
    """Run git in ``root``; None when git is absent or this is not a work tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
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


def changed_files(root: Path, base: str) -> set[str]:
    """Files changed since the merge base of ``base`` and HEAD, work tree and untracked included."""
    merge_base = _git(root, "merge-base", base, "HEAD")
    if merge_base is None:
        from scanner.errors import ConfigError

        raise ConfigError(
            f"--base {base}: no merge base with HEAD in {root} "
            "(is it a git repository, and is the ref fetched?)"
        )
    diff = _git(root, "diff", "--name-only", "-z", "--relative", merge_base.strip(), "--", ".")
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
    names = (diff or "").split("\0") + (untracked or "").split("\0")
    return {n for n in names if n}


def is_excluded(path: str, patterns: Iterable[str]) -> bool:
    """Glob match on the POSIX path; ``dir/`` or ``dir/**`` excludes a whole folder."""
    for pattern in patterns:
        pat = pattern.rstrip("/") + "/**" if pattern.endswith("/") else pattern
        if fnmatchcase(path, pat) or (pat.endswith("/**") and path.startswith(pat[:-2])):
            return True
    return False


def _is_candidate(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    if name in OWN_FILES:
        return False
    suffix = PurePosixPath(name).suffix
    return suffix in YAML_SUFFIXES or suffix == ".json" or configfiles.parser_for(path) is not None


def _chart_roots(paths: Iterable[str]) -> set[str]:
    return {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "Chart.yaml"}


def _in_chart_templates(path: str, charts: set[str]) -> bool:
    parts = PurePosixPath(path).parts
    for i, part in enumerate(parts):
        if part == "templates":
            chart = PurePosixPath(*parts[:i]).as_posix() if i else "."
            if chart in charts:
                return True
    return False


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
        self.render = render if render is not None else RenderOptions()
        self._fields: dict[tuple[ResourceRef, str], FieldMap] = {}
        self.only = set(only) if only is not None else None
        self.excludes = (*DEFAULT_EXCLUDES, *excludes)
        self.max_file_size = max_file_size
        self._namespace_defaults: dict[str, str] = {}

    def target(self) -> dict[str, str]:
        """Repository identity: remote, commit and whether the tree is dirty."""
        info = {"type": "repo", "path": str(self.root)}
        commit = _git(self.root, "rev-parse", "HEAD")
        if commit:
            info["commit"] = commit.strip()
            status = _git(self.root, "status", "--porcelain")
            info["dirty"] = "true" if status else "false"
            remote = _git(self.root, "config", "--get", "remote.origin.url")
            if remote:
                info["remote"] = remote.strip()
        return info

    def locate(self, findings: list[Finding]) -> list[Finding]:
        """Give each evidence path of a non-passing finding its line in the file."""
        texts: dict[str, list[str] | None] = {}
        trees: dict[tuple[str, int, int], Any] = {}
        located: list[Finding] = []
        for finding in findings:
            origin = finding.origin
            fields = self._fields.get((finding.resource, origin.rendered_from))  # type: ignore[arg-type]
            if fields is not None and finding.status is not Status.PASS:
                located.append(relocate(finding, fields))
                continue
            if finding.status is Status.PASS or not finding.evidence or not origin.path:
                located.append(finding)
                continue
            if origin.path not in texts:
                text = self._safe_text(origin.path)
                texts[origin.path] = text.splitlines() if text is not None else None
            lines = texts[origin.path]
            if lines is None or not origin.start_line:
                located.append(finding)
                continue
            span = (origin.path, origin.start_line, origin.end_line)
            if span not in trees:  # one parse per object, however many findings it has
                snippet = "\n".join(lines[origin.start_line - 1 : origin.end_line or None])
                trees[span] = compose(snippet)
            evidence = tuple(
                replace(e, line=origin.start_line - 1 + line_in(trees[span], parse_path(e.path)))
                if e.path and not e.line
                else e
                for e in finding.evidence
            )
            located.append(replace(finding, evidence=evidence))
        return located

    def collect(self) -> Iterator[SourceItem]:
        """Yield every resource of every candidate file, in path order."""
        listed = sorted(self.only) if self.only is not None else list_files(self.root)
        paths = [p for p in listed if not is_excluded(p, self.excludes)]
        charts = _chart_roots(paths)
        self._namespace_defaults = self._kustomize_namespaces(paths)
        rendered = render_repo(self.root, paths, self.render, self._safe_text)
        yield from rendered.problems
        yield from (self._rendered_resource(obj) for obj in rendered.objects)
        for path in paths:
            if not _is_candidate(path) or path in rendered.covered:
                continue
            if _in_chart_templates(path, charts):
                yield InputProblem(
                    Origin(path=path, start_line=1),
                    "helm-template",
                    "Helm chart template not rendered: run `helm template` and scan the "
                    "output, or exclude the chart path in ledgergate.yaml",
                )
                continue
            yield from self._read_file(path)

    def _rendered_resource(self, obj: RenderedObject) -> Resource:
        start, end = obj.origin.start_line, obj.origin.end_line
        raw = self._resource(dict(obj.body), obj.origin.path, start, end)
        self._fields[(raw.ref, obj.origin.rendered_from)] = obj.fields
        return Resource(raw.ref, raw.body, obj.origin, raw.facts)

    def _kustomize_namespaces(self, paths: list[str]) -> dict[str, str]:
        """Folder -> namespace set by its kustomization, applied to manifests below it."""
        found: dict[str, str] = {}
        for path in paths:
            if PurePosixPath(path).name not in {"kustomization.yaml", "kustomization.yml"}:
                continue
            text = self._safe_text(path)
            if text is None:
                continue
            for doc in parse_yaml(text):
                if isinstance(doc, Document) and isinstance(doc.data, Mapping):
                    ns = doc.data.get("namespace")
                    if isinstance(ns, str) and ns:
                        found[str(PurePosixPath(path).parent)] = ns
        return found

    def _default_namespace(self, path: str) -> str:
        folder = PurePosixPath(path).parent
        for candidate in (folder, *folder.parents):
            ns = self._namespace_defaults.get(str(candidate))
            if ns:
                return ns
        return "default"

    def _safe_text(self, path: str) -> str | None:
        item = self._read_text(path)
        return item if isinstance(item, str) else None

    def _read_text(self, path: str) -> str | InputProblem | None:
        """The file's text, or the problem that stops it being read."""
        full = self.root / path
        origin = Origin(path=path)
        if full.is_symlink():
            target = full.resolve()
            if not target.is_relative_to(self.root):
                return InputProblem(
                    origin,
                    "symlink-escape",
                    f"symlink points outside the repository ({os.readlink(full)}); not followed",
                )
        try:
            size = full.stat().st_size
        except OSError as exc:
            if not full.exists() and not full.is_symlink():
                return None  # deleted in the work tree but still tracked
            return InputProblem(origin, "unreadable", f"cannot read file: {exc.strerror}")
        if size > self.max_file_size:
            return InputProblem(
                origin,
                "too-large",
                f"file is {size:,} bytes, over the {self.max_file_size:,}-byte limit "
                "(raise max_file_size in ledgergate.yaml or exclude the path)",
            )
        try:
            raw = full.read_bytes()
        except OSError as exc:
            return InputProblem(origin, "unreadable", f"cannot read file: {exc.strerror}")
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

    def _read_file(self, path: str) -> Iterator[SourceItem]:
        text = self._read_text(path)
        if text is None:
            return
        if isinstance(text, InputProblem):
            yield text
            return
        parser = configfiles.parser_for(path)
        if parser is not None:
            yield from self._read_config(path, text, parser)
        elif path.lower().endswith(".json"):
            yield from self._read_json(path, text)
        else:
            yield from self._read_yaml(path, text)

    def _read_config(
        self, path: str, text: str, parser: configfiles.ParserFn
    ) -> Iterator[SourceItem]:
        try:
            parsed = parser(text)
        except configfiles.ConfigParseError as exc:
            yield InputProblem(Origin(path=path, start_line=exc.line), "parse-error", str(exc))
            return
        body = configfiles.synthetic_body(parsed.kind, path, parsed.spec)
        lines = text.count("\n") + 1
        yield self._resource(body, path, 1, lines, {"keyLines": parsed.key_lines})

    def _read_json(self, path: str, text: str) -> Iterator[SourceItem]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield InputProblem(
                Origin(path=path, start_line=exc.lineno), "parse-error", f"JSON error: {exc.msg}"
            )
            return
        yield from self._objects(path, Document(data, 1, text.count("\n") + 1))

    def _read_yaml(self, path: str, text: str) -> Iterator[SourceItem]:
        docs = list(parse_yaml(text))
        template = templated(text, [d.data if isinstance(d, Document) else None for d in docs])
        if template is not None:
            yield InputProblem(
                Origin(path=path, start_line=template),
                "template",
                "template syntax ({{ ... }}) in a file no chart renders: not a manifest as "
                "written. Move it into a Helm chart (Chart.yaml) so it is rendered, or exclude "
                "the path in ledgergate.yaml",
            )
            return
        traefik_static = configfiles.is_traefik_static_yaml(path)
        for doc in docs:
            if isinstance(doc, DocumentError):
                yield InputProblem(Origin(path=path, start_line=doc.line), doc.code, doc.message)
            elif traefik_static and isinstance(doc.data, dict):
                body = configfiles.synthetic_body("TraefikStaticConfig", path, doc.data)
                yield self._resource(body, path, doc.start_line, doc.end_line)
            else:
                yield from self._objects(path, doc)

    def _objects(self, path: str, doc: Document) -> Iterator[SourceItem]:
        data = doc.data
        if data is None:
            return
        origin = Origin(path=path, start_line=doc.start_line, end_line=doc.end_line)
        if not isinstance(data, dict) or not data.get("apiVersion") or not data.get("kind"):
            yield Skipped(origin, "not a Kubernetes object (no apiVersion/kind)")
            return
        if str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
            spans = doc.item_spans or tuple((doc.start_line, doc.end_line) for _ in data["items"])
            for item, (start, end) in zip(data["items"], spans, strict=False):
                yield from self._objects(path, Document(item, start, end))
            return
        yield self._resource(data, path, doc.start_line, doc.end_line)

    def _resource(
        self,
        body: dict[str, Any],
        path: str,
        start: int,
        end: int,
        facts: Mapping[str, Any] | None = None,
    ) -> Resource:
        api_version, kind = str(body["apiVersion"]), str(body["kind"])
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        name = str(meta.get("name") or meta.get("generateName") or "(unnamed)")
        namespace = ""
        if kinds.is_namespaced(api_version, kind) and not api_version.startswith(
            "config.ledgergate.io"
        ):
            namespace = str(meta.get("namespace") or self._default_namespace(path))
        ref = ResourceRef(api_version, kind, namespace, name)
        origin = Origin(path=path, start_line=start, end_line=end)
        return Resource(ref, body, origin, dict(facts or {}))
