"""Reporters read a :class:`ScanResult` and return text; they never re-evaluate."""

from __future__ import annotations

import abc
from dataclasses import replace
from pathlib import Path
from typing import Any

from scanner.errors import ReportError
from scanner.findings import ScanResult
from scanner.model import Evidence, Finding

#: Version of the JSON document shapes this tool writes.
OUTPUT_SCHEMA_VERSION = "1.0"


class Reporter(abc.ABC):
    """Turns a scan result into one output format."""

    name: str = ""
    #: Warnings of the last render for the terminal (stderr), e.g. results dropped.
    notes: list[str]

    def __init__(self) -> None:
        self.notes = []

    @abc.abstractmethod
    def render(self, result: ScanResult) -> str:
        """The whole output as text."""


def repository_root(result: ScanResult) -> tuple[Path, str] | None:
    """The git top-level above a repo scan's path and the scanned folder's path inside it
    (``''`` at the top), found by the ``.git`` entry git itself looks for, so reports for
    code review (SARIF, GitLab, Markdown links) name files from the repository root."""
    scanned = (
        str(result.target.get("path", "")) if result.target.get("type", "repo") == "repo" else ""
    )
    if not scanned:
        return None
    start = Path(scanned).absolute()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            inside = folder.relative_to(candidate).as_posix()
            return candidate, "" if inside == "." else inside
    return None


def repo_path(finding: Finding, prefix: str) -> str:
    """A finding's file relative to the repository root (``prefix`` from
    :func:`repository_root`)."""
    path = finding.origin.path
    return f"{prefix}/{path}" if prefix and path else path


def pinpoint(f: Finding) -> Evidence | None:
    """The first evidence field whose line the source knows: where the reviewer edits."""
    return next((e for e in f.evidence if e.line), None)


def finding_line(f: Finding) -> int:
    """The offending field's line when the source knows it, else the object's first line."""
    found = pinpoint(f)
    return found.line if found is not None else f.origin.start_line


def finding_where(f: Finding) -> str:
    """``file:line`` at the offending field (every reporter shows the same place); what
    :meth:`Origin.display` says for cluster objects and images."""
    line = finding_line(f) if f.origin.path else 0
    origin = replace(f.origin, start_line=line) if line else f.origin
    folder = origin.rendered_from.removeprefix("helm ").rstrip("/")
    if folder and origin.path.startswith(folder + "/"):
        # ``app → app/pvc.yaml:12`` says the folder twice: the file's path already names it
        origin = replace(origin, rendered_from="")
    return origin.display()


def finding_to_dict(f: Finding, shared: dict[Any, Any] | None = None) -> dict[str, Any]:
    """The JSON shape of one finding, shared by every reporter that writes JSON.

    ``shared`` (one dict per document) lets findings on the same object and rule share
    their read-only ``location``, ``resource`` and ``controls`` parts: a nightly estate has
    dozens of findings per object, and a document of them all was most of the memory.
    """
    if shared is None:
        return _finding_dict(f, _location_dict(f), _resource_dict(f), _controls_list(f))
    origin, ref = f.origin, f.resource
    # a file location points at the finding's own field; a cluster's or image's does not
    location = _location_dict(f) if origin.path else _memo(shared, origin, _location_dict, f)
    resource = _memo(shared, ("ref", ref), _resource_dict, f)
    controls = _memo(shared, ("controls", f.controls), _controls_list, f)
    return _finding_dict(f, location, resource, controls)


def _memo(shared: dict[Any, Any], key: Any, make: Any, f: Finding) -> Any:
    found = shared.get(key)
    if found is None:
        found = shared[key] = make(f)
    return found


def _location_dict(f: Finding) -> dict[str, Any]:
    origin = f.origin
    location: dict[str, Any] = {}
    if origin.path:
        # ``line``/``column``: the offending field; ``startLine``/``endLine``: the object.
        found = pinpoint(f)
        location = {
            "path": origin.path,
            "line": finding_line(f),
            "column": found.column if found is not None else 0,
            "startLine": origin.start_line,
            "endLine": origin.end_line or origin.start_line,
        }
    elif origin.cluster:
        location = {
            "cluster": origin.cluster,
            "context": origin.context,
            "uid": origin.uid,
            "resourceVersion": origin.resource_version,
        }
    elif origin.image_digest:
        location = {"image": origin.image_digest}
    if origin.git_source:
        location["gitSource"] = origin.git_source
    if origin.rendered_from:
        location["renderedFrom"] = origin.rendered_from
    return location


def _resource_dict(f: Finding) -> dict[str, str] | None:
    if f.resource is None:
        return None
    return {
        "apiVersion": f.resource.api_version,
        "kind": f.resource.kind,
        "namespace": f.resource.namespace,
        "name": f.resource.name,
    }


def _controls_list(f: Finding) -> list[dict[str, str]]:
    return [{"framework": c.framework, "id": c.id} for c in f.controls]


def _finding_dict(
    f: Finding,
    location: dict[str, Any],
    resource: dict[str, str] | None,
    controls: list[dict[str, str]],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "status": f.status.value,
        "severity": f.severity.value,
        "title": f.title,
        "message": f.message,
        "location": location,
        "resource": resource,
        "evidence": [
            {"path": e.path, "value": e.value, "line": e.line, "column": e.column}
            for e in f.evidence
        ],
        "controls": controls,
        "fingerprint": f.fingerprint,
    }
    if f.waiver:
        out["waiver"] = dict(f.waiver)
    return out


def comparison_to_dict(result: ScanResult) -> dict[str, Any] | None:
    """Pre-merge mode: the two commits, the counts, and which findings are new or worse."""
    c = result.comparison
    if c is None:
        return None
    return {
        "base": c.base,
        "head": c.head,
        "headline": c.headline(),
        "summary": {
            "new": len(c.new),
            "worse": len(c.worse),
            "fixed": len(c.fixed),
            "unchanged": len(c.unchanged),
        },
        "new": list(c.new),
        "worse": dict(c.worse),
        "unchanged": list(c.unchanged),
        "fixed": [finding_to_dict(f) for f in c.fixed],
    }


def coverage_to_list(result: ScanResult) -> list[dict[str, Any]]:
    """The JSON shape of the coverage gaps (JSON report and evidence bundle alike)."""
    return [
        {
            "source": c.source,
            "target": c.target,
            "reason": c.reason,
            "kinds": list(c.kinds),
            "category": c.category.value,
        }
        for c in result.coverage
    ]


def skipped_to_list(result: ScanResult) -> list[dict[str, Any]]:
    """The JSON shape of inputs deliberately not judged."""
    return [
        {"path": s.origin.path, "line": s.origin.start_line, "reason": s.reason}
        for s in result.skipped
    ]


__all__ = [
    "OUTPUT_SCHEMA_VERSION",
    "ReportError",
    "Reporter",
    "comparison_to_dict",
    "coverage_to_list",
    "finding_line",
    "finding_to_dict",
    "finding_where",
    "pinpoint",
    "repo_path",
    "repository_root",
    "skipped_to_list",
]
