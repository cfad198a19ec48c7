"""What a renderer hands the repo source: objects with a way back to their source lines."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.model import Evidence, Finding, Origin
from scanner.sources.base import InputProblem


@dataclass(frozen=True)
class Location:
    """The file and line a reviewer edits to change one field of a rendered object."""

    path: str
    line: int
    start_line: int
    end_line: int
    note: str = ""
    #: 1-based column where the field starts on ``line``, and just past it (0: unknown, or
    #: the field spans lines), so SARIF regions underline it as for a raw manifest.
    column: int = 0
    end_column: int = 0


class FieldMap(abc.ABC):
    """Maps a field path of one rendered object back to the line that set it."""

    @abc.abstractmethod
    def where(self, path: str) -> Location | None:
        """The line that set ``path`` (``spec.template.spec.containers[0].image``), if known."""

    def release(self) -> None:  # noqa: B027 - most maps keep nothing to drop
        """Drop what :meth:`where` built and kept (node trees): asked again, it rebuilds."""

    def files(self) -> frozenset[str] | None:
        """Every file :meth:`where` can point at (None: not known), so a scan that shows
        only some files' findings places no finding that cannot land in them."""
        return None


@dataclass(frozen=True)
class RenderedObject:
    """One object as it will be deployed, with its source origin and field map."""

    body: Mapping[str, Any]
    origin: Origin
    fields: FieldMap


@dataclass
class RenderOutput:
    """Everything rendering produced: objects, the raw files they cover, and failures."""

    objects: list[RenderedObject] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    problems: list[InputProblem] = field(default_factory=list)

    def extend(self, other: RenderOutput) -> None:
        """Add another renderer's output."""
        self.objects.extend(other.objects)
        self.covered |= other.covered
        self.problems.extend(other.problems)


def relocate(finding: Finding, fields: FieldMap) -> Finding:
    """Point a finding on a rendered object at the line that set its first evidence field.

    Evidence lines in another file than the chosen one are dropped (0) rather than shown
    against the wrong file.
    """
    chosen: Location | None = None
    placed: list[tuple[Evidence, Location | None]] = []
    for item in finding.evidence:
        loc = fields.where(item.path) if item.path else None
        chosen = chosen or loc
        placed.append((item, loc))
    if chosen is None:
        return finding
    evidence = tuple(
        replace(item, line=loc.line, column=loc.column, end_column=loc.end_column)
        if loc is not None and loc.path == chosen.path
        else replace(item, line=0)
        for item, loc in placed
    )
    # The field's line, not the object's first line: that is what a reviewer must change.
    # Like a raw finding: the object's span in the file that set the field; the evidence
    # carries the field's own line.
    origin = replace(
        finding.origin, path=chosen.path, start_line=chosen.start_line, end_line=chosen.end_line
    )
    message = f"{finding.message} ({chosen.note})" if chosen.note else finding.message
    return replace(finding, origin=origin, evidence=evidence, message=message)
