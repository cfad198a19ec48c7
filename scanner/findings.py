"""The result of a scan: sorted findings, coverage, summary and the gate decision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scanner.engine import fingerprint
from scanner.model import CoverageEntry, Finding, Origin, ResourceRef, Severity, Status
from scanner.rules import Rule
from scanner.sources.base import Skipped


@dataclass(frozen=True)
class Comparison:
    """Pre-merge mode: what the change does, judged against the merge-base tree.

    ``new`` and ``worse`` hold fingerprints of head findings; they alone decide the gate.
    ``fixed`` holds the base findings the change resolves (or removed with their file).
    """

    base: str
    head: str
    new: tuple[str, ...] = ()
    worse: Mapping[str, str] = field(default_factory=dict)
    unchanged: tuple[str, ...] = ()
    fixed: tuple[Finding, ...] = ()

    @property
    def gating(self) -> frozenset[str]:
        """Fingerprints of the head findings that decide the exit code."""
        return frozenset((*self.new, *self.worse))

    def change_of(self, fp: str) -> str:
        """``new``, ``worse``, ``unchanged`` or '' for one head finding."""
        if fp in self.worse:
            return "worse"
        if fp in self.new:
            return "new"
        return "unchanged" if fp in self.unchanged else ""

    def headline(self) -> str:
        """``base abc123 → head def456: 2 new, 1 worse, 3 fixed, 5 unchanged``."""
        return (
            f"base {self.base[:12]} → head {self.head[:12]}: {len(self.new)} new, "
            f"{len(self.worse)} worse, {len(self.fixed)} fixed, {len(self.unchanged)} unchanged"
        )


@dataclass(frozen=True)
class ScanResult:
    """Everything reporters need; they read it and never re-evaluate."""

    findings: tuple[Finding, ...]
    rules: tuple[Rule, ...]
    coverage: tuple[CoverageEntry, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    target: Mapping[str, str] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    tool_version: str = ""
    resources_scanned: int = 0
    #: Pre-merge mode only: the comparison with the merge base (decides the gate).
    comparison: Comparison | None = None
    #: What the scan judged and what it left out (parameters, rules, paths, inputs).
    scope: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        findings: Iterable[Finding],
        rules: Iterable[Rule],
        *,
        skipped: Iterable[Skipped] = (),
        coverage: Iterable[CoverageEntry] = (),
        target: Mapping[str, str] | None = None,
        started: str = "",
        finished: str = "",
        tool_version: str = "",
        resources_scanned: int = 0,
        scope: Mapping[str, Any] | None = None,
    ) -> ScanResult:
        """Sort everything so every output is deterministic; fold the errors of inputs the
        user did not enable into one ``not-evaluated`` entry per rule."""
        from scanner.inputs import fold_disabled

        rules = tuple(sorted(rules, key=lambda r: r.id))
        folded = fold_disabled(list(findings), rules)
        return cls(
            findings=tuple(sorted(folded, key=lambda f: f.sort_key())),
            rules=rules,
            coverage=tuple(coverage),
            skipped=tuple(sorted(skipped, key=lambda s: (s.origin.path, s.origin.start_line))),
            target=dict(target or {}),
            started=started,
            finished=finished,
            tool_version=tool_version,
            resources_scanned=resources_scanned,
            scope=dict(scope or {}),
        )

    def only_paths(self, paths: set[str]) -> ScanResult:
        """``--only-changed-files``: show findings located in the given files (display only)."""
        kept = tuple(f for f in self.findings if f.origin.path in paths)
        return replace(self, findings=kept)

    def counts(self) -> Counter[str]:
        """Findings by status."""
        return Counter(f.status.value for f in self.findings)

    def problems(self) -> list[Finding]:
        """Findings a human must look at: fail, error and waived, in output order."""
        return [f for f in self.findings if f.status is not Status.PASS]

    def gaps(self) -> list[CoverageEntry]:
        """Coverage entries for inputs that exist but could not be read."""
        return [c for c in self.coverage if c.is_gap]

    def incomplete(self) -> bool:
        """True when something could not be read (403, timeout, failed analyzer): exit 4."""
        return bool(self.gaps())

    def gate_failed(self, fail_on: Severity) -> bool:
        """Fail on any ``error`` and on any ``fail`` at or above the threshold.

        In pre-merge mode only findings the change introduced or made worse count.
        """
        return bool(self.gating_findings(fail_on))

    def gating_findings(self, fail_on: Severity) -> list[Finding]:
        """The findings :meth:`gate_failed` fails on (the terminal says how many)."""
        gating = self.comparison.gating if self.comparison is not None else None
        return [
            f
            for f in self.findings
            if (gating is None or f.fingerprint in gating)
            and (
                f.status is Status.ERROR
                or (f.status is Status.FAIL and f.severity.rank >= fail_on.rank)
            )
        ]


def coverage_errors(
    coverage: Iterable[CoverageEntry], rules: Iterable[Rule], origin: Origin
) -> list[Finding]:
    """One ``error`` per (rule, unread kind): a control whose inputs could not be read has not
    passed. Entries name kinds as ``group/Kind`` (``Kind`` for core); notes name none."""
    rules = tuple(rules)
    found: list[Finding] = []
    for entry in coverage:
        for key in entry.kinds:
            group, _, kind = key.rpartition("/")
            for rule in rules:
                if not any(g in ("*", group) and k in ("*", kind) for g, k in rule.match.kinds):
                    continue
                ref = ResourceRef(f"{group}/*" if group else "v1", kind, "", "*")
                found.append(
                    Finding(
                        rule_id=rule.id,
                        status=Status.ERROR,
                        severity=rule.severity,
                        title=rule.title,
                        message=f"{kind} objects could not be read: {entry.reason}",
                        resource=ref,
                        origin=origin,
                        controls=rule.controls,
                        fingerprint=fingerprint(rule.id, None, origin, [key, entry.target]),
                    )
                )
    return found
