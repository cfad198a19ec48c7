"""Analyzer registry: every analyzer the engine runs, in order."""

from __future__ import annotations

from scanner.analyzers.base import Analyzer, AnalyzerResult


def default_analyzers() -> list[Analyzer]:
    """The analyzers of a scan; adding one is one line here."""
    from scanner.analyzers.backup import BackupAnalyzer
    from scanner.analyzers.images import ImageAnalyzer
    from scanner.analyzers.network import NetworkPolicyAnalyzer
    from scanner.analyzers.rbac import RbacAnalyzer
    from scanner.analyzers.secrets import SecretLiteralsAnalyzer
    from scanner.analyzers.storage import StorageAnalyzer
    from scanner.analyzers.traefik import TraefikAnalyzer

    return [
        SecretLiteralsAnalyzer(),
        BackupAnalyzer(),
        TraefikAnalyzer(),
        NetworkPolicyAnalyzer(),
        StorageAnalyzer(),
        RbacAnalyzer(),
        ImageAnalyzer(),
    ]


def kinds_read_by_analyzers() -> tuple[tuple[str, str], ...]:
    """(API group, kind) pairs the default analyzers read (a cluster scan lists them)."""
    return tuple(sorted({pair for analyzer in default_analyzers() for pair in analyzer.reads}))


__all__ = ["Analyzer", "AnalyzerResult", "default_analyzers", "kinds_read_by_analyzers"]
