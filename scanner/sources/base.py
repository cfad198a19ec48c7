"""What every source yields: resources, inputs it could not read, and inputs it skipped."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scanner.model import CoverageEntry, Finding, Origin, Resource


@dataclass(frozen=True)
class InputProblem:
    """An input that could not be judged; becomes an ``error`` finding (fail closed)."""

    origin: Origin
    code: str
    message: str

    @property
    def rule_id(self) -> str:
        """The pseudo-rule id the finding carries, e.g. ``input/parse-error``."""
        return f"input/{self.code}"


@dataclass(frozen=True)
class Skipped:
    """An input deliberately not judged (not a Kubernetes object, excluded); listed in coverage."""

    origin: Origin
    reason: str


SourceItem = Resource | InputProblem | Skipped | CoverageEntry


class Source(abc.ABC):
    """A place resources come from: a repository, a cluster, an image."""

    #: Short name used in coverage entries and the evidence manifest.
    name: str = "source"
    #: True when resources carry observed state (status, run history): a live cluster.
    observes_state: bool = False

    @abc.abstractmethod
    def collect(self) -> Iterator[SourceItem]:
        """Yield every resource, problem and skip; never raise for one bad input."""

    def locate(self, findings: list[Finding]) -> list[Finding]:
        """Findings with evidence lines filled in where the source can tell (default: as is)."""
        return findings

    def select(self, findings: list[Finding]) -> list[Finding]:
        """The findings within what the scan was asked to judge (default: all).

        A source may read context beyond its scope (Schedules in other namespaces) so that
        rules stay true; findings on that context are dropped here.
        """
        return findings

    def may_show(self, resource: Resource) -> bool:
        """Whether a finding on ``resource`` can be in this scan's report (default: yes).

        A scan that shows only some files' findings still reads the rest as context; the
        engine judges only the resources this admits, so it is never narrower than
        :meth:`select` and the narrowing after it."""
        return True

    def origin(self) -> Origin:
        """Where findings about the source as a whole point (e.g. a kind it could not read)."""
        return Origin()

    def target(self) -> dict[str, str]:
        """Identity of what was scanned (for reports and the evidence manifest)."""
        return {}

    def scope(self) -> dict[str, Any]:
        """Filters the source applied (e.g. ``namespaces``), for the scan's recorded scope."""
        return {}
