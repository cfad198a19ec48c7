"""Find secret-looking values and make sure none of them ever reaches an output.

Detection uses known token formats first, then key names plus entropy. Every value
it finds is replaced by a fingerprint (``sha256:<12 hex>``) wherever it would
otherwise appear: messages, evidence, reports.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Known credential formats: (type, pattern).
TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    ),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("slack-token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("stripe-key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("dsn-password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s@/]{3,})@[^\s]+")),
)

#: One pass over a value finds whether any known format is present at all.
_ANY_TOKEN = re.compile("|".join(f"(?:{p.pattern})" for _, p in TOKEN_PATTERNS))

SENSITIVE_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth)", re.IGNORECASE
)
#: Keys that configure how secrets are handled rather than hold one
#: (``password_encryption``, ``secretName``, ``tokenTTL``, ``kmsKeyId``, ``auth_method``).
SETTING_KEY = re.compile(
    r"(encryption|method|file|path|policy|ref|name|type|mode|algorithm|length|age|ttl"
    r"|rotation|enabled|url|uri|endpoint|id|store|provider|class)$",
    re.IGNORECASE,
)
#: Values that are clearly placeholders or references, not secrets.
PLACEHOLDER = re.compile(r"^(\$\{.*\}|\$\(.*\)|<.*>|changeme|false|true|none|null|\*+|)$", re.I)
MIN_SECRET_LENGTH = 8
MIN_ENTROPY_BITS = 3.0


@dataclass(frozen=True)
class SecretHit:
    """A secret-looking value at a field path. ``value`` must never be written out."""

    path: str
    kind: str
    value: str


def fingerprint(value: str) -> str:
    """A stable, non-reversible label for a secret value."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def classify(key: str, value: str) -> str | None:
    """The secret type of a value (or None), judged by format, then by key name and entropy."""
    if len(value) < MIN_SECRET_LENGTH:
        return None
    if _ANY_TOKEN.search(value):
        return next(kind for kind, pattern in TOKEN_PATTERNS if pattern.search(value))
    stripped = value.strip()
    if PLACEHOLDER.match(stripped):
        return None
    if (
        SENSITIVE_KEY.search(key)
        and not SETTING_KEY.search(key)
        and len(stripped) >= MIN_SECRET_LENGTH
        and entropy(stripped) >= MIN_ENTROPY_BITS
    ):
        return "high-entropy-credential"
    return None


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """(path, key, value) for every string; env entries are keyed by their ``name``."""
    if type(node) is dict:
        value = node.get("value")
        if type(value) is str and "name" in node:
            yield f"{path}.value", str(node["name"]), value
            return
        for key, child in node.items():
            if type(child) is str:
                if len(child) >= MIN_SECRET_LENGTH:
                    yield (f"{path}.{key}" if path else str(key)), str(key), child
            else:
                yield from _walk(child, f"{path}.{key}" if path else str(key))
    elif type(node) is list:
        for i, child in enumerate(node):
            yield from _walk(child, f"{path}[{i}]")
    elif type(node) is str:
        yield path, path.rsplit(".", 1)[-1], node


def find_secrets(kind: str, body: Mapping[str, Any]) -> list[SecretHit]:
    """Every secret-looking value in an object; all values of a Secret's data count."""
    hits: list[SecretHit] = []
    if kind == "Secret":
        for field in ("data", "stringData"):
            section = body.get(field)
            if isinstance(section, Mapping):
                hits.extend(
                    SecretHit(f"{field}.{k}", "kubernetes-secret", str(v))
                    for k, v in section.items()
                    if v not in (None, "")
                )
    for path, key, value in _walk(body, ""):
        if path.startswith(("data.", "stringData.")) and kind == "Secret":
            continue
        if path.startswith("metadata.") and not path.startswith("metadata.annotations"):
            continue
        secret_type = classify(key, value)
        if secret_type:
            hits.append(SecretHit(path, secret_type, value))
    return hits


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every occurrence of a secret value with its fingerprint."""
    for value in sorted(set(secrets), key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, f"[REDACTED {fingerprint(value)}]")
    return text


def redact_value(value: str, secrets: list[str] | tuple[str, ...], sensitive: bool) -> str:
    """An evidence value safe to print: a fingerprint if sensitive or secret-like."""
    if sensitive or classify("", value) or any(s and s in value for s in secrets):
        return f"[REDACTED {fingerprint(value)}]"
    return value if len(value) <= 200 else value[:197] + "..."
