"""Find secret-looking values and make sure none of them ever reaches an output.

Detection uses known token formats first, then key names plus entropy. Every value
it finds is replaced by a fingerprint (``sha256:<12 hex>``) wherever it would
otherwise appear: messages, evidence, reports.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Known credential formats: (type, pattern).
TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"
        ),
    ),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("slack-token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("stripe-key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("azure-storage-key", re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
)
#: ``scheme://user:password@host``; the password group is checked against placeholders.
DSN = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s@/]{3,})@[^\s]+")

#: One pass over a value finds whether any known format is present at all.
_ANY_TOKEN = re.compile("|".join(f"(?:{p.pattern})" for _, p in TOKEN_PATTERNS))

SENSITIVE_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|"
    # ``auth`` alone is a credential (REDIS_AUTH, BASIC_AUTH); AUTH_METHOD is a setting.
    r"auth(?![_-]?(method|type|mode|url|uri|provider|enabled|issuer|realm|scheme|plugin|"
    r"mechanism|backend|source|db|database|timeout|or)))",
    re.IGNORECASE,
)
#: Keys that name or point at a secret rather than hold one (``passwordFile``, ``secretName``).
REFERENCE_KEY = re.compile(
    r"(name|names|ref|file|path|dir|secretkey|keyref"
    # settings about how secrets are handled (``password_encryption = scram-sha-256``)
    r"|encryption|method|policy|type|mode|algorithm|length|age|ttl|rotation|enabled"
    r"|url|uri|endpoint|id|store|provider|class)$",
    re.IGNORECASE,
)
#: Values that are clearly placeholders or references, not secrets.
PLACEHOLDER = re.compile(
    r"^(\$\{.*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|%\(.*\)s|<.*>|\{\{.*\}\}|"
    r"changeme|false|true|none|null|\*+|)$",
    re.IGNORECASE | re.DOTALL,
)
#: One-way password hashes (PHC / crypt formats): what a system stores instead of a password.
PASSWORD_HASH = re.compile(r"^\$(?:pbkdf2[-\w]*|2[abxy]|argon2(?:id|i|d)|scrypt|[156]|y)\$")
#: Values that are file paths or plain URLs (a ``password_file`` setting, not a password).
NOT_A_SECRET_VALUE = re.compile(r"^(/|\./|~/|https?://[^@\s]*$)")
#: ``password=...`` / ``--db-password=...`` / ``token: ...`` inside free text (args, config files).
ASSIGNMENT = re.compile(
    r"(?:^|[\s;&|\"'({,])-{0,2}"
    # Bounded name parts keep the scan linear on huge single-token values.
    r"([A-Za-z0-9_.-]{0,40}(?:pass(?:word|wd)?|secret|token|api[_-]?key|credential)"
    r"[A-Za-z0-9_.-]{0,40})"
    r"[ \t]{0,8}(?:=|:[ \t])[ \t]{0,8}[\"']?([^\s\"';&|,)}]{1,512})",
    re.IGNORECASE,
)
#: A command-line flag whose *next* argument is the secret (``["--password", "s3cr3t"]``).
SECRET_FLAG = re.compile(
    r"^-{1,2}[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key)$", re.IGNORECASE
)
#: Annotations that embed a whole object as JSON (``kubectl apply`` keeps the applied manifest).
EMBEDDED_OBJECT_KEYS = ("last-applied-configuration",)
#: Paths under which a kind holds ciphertext or references, never plaintext.
CIPHERTEXT_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "SealedSecret": ("spec.encryptedData.",),
}
FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{12}$")
MIN_SECRET_LENGTH = 8
MIN_ENTROPY_BITS = 3.0
MAX_EMBEDDED_DEPTH = 3


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


def _is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.match(value)) or "{{" in value


def classify(key: str, value: str) -> str | None:
    """The secret type of a value (or None), judged by format, then by key name and entropy."""
    if len(value) < MIN_SECRET_LENGTH:
        return None
    if _ANY_TOKEN.search(value):
        return next(kind for kind, pattern in TOKEN_PATTERNS if pattern.search(value))
    dsn = DSN.search(value)
    if dsn:
        # A DSN whose password is a ``$(VAR)`` reference is configuration, not a secret.
        return None if _is_placeholder(dsn.group(1)) else "dsn-password"
    stripped = value.strip()
    if _is_placeholder(stripped) or NOT_A_SECRET_VALUE.match(stripped):
        return None
    if PASSWORD_HASH.match(stripped):
        return None
    if (
        SENSITIVE_KEY.search(key)
        and not REFERENCE_KEY.search(key)
        and len(stripped) >= MIN_SECRET_LENGTH
        and entropy(stripped) >= MIN_ENTROPY_BITS
    ):
        return "high-entropy-credential"
    return None


#: Cheap pre-check: text without any of these words holds no secret assignment.
_ASSIGNMENT_HINT = re.compile(r"pass|secret|token|api.?key|credential", re.IGNORECASE)


def assignments(text: str) -> Iterator[tuple[str, str]]:
    """(key, value) for every ``key=value`` / ``key: value`` with a secret-like key in text."""
    if not _ASSIGNMENT_HINT.search(text):
        return
    for match in ASSIGNMENT.finditer(text):
        key, value = match.group(1), match.group(2)
        if classify(key, value) == "high-entropy-credential":
            yield key, value


def _walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every scalar; env entries are keyed by their ``name``.

    In a list of strings (``args``, ``command``) an element after a ``--password`` style
    flag is keyed by that flag, so ``["--password", "s3cr3t"]`` is judged like ``password``.
    """
    if isinstance(node, dict):
        if "name" in node and "value" in node and isinstance(node.get("value"), str):
            yield f"{path}.value", str(node["name"]), node["value"]
            return
        for key, value in node.items():
            if not path and key == "metadata" and isinstance(value, dict):
                # names and labels hold no secrets; annotations can
                annotations = value.get("annotations")
                if annotations is not None:
                    yield from _walk(annotations, "metadata.annotations")
                continue
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        previous = ""
        for i, value in enumerate(node):
            if isinstance(value, str) and SECRET_FLAG.match(previous):
                yield f"{path}[{i}]", previous.lstrip("-"), value
            else:
                yield from _walk(value, f"{path}[{i}]")
            previous = value if isinstance(value, str) else ""
    elif isinstance(node, str):
        yield path, path.rsplit(".", 1)[-1], node


def _embedded(key: str, value: str) -> tuple[str, Mapping[str, Any]] | None:
    """The (kind, body) of an object embedded as JSON in an annotation, if any."""
    if not key.endswith(EMBEDDED_OBJECT_KEYS) or not value.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, Mapping):
        return None
    return str(data.get("kind", "")), data


def _secret_data(kind: str, body: Mapping[str, Any], prefix: str) -> Iterator[SecretHit]:
    if kind != "Secret":
        return
    for field in ("data", "stringData"):
        section = body.get(field)
        if isinstance(section, Mapping):
            for k, v in section.items():
                if v not in (None, ""):
                    yield SecretHit(f"{prefix}{field}.{k}", "kubernetes-secret", str(v))


def find_secrets(kind: str, body: Mapping[str, Any], _prefix: str = "") -> list[SecretHit]:
    """Every secret-looking value in an object; all values of a Secret's data count.

    Objects embedded in ``last-applied-configuration`` annotations are searched too (a
    Secret applied with ``kubectl apply`` keeps its values there), under the path
    ``<annotation path>:<field>``.
    """
    hits = list(_secret_data(kind, body, _prefix))
    skipped = CIPHERTEXT_PREFIXES.get(kind, ())
    for path, key, value in _walk(body, ""):
        if path.startswith(("data.", "stringData.")) and kind == "Secret":
            continue
        if path.startswith(skipped):
            continue
        if path.startswith("metadata.") and not path.startswith("metadata.annotations"):
            continue
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            continue
        embedded = _embedded(key, value)
        if embedded is not None and _prefix.count(":") < MAX_EMBEDDED_DEPTH:
            inner_kind, inner = embedded
            hits.extend(find_secrets(inner_kind, inner, f"{_prefix}{path}:"))
            continue
        secret_type = classify(key, value)
        if secret_type:
            hits.append(SecretHit(f"{_prefix}{path}", secret_type, value))
            continue
        hits.extend(
            SecretHit(f"{_prefix}{path}", "assigned-credential", found)
            for _, found in assignments(value)
        )
    return hits


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every occurrence of a secret value with its fingerprint."""
    for value in sorted(set(secrets), key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, f"[REDACTED {fingerprint(value)}]")
    return text


def redact_value(value: str, secrets: list[str] | tuple[str, ...], sensitive: bool) -> str:
    """An evidence value safe to print: a fingerprint if sensitive or secret-like.

    A value that already is a fingerprint (``facts.secretLiterals[].fingerprint``) is shown
    as is, so the same secret has the same label whichever rule reports it.
    """
    if FINGERPRINT.match(value):
        return f"[REDACTED {value}]"
    if sensitive or classify("", value) or any(s and s in value for s in secrets):
        return f"[REDACTED {fingerprint(value)}]"
    return value if len(value) <= 200 else value[:197] + "..."
