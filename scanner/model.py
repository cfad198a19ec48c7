"""Frozen values that pass between the stages of the pipeline.

Every stage reads these and builds new ones; none is mutated after creation, so a
reporter can never change what the engine decided.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NewType

RuleId = NewType("RuleId", str)

#: API group used for resources synthesised from non-Kubernetes configuration files.
SYNTHETIC_GROUP = "config.ledgergate.io"


class Status(enum.StrEnum):
    """Outcome of one rule on one resource."""

    FAIL = "fail"
    ERROR = "error"
    WAIVED = "waived"
    PASS = "pass"
    #: One entry per rule whose input the user did not enable (``--images`` off).
    NOT_EVALUATED = "not-evaluated"


class Severity(enum.StrEnum):
    """Severity of a rule; ordered by :attr:`rank`."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


@dataclass(frozen=True, slots=True, order=True)
class ResourceRef:
    """Identity of a resource: what a human would type after ``kubectl get``."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def group(self) -> str:
        """API group ('' for the core group)."""
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    def display(self) -> str:
        """Short human form, e.g. ``Deployment finance-prod/odoo``."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a resource came from: a file span, a cluster object or an image."""

    path: str = ""
    start_line: int = 0
    end_line: int = 0
    cluster: str = ""
    context: str = ""
    uid: str = ""
    resource_version: str = ""
    image_digest: str = ""
    git_source: str = ""
    #: The kustomization or chart render the object came out of (``overlays/prod``).
    rendered_from: str = ""

    def display(self) -> str:
        """``file:line`` for files (``overlays/prod → base/app.yaml:21`` when rendered)."""
        if self.path:
            where = f"{self.path}:{self.start_line}" if self.start_line else self.path
            return f"{self.rendered_from} → {where}" if self.rendered_from else where
        if self.cluster:
            return f"{self.context or self.cluster} uid={self.uid}"
        return self.image_digest


@dataclass(frozen=True, slots=True)
class Resource:
    """One object to judge, with its origin and the facts analyzers derived for it."""

    ref: ResourceRef
    body: Mapping[str, Any]
    origin: Origin
    facts: Mapping[str, Any] = field(default_factory=dict)

    def with_facts(self, extra: Mapping[str, Any]) -> Resource:
        """A copy with ``extra`` merged into the facts."""
        return Resource(self.ref, self.body, self.origin, {**self.facts, **extra})


@dataclass(frozen=True, slots=True)
class Control:
    """A framework control a rule evidences, e.g. (``pci-dss-4.0``, ``8.2.1``)."""

    framework: str
    id: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """A field path and its (already redacted) value that made the rule decide."""

    path: str
    value: str = ""
    #: Line of the field in the source file, when the source can tell (0 = unknown).
    line: int = 0
    #: 1-based column of the field on that line, when the parser's marks give it (0 = unknown).
    column: int = 0
    #: Column just past the field (its key and one-line value), 0 when unknown or multi-line.
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one rule on one resource (or of one unreadable input)."""

    rule_id: str
    status: Status
    severity: Severity
    title: str
    message: str
    resource: ResourceRef | None
    origin: Origin
    evidence: tuple[Evidence, ...] = ()
    controls: tuple[Control, ...] = ()
    fingerprint: str = ""
    waiver: Mapping[str, str] | None = None

    def sort_key(self) -> tuple[str, int, str, str, str, str, str]:
        """Stable order for every output: file, line, rule, resource, fingerprint."""
        ref = self.resource
        loc = self.origin.path or self.origin.cluster or self.origin.image_digest
        return (
            loc,
            self.origin.start_line,
            self.rule_id,
            ref.kind if ref else "",
            ref.namespace if ref else "",
            ref.name if ref else "",
            self.fingerprint,
        )


class CoverageCategory(enum.StrEnum):
    """What a coverage entry means for the scan's completeness."""

    #: Could not be read (403, timeout, server error): the scan is incomplete (exit 4).
    GAP = "gap"
    #: The cluster does not serve the kind (CRD absent): nothing exists to judge.
    NOT_INSTALLED = "not-installed"
    #: Information only (Secrets not requested, objects judged through their owners).
    NOTE = "note"


@dataclass(frozen=True)
class CoverageEntry:
    """Something the scan could not fully read, and why.

    An entry that names ``kinds`` makes every rule judging them ``error``, so it is always
    a :attr:`CoverageCategory.GAP`, whatever the caller passed.
    """

    source: str
    target: str
    reason: str
    kinds: tuple[str, ...] = ()
    category: CoverageCategory = CoverageCategory.NOTE

    def __post_init__(self) -> None:
        if self.kinds and self.category is not CoverageCategory.GAP:
            object.__setattr__(self, "category", CoverageCategory.GAP)

    @property
    def is_gap(self) -> bool:
        """True when something that exists could not be read (the scan is incomplete)."""
        return self.category is CoverageCategory.GAP
