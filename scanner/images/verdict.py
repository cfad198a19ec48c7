"""The outcome of a signature check, shared by the key-based and Sigstore verifiers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: trusted: a trusted key or identity signed this digest; untrusted: signatures exist
#: but none is acceptable; unsigned: none found; error: could not be checked.
STATUSES = ("trusted", "untrusted", "unsigned", "error")


@dataclass(frozen=True)
class SignatureVerdict:
    """Status, who signed (key file or certificate identity) and why not."""

    status: str
    signer: str = ""
    reason: str = ""
    method: str = ""

    def as_fact(self) -> dict[str, Any]:
        """The shape rules read under ``signature``."""
        return {
            "status": self.status,
            "signer": self.signer,
            "reason": self.reason,
            "method": self.method,
        }


def combine(verdicts: list[SignatureVerdict]) -> SignatureVerdict:
    """Best outcome across verifiers: trusted > error > untrusted > unsigned.

    An error outranks "untrusted": the verifier that failed might have trusted it.
    """
    for status in ("trusted", "error", "untrusted"):
        found = [v for v in verdicts if v.status == status]
        if found:
            if status == "trusted":
                return found[0]
            return SignatureVerdict(status, reason="; ".join(v.reason for v in found if v.reason))
    reasons = "; ".join(v.reason for v in verdicts if v.reason)
    return SignatureVerdict("unsigned", reason=reasons or "no signature found")
