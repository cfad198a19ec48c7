"""Find secret-looking values and make sure none of them ever reaches an output.

Detection uses known token formats first, then key names plus entropy. Every value
it finds is replaced by a fingerprint (``sha256:<12 hex>``) wherever it would
otherwise appear: messages, evidence, reports.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from scanner.credentials import (
    NOT_A_SECRET_VALUE,
    SECRET_STORE_REFERENCE,
    is_allowed_name,
    is_credential_name,
    is_identity_name,
    is_literal,
    is_placeholder,
    is_placeholder_data,
)

#: A PEM private-key header, whatever the number of dashes or the spacing.
PEM_PRIVATE_KEY = re.compile(
    r"(?i:-{2,}\s*BEGIN\s+(?:[A-Z0-9]+\s+){0,3}PRIVATE\s+KEY(?:\s+BLOCK)?\s*-{2,})"
)
#: Known credential formats: (type, pattern).
TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private-key", PEM_PRIVATE_KEY),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("slack-token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("stripe-key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("azure-storage-key", re.compile(r"AccountKey=[A-Za-z0-9+/]{40,}={0,2}")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    # ``Authorization: Basic ...`` in args, curl headers, Traefik customRequestHeaders
    (
        "authorization-header",
        re.compile(
            r"(?i:(?:authorization[\"']?\s*[:=]\s*[\"']?|^\s*)(?:basic|bearer)\s+)"
            r"([A-Za-z0-9+/=._~-]{6,})"
        ),
    ),
)
#: ``scheme://[user]:password@host``; the password runs to the last ``@`` before the host.
DSN = re.compile(r"\b[a-z][a-z0-9+.-]*://([^\s:/@]*):(\S{1,256})@[^\s@/?#]+", re.IGNORECASE)
#: A base64-encoded PEM block (``LS0tLS1CRUdJTi...`` is ``-----BEGIN``).
BASE64_PEM = re.compile(r"(?:LS0t|LS1C)[A-Za-z0-9+/=\r\n]{20,}")
#: Redis ACL rules carry passwords after ``>``: ``user app on >s3cret ~* +@all``.
REDIS_ACL = re.compile(r"(?:^|\n)[ \t]*user[ \t]+\S+[ \t]+(?:[^\n]*?[ \t])?>(\S+)", re.IGNORECASE)
REDIS_ACL_RULE = re.compile(r"(?:^|\s)>(\S+)")
#: Space-separated secret directives in embedded config files (redis.conf).
DIRECTIVE = re.compile(
    r"(?m)^[ \t]*(requirepass|masterauth|masterpass|tls-key-file-pass|tls-client-key-file-pass)"
    r"[ \t]+[\"']?([^\s\"']+)",
    re.IGNORECASE,
)

#: One pass over a value finds whether any known format is present at all.
_ANY_TOKEN = re.compile("|".join(f"(?:{p.pattern})" for _, p in TOKEN_PATTERNS))

#: Names that are sensitive by convention but hold settings as often as secrets
#: (``REDIS_AUTH`` vs ``AUTH_METHOD``): judged by name *and* entropy.
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
#: ``password=...`` / ``--db-password=...`` / ``pwd=...`` / ``token: ...`` inside free text.
ASSIGNMENT = re.compile(
    r"(?:^|[\s;&|\"'({,])-{0,2}"
    # Bounded name parts keep the scan linear on huge single-token values.
    r"([A-Za-z0-9_.-]{0,40}(?:pass(?:word|wd)?|secret|token|api[_-]?key|credential|pwd|_pw)"
    r"[A-Za-z0-9_.-]{0,40})"
    r"[ \t]{0,8}(?:=|:[ \t])[ \t]{0,8}[\"']?([^\s\"';&|,)}]{1,512})",
    re.IGNORECASE,
)
#: ``--password VALUE`` (space-separated) inside a shell command line.
FLAG_VALUE = re.compile(
    r"(?:^|\s)(--?[A-Za-z0-9_.-]{0,40}(?:password|passwd|pwd|secret|token|api-?key)"
    r"[A-Za-z0-9_.-]{0,20})[ \t]+[\"']?([^\s\"';&|-][^\s\"';&|]{0,511})",
    re.IGNORECASE,
)
#: A command-line flag whose *next* argument is the secret (``["--password", "s3cr3t"]``).
SECRET_FLAG = re.compile(
    r"^-{1,2}[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key)$", re.IGNORECASE
)
#: ``-p VALUE``: the password flag of mysql/mariadb clients (a number is a port).
SHORT_PASSWORD_FLAG = "-p"
_PORT_LIKE = re.compile(r"^[\d:./-]+$")
#: Annotations that embed a whole object as JSON (``kubectl apply`` keeps the applied manifest).
EMBEDDED_OBJECT_KEYS = ("last-applied-configuration",)
#: Paths under which a kind holds ciphertext or references, never plaintext.
CIPHERTEXT_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "SealedSecret": ("spec.encryptedData.",),
}
#: A label already produced by :func:`fingerprint` (keyed HMAC, or type and length).
FINGERPRINT = re.compile(r"^(?:hmac-sha256:[0-9a-f]{16}|[a-z0-9-]+ len=\d+)$")
FINGERPRINT_KEY_ENV = "LEDGERGATE_FINGERPRINT_KEY"
MIN_SECRET_LENGTH = 8
MIN_ENTROPY_BITS = 3.0
MAX_EMBEDDED_DEPTH = 3
PUBLIC_CERTIFICATE = "public-certificate"


@dataclass(frozen=True)
class SecretHit:
    """A secret-looking value at a field path. ``value`` must never be written out.

    ``forms`` are further spellings of the same secret that outputs must hide too: the
    decoded value of a Secret's base64 ``data``, the password inside a DSN, the
    ``user:password`` inside a Basic authorization header.
    """

    path: str
    kind: str
    value: str
    forms: tuple[str, ...] = ()

    def spellings(self) -> tuple[str, ...]:
        """The value and every further form, without empty strings."""
        return tuple(s for s in (self.value, *self.forms) if s)


_KEY: list[bytes | None] = []


def set_fingerprint_key(key: bytes | None) -> None:
    """Use ``key`` for fingerprints (from ``--fingerprint-key FILE``); None: the environment."""
    _KEY.clear()
    if key is not None:
        _KEY.append(key)


def fingerprint_key() -> bytes | None:
    """The organisation key: set on the command line, else ``LEDGERGATE_FINGERPRINT_KEY``."""
    if _KEY:
        return _KEY[0]
    env = os.environ.get(FINGERPRINT_KEY_ENV, "")
    return env.encode("utf-8") if env else None


def fingerprint(value: str, kind: str = "secret") -> str:
    """A stable label for a secret value that cannot be reversed by a dictionary.

    With an organisation key: HMAC-SHA256 under that key (the same secret gets the same
    label in every run and every rule, so findings can be tracked). Without one, only the
    detector type and the length: an unsalted hash of a weak password is recovered by
    hashing a word list.
    """
    key = fingerprint_key()
    data = value.encode("utf-8", "surrogatepass")
    if key:
        return "hmac-sha256:" + hmac.new(key, data, hashlib.sha256).hexdigest()[:16]
    return f"{kind} len={len(value)}"


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@lru_cache(maxsize=65536)
def _credential_name(key: str) -> bool:
    return is_credential_name(key)


def _b64_text(value: str) -> str | None:
    """The UTF-8 text a base64 value decodes to, if it does."""
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _token(value: str) -> tuple[str, tuple[str, ...]] | None:
    """A known credential format in the value: (type, further spellings)."""
    if _ANY_TOKEN.search(value):
        for kind, pattern in TOKEN_PATTERNS:
            match = pattern.search(value)
            if match is None:
                continue
            forms = tuple(g for g in match.groups() if g)
            if kind == "authorization-header":
                texts = [t for t in (_b64_text(f) for f in forms) if t]
                forms += tuple(texts) + tuple(t.split(":", 1)[1] for t in texts if ":" in t)
            return kind, forms
    for match in BASE64_PEM.finditer(value):
        decoded = _b64_text(match.group(0))
        if decoded and PEM_PRIVATE_KEY.search(decoded):
            return "private-key", (match.group(0), decoded)
    return None


def _dsn_passwords(text: str) -> list[str]:
    """The literal passwords of every ``scheme://user:password@host`` in the text."""
    found = []
    for match in DSN.finditer(text):
        password = match.group(2)
        if not is_placeholder(password) and not is_placeholder(unquote(password)):
            found.append(password)
    return found


#: Every value-only format in one pass: a known token, a base64 PEM block, a DSN.
_ANY_FORMAT = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (_ANY_TOKEN, BASE64_PEM, DSN)), re.IGNORECASE
)


@lru_cache(maxsize=65536)
def _key_may_hold(key: str) -> bool:
    """Whether the key alone can make a value a secret (credential, Redis ``user`` or merely
    sensitive name); most keys (``image``, ``name``, ``description``) cannot."""
    if key.lower() == "user" or _credential_name(key):
        return True
    return (
        not is_allowed_name(key)
        and SENSITIVE_KEY.search(key) is not None
        and not REFERENCE_KEY.search(key)
    )


def detect(key: str, value: str) -> tuple[str, tuple[str, ...]] | None:
    """The secret type of a whole value (or None) and further spellings of the secret.

    Known formats first; then a DSN password; then a credential name with any literal
    value; then a merely sensitive name (``REDIS_AUTH``) with a high-entropy value.
    A value with no known format under a key that cannot hold one costs one regex pass.
    """
    if not _key_may_hold(key) and not _ANY_FORMAT.search(value):
        return None
    stripped = value.strip()
    if not stripped:
        return None
    token = _token(value)
    if token:
        return token
    passwords = _dsn_passwords(value)
    if passwords:
        return "dsn-password", tuple(passwords) + tuple(unquote(p) for p in passwords)
    if DSN.search(value):
        return None  # a DSN whose password is a ``$(VAR)`` reference is configuration
    if key.lower() == "user":
        acl = [m.group(1) for m in REDIS_ACL_RULE.finditer(value)]
        if acl:
            return "redis-acl-password", tuple(acl)
    if is_placeholder(stripped) or NOT_A_SECRET_VALUE.match(stripped):
        return None
    if _credential_name(key):
        return ("credential-literal", ()) if is_literal(key, stripped) else None
    if is_allowed_name(key):
        return None
    if (
        SENSITIVE_KEY.search(key)
        and not REFERENCE_KEY.search(key)
        and len(stripped) >= MIN_SECRET_LENGTH
        and entropy(stripped) >= MIN_ENTROPY_BITS
    ):
        return "high-entropy-credential", ()
    return None


def classify(key: str, value: str) -> str | None:
    """The secret type of a value (or None), judged by format, then by key name."""
    found = detect(key, value)
    return found[0] if found else None


#: Cheap pre-check: text without any of these words holds no secret assignment.
_ASSIGNMENT_HINT = re.compile(r"pass|secret|token|api.?key|credential|pwd|_pw|user|auth", re.I)


def assignments(text: str) -> Iterator[tuple[str, str]]:
    """(key, value) for every credential assigned inside free text (args, config files).

    ``password=...``, ``--password VALUE``, ``requirepass VALUE``, Redis ACL ``>password``
    and DSN passwords.
    """
    if not _ASSIGNMENT_HINT.search(text):
        return
    for pattern in (ASSIGNMENT, FLAG_VALUE, DIRECTIVE):
        for match in pattern.finditer(text):
            key, value = match.group(1), match.group(2)
            if pattern is DIRECTIVE or _credential_name(key):
                # ``token=token=...`` is a run of names, not a value
                nested = ASSIGNMENT.match(value)
                if is_literal("password", value) and not _PORT_LIKE.match(value) and not nested:
                    yield key, value
            elif classify(key, value) == "high-entropy-credential":
                yield key, value
    for match in REDIS_ACL.finditer(text):
        yield "user", match.group(1)


def _walk(node: Any, path: str) -> list[tuple[str, str, Any]]:
    """(path, key, value) for every scalar; env entries are keyed by their ``name``.

    In a list of strings (``args``, ``command``) an element after a ``--password`` style
    flag (or mysql's ``-p``) is keyed by that flag, so ``["--password", "s3cr3t"]`` is
    judged like ``password``. Collected into one list (nested generators cost a frame
    per level for every scalar).
    """
    out: list[tuple[str, str, Any]] = []
    _collect(node, path, out)
    return out


def _collect(node: Any, path: str, out: list[tuple[str, str, Any]]) -> None:
    if isinstance(node, dict):
        if "name" in node and "value" in node and isinstance(node.get("value"), str):
            out.append((f"{path}.value", str(node["name"]), node["value"]))
            return
        for key, value in node.items():
            if not path and key == "metadata" and isinstance(value, dict):
                # names and labels hold no secrets; annotations can
                annotations = value.get("annotations")
                if annotations is not None:
                    _collect(annotations, "metadata.annotations", out)
                continue
            _collect(value, f"{path}.{key}" if path else str(key), out)
    elif isinstance(node, list):
        previous = ""
        for i, value in enumerate(node):
            if isinstance(value, str) and SECRET_FLAG.match(previous):
                out.append((f"{path}[{i}]", previous.lstrip("-"), value))
            elif (
                isinstance(value, str)
                and previous == SHORT_PASSWORD_FLAG
                and not _PORT_LIKE.match(value)
            ):
                out.append((f"{path}[{i}]", "password", value))
            else:
                _collect(value, f"{path}[{i}]", out)
            previous = value if isinstance(value, str) else ""
    elif isinstance(node, str):
        out.append((path, path.rsplit(".", 1)[-1], node))


def _embedded(key: str, value: str) -> tuple[str, Mapping[str, Any]] | None:
    """The (kind, body) of an object embedded as JSON in an annotation, if any."""
    if not key.endswith(EMBEDDED_OBJECT_KEYS) or not value.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, Mapping):
        return None
    return str(data.get("kind", "")), data


def _only_certificates(text: str) -> bool:
    """PEM certificates and nothing secret (``ca.crt``, ``tls.crt`` without its key)."""
    return "BEGIN CERTIFICATE" in text and not PEM_PRIVATE_KEY.search(text)


def _secret_data(kind: str, body: Mapping[str, Any], prefix: str) -> Iterator[SecretHit]:
    if kind != "Secret":
        return
    for field in ("data", "stringData"):
        section = body.get(field)
        if isinstance(section, Mapping):
            for k, v in section.items():
                if v in (None, ""):
                    continue
                value = str(v)
                decoded = _b64_text(value) if field == "data" else None
                plain = decoded if decoded is not None else value
                if SECRET_STORE_REFERENCE.match(plain.strip()):
                    continue  # the address of a credential in a store, written at deploy time
                if is_placeholder_data(plain) or is_identity_name(str(k)):
                    continue  # no credential yet, or who logs in rather than how
                secret_type = (
                    PUBLIC_CERTIFICATE if _only_certificates(plain) else "kubernetes-secret"
                )
                forms = (decoded,) if decoded else ()
                yield SecretHit(f"{prefix}{field}.{k}", secret_type, value, forms)


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
        if not isinstance(value, str) or not value.strip():
            continue
        embedded = _embedded(key, value)
        if embedded is not None and _prefix.count(":") < MAX_EMBEDDED_DEPTH:
            inner_kind, inner = embedded
            hits.extend(find_secrets(inner_kind, inner, f"{_prefix}{path}:"))
            continue
        hits.extend(
            SecretHit(f"{_prefix}{path}", secret_type, secret, forms)
            for secret_type, secret, forms in _judged(key, value)
        )
    return hits


@lru_cache(maxsize=1 << 16)
def _judged(key: str, value: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(type, secret, further spellings) in one value under its key, computed once per
    distinct pair: the shared corpus holds 358k scalars but only 13k distinct (key, value)
    pairs (CRD schemas, repeated env), and these regexes were most of the scan."""
    found = detect(key, value)
    if found:
        return ((found[0], value, found[1]),)
    return tuple(("assigned-credential", secret, ()) for _, secret in assignments(value))


Trie = dict[str, "Trie"]


def trie_pattern(words: Iterable[str], flags: int = 0) -> re.Pattern[str] | None:
    """One regex matching any of the words, shaped as a trie (shared prefixes once).

    Linear in the text whatever the number of words, which a plain alternation is not.
    """
    trie: Trie = {}
    for word in words:
        node = trie
        for ch in word.lower() if flags & re.IGNORECASE else word:
            node = node.setdefault(ch, {})
        node[""] = {}
    if not trie:
        return None

    def build(node: Trie) -> str:
        # a run of single-child nodes is one literal, walked without recursion: a secret
        # thousands of characters long (a PEM key) must not exhaust the stack
        run: list[str] = []
        while "" not in node and len(node) == 1:
            (ch,) = node
            run.append(re.escape(ch))
            node = node[ch]
        branches = [re.escape(ch) + build(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return "".join(run)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "".join(run) + (f"(?:{body})?" if "" in node else body)

    return re.compile(build(trie), flags)


def encodings(secret: str) -> set[str]:
    """The spellings a message expression or template can turn a secret into.

    Matched case-insensitively, so ``lowerAscii()``/``upperAscii()`` are covered too.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    b64 = base64.b64encode(raw).decode()
    return {
        secret,
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }


#: Shorter values are not scrubbed from free text (they would mangle ordinary words);
#: the fields that hold them are masked by path instead.
MIN_SCRUB_LENGTH = 4


@lru_cache(maxsize=4096)
def _scrubber(secrets: frozenset[str]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    origin: dict[str, str] = {}
    for secret in sorted(secrets, key=lambda s: (-len(s), s)):
        if len(secret) >= MIN_SCRUB_LENGTH:
            for form in encodings(secret):
                origin.setdefault(form.lower(), secret)
    return trie_pattern(origin, re.IGNORECASE), origin


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of a secret value (in any case or common encoding)."""
    pattern, origin = _scrubber(frozenset(secrets))
    if pattern is None:
        return text
    return pattern.sub(
        lambda m: f"[REDACTED {fingerprint(origin.get(m.group(0).lower(), m.group(0)))}]", text
    )


def contains_secret(text: str, secrets: Iterable[str]) -> bool:
    """Whether the text holds any of the secrets, in any case or common encoding."""
    pattern, _ = _scrubber(frozenset(secrets))
    return pattern is not None and pattern.search(text) is not None


def redact_value(value: str, secrets: Iterable[str], sensitive: bool) -> str:
    """An evidence value safe to print: a fingerprint if sensitive or secret-like.

    A value that already is a fingerprint (``facts.secretLiterals[].fingerprint``) is shown
    as is, so the same secret has the same label whichever rule reports it.
    """
    if FINGERPRINT.match(value):
        return f"[REDACTED {value}]"
    kind = classify("", value)
    if sensitive or kind or contains_secret(value, secrets):
        return f"[REDACTED {fingerprint(value, kind or 'secret')}]"
    return value if len(value) <= 200 else value[:197] + "..."


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/\s]*@", re.IGNORECASE)


def strip_userinfo(url: str) -> str:
    """A URL without ``user:password@`` (a CI clone URL carries the job token there)."""
    url = _USERINFO.sub(r"\1", url.strip())
    # scp-like ``user@host:path`` keeps a user name only, which is not a secret; but a
    # ``user:token@host:path`` spelling carries one
    return re.sub(r"^[^/@\s:]+:[^/@\s]+@", "", url)
