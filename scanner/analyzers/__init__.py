"""Analyzer registry: every analyzer the engine runs, in order."""

from __future__ import annotations

from scanner.analyzers.base import Analyzer, AnalyzerResult


def default_analyzers() -> list[Analyzer]:
    """The analyzers of a scan; adding one is one line here."""
    from scanner.analyzers.images import ImageAnalyzer
    from scanner.analyzers.secrets import SecretLiteralsAnalyzer

    return [SecretLiteralsAnalyzer(), ImageAnalyzer()]


__all__ = ["Analyzer", "AnalyzerResult", "default_analyzers"]
