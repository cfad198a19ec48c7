"""Which names hold a credential, and which values are literals rather than references.

A key whose name says credential (password, token, secret, api key, ``*_key`` ...) holds
a credential whenever its value is a non-empty literal, whatever its length or entropy:
weak passwords are the ones a dictionary recovers first. Names that point at a
credential (``*_FILE``, ``*_NAME``, ``*Ref``) and a short allow-list of well-known
settings that merely contain a credential word are not credentials.
"""

from __future__ import annotations

import itertools
import re

#: Words that make a name a credential on their own.
CREDENTIAL_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "pw",
        "pass",
        "secret",
        "token",
        "credential",
        "credentials",
        "apikey",
        "privatekey",
        "accesskey",
        "secretkey",
        "keycontent",
    }
)
#: Word pairs that make a credential (``api_key``, ``private-key``, ``accessKey``).
CREDENTIAL_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("key", "content")}
)
#: Last words that make a name point at a credential or describe how one is handled.
POINTER_WORDS = frozenset(
    {
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "name",
        "names",
        "ref",
        "refs",
        "keyref",
        "id",
        "ids",
        "url",
        "uri",
        "endpoint",
        "store",
        "provider",
        "class",
        "selector",
        "encryption",
        "method",
        "policy",
        "type",
        "mode",
        "algorithm",
        "length",
        "age",
        "ttl",
        "rotation",
        "enabled",
        "required",
        "expiration",
        "expiry",
        "expires",
        "timeout",
        "interval",
        "duration",
        "seconds",
        "size",
        "count",
        "format",
        "header",
        "prefix",
        "command",
        "cmd",
        "hash",
        "hashing",
        "source",
        "location",
        "audience",
        "issuer",
        "lifetime",
        "strategy",
        "key",  # ``secretKey``/``tokenKey``: the *name* of a key inside a Secret
        "keys",
        "field",
        "version",
    }
)
#: Well-known settings whose names contain a credential word but hold identifiers.
ALLOWED_NAMES = frozenset(
    {
        "initialclustertoken",  # etcd --initial-cluster-token: a cluster id, not a secret
        "etcdinitialclustertoken",
        "automountserviceaccounttoken",
        "serviceaccounttoken",  # projected volume source (a map in Kubernetes)
        "tokenreviewendpoint",
        "passcredentials",  # Flux HelmRepository: a switch
        "existingsecret",  # Helm charts: the name of an existing Secret
        "existingpasswordsecret",
        "usepassword",
        "authpassthrough",
    }
)
#: First words that make a name describe a digest of the object it names: Helm charts'
#: ``checksum/secret`` pod annotations hold the sha256 of a rendered Secret, not a secret.
DIGEST_WORDS = frozenset({"checksum", "sha256sum", "digest"})
#: ``<owner>Key`` names that hold a key in any spelling.
_KEY_OWNERS = frozenset({"api", "private", "access", "signing", "master", "client", "license"})
_COMPOUND_ENDS = ("password", "passwd", "secret", "token", "apikey", "passphrase")
_NOT_PASS = frozenset({"bypass", "compass", "surpass", "overpass", "underpass", "trespass"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")

#: Values that are clearly references, templates or placeholders, not secrets.
PLACEHOLDER = re.compile(
    r"^(\$\{.*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|%\(.*\)s|<.*>|\{\{.*\}\}|\[\[.*\]\]|"
    r"change[-_ ]?me|changeit|replace[-_ ]?me|todo|tbd|placeholder|redacted|"
    r"your[-_ ].*|\[?redacted.*|"
    r"false|true|yes|no|on|off|none|null|nil|undefined|"
    r"x{3,}|\*+|\.{3,}|-+|_+|#+|0+|)$",
    re.IGNORECASE | re.DOTALL,
)
#: References to a secret store (1Password ``op://``, Vault, vals ``ref+``, cloud managers,
#: SOPS): a Secret whose value is one holds the address of a credential, not the credential
#: (``op inject`` or the store's operator writes the value at deploy time).
_STORE_REFERENCE = (
    r"vault:|ref\+|arn:aws:secretsmanager:|secret(s)?manager://|awssm://|gcpsm://|azkv://|"
    r"op://[^\s/]+/[^\s/]+/\S+$|sops:|ENC\["
)
SECRET_STORE_REFERENCE = re.compile(rf"^(?:{_STORE_REFERENCE})", re.IGNORECASE)
#: Values that are file paths, plain URLs, references to secret stores, or one-way password
#: hashes in modular crypt format (what Odoo, htpasswd and /etc/shadow store).
NOT_A_SECRET_VALUE = re.compile(
    rf"^(/|\./|\.\./|~/|file:|https?://[^@\s]*$|{_STORE_REFERENCE}|op://|"
    r"\$(?:pbkdf2-sha(?:256|512)|argon2(?:id|i|d)|2[aby]|[56]|scrypt)\$)",
    re.IGNORECASE,
)
#: A Kubernetes object name: ``fooSecret: odoo-db`` names a Secret, it does not hold one.
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
#: A short decimal number under a credential name is a setting (``token_limit: "100"``).
_SHORT_NUMBER = re.compile(r"^\d{1,5}$")


def words(name: str) -> list[str]:
    """A key split into lower-case words at separators and camelCase boundaries."""
    return [w.lower() for part in _SEPARATORS.split(name) for w in _CAMEL.split(part) if w]


def is_allowed_name(name: str) -> bool:
    """A well-known setting that holds an identifier despite its name (:data:`ALLOWED_NAMES`),
    or a digest of the object it names (:data:`DIGEST_WORDS`)."""
    parts = words(name)
    return "".join(parts) in ALLOWED_NAMES or bool(parts and parts[0] in DIGEST_WORDS)


def is_credential_name(name: str) -> bool:
    """True when the name says it holds a credential (not points at or configures one)."""
    parts = words(name)
    if not parts or is_allowed_name(name):
        return False
    last = parts[-1]
    if last == "key":
        # ``api_key``/``apiKey``/``privateKey`` in any spelling; other ``*_key``/``*-key``
        # only with an explicit separator (``STRIPE_KEY``), since ``secretKey`` in an
        # ExternalSecret names a key inside a Secret
        owner = parts[-2] if len(parts) > 1 else ""
        return owner in _KEY_OWNERS or bool(re.search(r"[_-]key$", name, re.IGNORECASE))
    if last in POINTER_WORDS:
        return False
    if any(p in CREDENTIAL_WORDS or _compound(p) for p in parts):
        return True
    return any(pair in CREDENTIAL_PAIRS for pair in itertools.pairwise(parts))


def _compound(word: str) -> bool:
    """``requirepass``, ``pgpassword``, ``authtoken``: a credential word at a word's end."""
    if word.endswith(_COMPOUND_ENDS):
        return True
    return word.endswith("pass") and word not in _NOT_PASS


def is_placeholder(value: str) -> bool:
    """A reference, template or obvious placeholder (``$(VAR)``, ``{{ x }}``, ``changeme``)."""
    stripped = value.strip().strip("'\"")
    return (
        bool(PLACEHOLDER.match(stripped))
        or stripped.startswith("$")
        or "{{" in stripped
        or "${" in stripped
    )


#: Last words of names that hold who logs in, not how: a user name authenticates nobody.
_IDENTITY_ENDS = ("user", "username", "login", "loginname")
#: ``$NAME`` is a reference in an env value, but in a Secret it may be a password's start.
_BARE_VARIABLE = re.compile(r"^\$[A-Za-z_][A-Za-z0-9_]*$")


def is_identity_name(name: str) -> bool:
    """True when the name says it holds a user name (``username``, ``POSTGRES_USER``)."""
    return "".join(words(name)).endswith(_IDENTITY_ENDS) and not is_credential_name(name)


def is_placeholder_data(value: str) -> bool:
    """A Secret value that is an obvious placeholder or reference (``your-key-here``,
    ``<...>``, ``${VAR}``, ``changeme``): stricter than :func:`is_placeholder`, since any
    string, ``$``-led ones included, may be a password there."""
    stripped = value.strip().strip("'\"")
    return (
        bool(stripped) and bool(PLACEHOLDER.match(stripped)) and not _BARE_VARIABLE.match(stripped)
    )


def is_literal(name: str, value: str) -> bool:
    """A non-empty value that is not a reference, path, placeholder or object name."""
    stripped = value.strip().strip("'\"")
    if not stripped or is_placeholder(stripped) or NOT_A_SECRET_VALUE.match(stripped):
        return False
    if _SHORT_NUMBER.match(stripped):
        return False
    parts = words(name)
    # ``passwordSecret: odoo-db`` (Helm) names the Secret that holds the password
    return not (
        len(parts) > 1 and parts[-1] == "secret" and "-" in stripped and _K8S_NAME.match(stripped)
    )
