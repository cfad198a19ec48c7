"""Who may sign: a certificate identity (exact subject or regexp) and its OIDC issuer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """A certificate identity: exact ``subject`` or ``subject_regexp``, plus OIDC issuer."""

    issuer: str
    subject: str = ""
    subject_regexp: str = ""

    def display(self) -> str:
        """How a person reads it in a message."""
        who = self.subject or f"/{self.subject_regexp}/"
        return f"{who} ({self.issuer})"
