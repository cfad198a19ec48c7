"""One error hierarchy; only the CLI turns these into output and exit codes."""

from __future__ import annotations


class ScannerError(Exception):
    """Base for every error the scanner raises on purpose."""

    def diagnostics(self) -> str:
        """Human text that says what went wrong and what to do about it."""
        return str(self)


class ConfigError(ScannerError):
    """The configuration file or a command-line option is invalid (exit 2)."""


class RuleError(ScannerError):
    """A rule file does not load, validate or compile."""

    def __init__(self, path: str, message: str, *, rule_id: str = "", line: int = 0) -> None:
        self.path = path
        self.rule_id = rule_id
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else path
        who = f" (rule {rule_id})" if rule_id else ""
        super().__init__(f"{where}{who}: {message}")


class RulePackError(ScannerError):
    """One or more rules failed to load; the pack is rejected as a whole."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} rule(s) failed to load")

    def diagnostics(self) -> str:
        return "\n".join(["rule pack rejected:", *(f"  {e}" for e in self.errors)])


class ExpressionError(ScannerError):
    """A CEL expression that does not compile or evaluate (the engine turns the latter into
    an ``error`` result; one that reaches the CLI is a bug)."""


class SourceError(ScannerError):
    """A source could not be read (git, a renderer, a file that does not parse); a partial
    read becomes coverage instead."""


class SourceUnavailable(SourceError):
    """A live source (the Kubernetes API) did not answer: what it holds was not read."""


class AnalyzerError(ScannerError):
    """An analyzer could not derive a fact (a schedule it cannot judge, ...)."""


class WorkerError(ScannerError):
    """A forked worker ended without its result (killed, out of memory): the scan is
    incomplete, never a shorter result (exit 4)."""


class ReportError(ScannerError):
    """A reporter could not render or write its output, or a bundle cannot be read."""


class SignatureError(ReportError):
    """A signature, envelope or timestamp that cannot be made or does not verify."""


class BundleUnreadable(ReportError):
    """An object that is not a readable evidence bundle (corrupt, refused, oversized):
    never a predecessor, while an S3 request that fails is a plain ReportError."""
