"""Analyzer registry: every analyzer the engine runs, in order."""

from __future__ import annotations

from scanner.analyzers.base import Analyzer, AnalyzerResult


def default_analyzers() -> list[Analyzer]:
    """The analyzers of a scan; adding one is one line here."""
    from scanner.analyzers.backup import BackupAnalyzer
    from scanner.analyzers.rbac import RbacAnalyzer
    from scanner.analyzers.secrets import SecretLiteralsAnalyzer
    from scanner.analyzers.traefik import TraefikAnalyzer

    return [SecretLiteralsAnalyzer(), BackupAnalyzer(), TraefikAnalyzer(), RbacAnalyzer()]


__all__ = ["Analyzer", "AnalyzerResult", "default_analyzers"]
