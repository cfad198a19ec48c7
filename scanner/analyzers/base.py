"""Analyzers turn cross-resource questions into per-resource facts that rules read."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scanner.inventory import Inventory
from scanner.model import Resource
from scanner.redaction import SecretHit


@dataclass
class AnalyzerResult:
    """Facts by inventory index, and resources the analyzer synthesised (e.g. namespaces)."""

    facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    #: Secret-looking values by inventory index, for redacting every output.
    secrets: dict[int, list[SecretHit]] = field(default_factory=dict)


class Analyzer(abc.ABC):
    """Derives facts once per scan; an exception here makes dependent rules ``error``."""

    #: Fact names this analyzer provides; rules list them under ``requires``.
    provides: tuple[str, ...] = ()
    #: (API group, kind) pairs the analyzer reads beyond what rules match; a cluster scan
    #: lists them too, so facts never rest on objects the scanner did not fetch.
    reads: tuple[tuple[str, str], ...] = ()
    #: (API group, kind) pairs of resources the analyzer makes from what it read (RBAC
    #: subjects): they exist in a cluster scan too, though no API server serves them.
    synthesises: tuple[tuple[str, str], ...] = ()
    name: str = "analyzer"
    #: Runs even when no selected rule reads its facts (what it finds serves every output).
    always_runs: bool = False
    #: Each resource's facts rest on that resource alone and only rules judging it read
    #: them: a scan that judges some resources (a pre-commit hook's) derives them for those.
    per_object: bool = False

    def needed_by(self, facts: frozenset[str]) -> bool:
        """Whether a scan whose rules read ``facts`` needs this analyzer; one that provides
        nothing or synthesises resources always runs (its objects may be judged)."""
        return (
            self.always_runs
            or not self.provides
            or bool(self.synthesises)
            or "*" in facts
            or any(name in facts for name in self.provides)
        )

    def reads_for(self, fact: str) -> tuple[tuple[str, str], ...]:
        """The kinds one provided fact rests on (default: all of ``reads``); a fact whose
        kinds hit a coverage gap makes the rules requiring it ``error``."""
        return self.reads

    def for_fixture(self, facts: Mapping[str, Any]) -> Analyzer:
        """This analyzer for a rule fixture with precomputed inputs (a ``.facts.yaml``).

        Analyzers that need outside systems (a registry) read their inputs from ``facts``;
        the rest ignore them.
        """
        return self

    @abc.abstractmethod
    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Compute facts for the inventory."""
