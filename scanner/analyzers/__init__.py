"""Analyzer registry: every analyzer the engine runs, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.analyzers.base import Analyzer, AnalyzerResult

if TYPE_CHECKING:
    from scanner.analyzers.provenance import ChangeLookup


def default_analyzers(ledger: ChangeLookup | None = None) -> list[Analyzer]:
    """The analyzers of a scan; adding one is one line here.

    ``ledger`` answers whether a synced GitOps revision passed change control
    (``scan cluster --repo``).
    """
    from scanner.analyzers.backup import BackupAnalyzer
    from scanner.analyzers.changes import ChangeAnalyzer
    from scanner.analyzers.images import ImageAnalyzer
    from scanner.analyzers.provenance import ProvenanceAnalyzer
    from scanner.analyzers.rbac import RbacAnalyzer
    from scanner.analyzers.secrets import SecretLiteralsAnalyzer
    from scanner.analyzers.traefik import TraefikAnalyzer

    return [
        SecretLiteralsAnalyzer(),
        BackupAnalyzer(),
        TraefikAnalyzer(),
        RbacAnalyzer(),
        ImageAnalyzer(),
        ChangeAnalyzer(),
        ProvenanceAnalyzer(ledger),
    ]


def kinds_read_by_analyzers() -> tuple[tuple[str, str], ...]:
    """(API group, kind) pairs the default analyzers read (a cluster scan lists them)."""
    return tuple(sorted({pair for analyzer in default_analyzers() for pair in analyzer.reads}))


__all__ = ["Analyzer", "AnalyzerResult", "default_analyzers", "kinds_read_by_analyzers"]
