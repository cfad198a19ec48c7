"""Sign with a key held in a PKCS#11 token (an HSM), named by an RFC 7512 URI.

Key types: ECDSA P-256 (SHA-256) and P-384 (SHA-384), and RSA of 2048 bits or more
(PKCS#1 v1.5 with SHA-256, ``CKM_SHA256_RSA_PKCS``: deterministic, so a bundle signed
twice is byte-identical), the same algorithms :mod:`signing` verifies with.

``pkcs11:token=ledgergate;object=evidence-signer?module-path=/usr/lib/softhsm/libsofthsm2.so``
The private key never leaves the token. The PIN comes from the URI's ``pin-source``
(a file) or ``LEDGERGATE_PKCS11_PIN``, never from ``pin-value``: a PIN on a command
line leaks into process lists and shell history.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from scanner.errors import ConfigError, SignatureError

SCHEME = "pkcs11:"
PIN_ENV = "LEDGERGATE_PKCS11_PIN"
MODULE_ENV = "LEDGERGATE_PKCS11_MODULE"
_PATH_ATTRS = {"token", "object", "id", "serial", "manufacturer", "model", "type"}
_QUERY_ATTRS = {"module-path", "module-name", "pin-source", "pin-value"}


@dataclass(frozen=True)
class Pkcs11Uri:
    """The parts of an RFC 7512 URI this signer uses."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    key_id: bytes | None = None

    @classmethod
    def parse(cls, uri: str) -> Pkcs11Uri:
        """Parse ``pkcs11:path?query``; ConfigError on unknown or missing attributes."""
        if not uri.startswith(SCHEME):
            raise ConfigError(f"not a PKCS#11 URI: {uri!r}")
        body, _, query = uri[len(SCHEME) :].partition("?")
        path = _attrs(body, ";", _PATH_ATTRS, "path")
        params = _attrs(query, "&", _QUERY_ATTRS, "query")
        if "pin-value" in params:
            raise ConfigError(
                "PKCS#11 URI: pin-value is refused (a PIN on the command line leaks); use "
                f"pin-source=file:PATH or {PIN_ENV}"
            )
        if "token" not in path and "serial" not in path:
            raise ConfigError("PKCS#11 URI must name the token (token=LABEL or serial=...)")
        if "object" not in path and "id" not in path:
            raise ConfigError("PKCS#11 URI must name the key (object=LABEL or id=...)")
        raw_id = body_attr(body, "id")
        return cls(path, params, unquote_to_bytes(raw_id) if raw_id is not None else None)

    def module(self) -> str:
        """The PKCS#11 module to load."""
        found = self.query.get("module-path") or os.environ.get(MODULE_ENV, "")
        if not found:
            raise ConfigError(f"PKCS#11 URI needs module-path=... (or set {MODULE_ENV})")
        return found

    def pin(self) -> str | None:
        """The user PIN from ``pin-source`` or the environment (None: no login)."""
        source = self.query.get("pin-source")
        if source:
            path = Path(source[len("file:") :] if source.startswith("file:") else source)
            try:
                return path.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"PKCS#11 pin-source {path}: {exc.strerror}") from exc
        return os.environ.get(PIN_ENV) or None


def body_attr(body: str, name: str) -> str | None:
    """The raw (still percent-encoded) value of one path attribute."""
    for part in body.split(";"):
        key, sep, value = part.partition("=")
        if sep and key == name:
            return value
    return None


def _attrs(text: str, sep: str, known: set[str], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, text.split(sep)):
        key, eq, value = part.partition("=")
        if not eq or key not in known:
            raise ConfigError(f"PKCS#11 URI: unknown {where} attribute {part!r}")
        out[key] = unquote(value)
    return out


class Pkcs11Key:
    """An ECDSA or RSA private key in a token, usable where a PEM key would be."""

    def __init__(self, uri: str) -> None:
        self.uri = Pkcs11Uri.parse(uri)
        try:
            import pkcs11
        except ImportError as exc:  # pragma: no cover - a runtime dependency
            raise ConfigError(f"python-pkcs11 is not installed: {exc}") from exc
        self._pkcs11 = pkcs11
        try:
            self._lib = pkcs11.lib(self.uri.module())
        except (RuntimeError, OSError, pkcs11.PKCS11Error) as exc:
            raise ConfigError(f"cannot load PKCS#11 module {self.uri.module()}: {exc}") from exc
        self._public = self._with_session(self._read_public)

    def _with_session(self, action: Any) -> Any:
        pkcs11 = self._pkcs11
        path = self.uri.path
        try:
            token = self._lib.get_token(
                token_label=path.get("token"), token_serial=_serial(path.get("serial"))
            )
            with token.open(user_pin=self.uri.pin()) as session:
                return action(session)
        except (pkcs11.PKCS11Error, RuntimeError) as exc:
            name = type(exc).__name__
            raise ConfigError(f"PKCS#11 token {path.get('token', '')!r}: {name} {exc}") from exc

    def _find(self, session: Any, object_class: Any) -> Any:
        pkcs11 = self._pkcs11
        query: dict[Any, Any] = {pkcs11.Attribute.CLASS: object_class}
        if "object" in self.uri.path:
            query[pkcs11.Attribute.LABEL] = self.uri.path["object"]
        if self.uri.key_id is not None:
            query[pkcs11.Attribute.ID] = self.uri.key_id
        found = list(session.get_objects(query))
        if len(found) != 1:
            what = "private" if object_class == pkcs11.ObjectClass.PRIVATE_KEY else "public"
            raise ConfigError(
                f"PKCS#11: {len(found)} {what} keys match {dict(self.uri.path)} (need exactly 1)"
            )
        return found[0]

    def _read_public(self, session: Any) -> Any:
        from cryptography.hazmat.primitives import serialization

        from scanner.evidence.signing import SUPPORTED, supported

        public = self._find(session, self._pkcs11.ObjectClass.PUBLIC_KEY)
        key_type = public[self._pkcs11.Attribute.KEY_TYPE]
        if key_type == self._pkcs11.KeyType.RSA:
            from cryptography.hazmat.primitives.asymmetric import rsa

            attr = self._pkcs11.Attribute
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(public[attr.PUBLIC_EXPONENT]), int.from_bytes(public[attr.MODULUS])
            )
            key: Any = numbers.public_key()
        elif key_type == self._pkcs11.KeyType.EC:
            from pkcs11.util.ec import encode_ec_public_key

            key = serialization.load_der_public_key(encode_ec_public_key(public))
        else:
            raise ConfigError(f"PKCS#11 key type {key_type} not supported (use {SUPPORTED})")
        if not supported(key):
            raise ConfigError(f"PKCS#11 key not supported (use {SUPPORTED})")
        return key

    def public_key(self) -> Any:
        """The public half (a ``cryptography`` EC or RSA public key)."""
        return self._public

    def sign_message(self, message: bytes) -> bytes:
        """A signature made inside the token, encoded as ``cryptography``'s would be."""
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(self._public, ec.EllipticCurvePublicKey):
            return self._sign_rsa(message)
        return self._sign_ecdsa(message)

    def _sign_rsa(self, message: bytes) -> bytes:
        mechanism = self._pkcs11.Mechanism.SHA256_RSA_PKCS  # PKCS#1 v1.5, hashed in the token

        def sign(session: Any) -> bytes:
            private = self._find(session, self._pkcs11.ObjectClass.PRIVATE_KEY)
            return bytes(private.sign(message, mechanism=mechanism))

        raw: bytes = self._with_session(sign)
        if len(raw) != self._public.key_size // 8:
            raise SignatureError(f"PKCS#11 returned a {len(raw)}-byte RSA signature")
        return raw

    def _sign_ecdsa(self, message: bytes) -> bytes:
        """ECDSA over the curve's hash; the token returns r||s, re-encoded as DER."""
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        size = (self._public.curve.key_size + 7) // 8
        algorithm = hashlib.sha384 if size == 48 else hashlib.sha256
        digest = algorithm(message).digest()  # CKM_ECDSA signs a digest; all tokens have it

        def sign(session: Any) -> bytes:
            private = self._find(session, self._pkcs11.ObjectClass.PRIVATE_KEY)
            return bytes(private.sign(digest, mechanism=self._pkcs11.Mechanism.ECDSA))

        raw: bytes = self._with_session(sign)
        if len(raw) != 2 * size:
            raise SignatureError(
                f"PKCS#11 returned a {len(raw)}-byte ECDSA signature, not {2 * size}"
            )
        return encode_dss_signature(int.from_bytes(raw[:size]), int.from_bytes(raw[size:]))


def _serial(value: str | None) -> bytes | None:
    return value.encode() if value else None
