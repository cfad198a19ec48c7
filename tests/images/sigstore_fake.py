"""A private Sigstore instance for tests: CA, CT log and Rekor keys, and DSSE bundles.

Bundles are built the way Fulcio and Rekor v1 would: a short-lived leaf certificate
with an embedded SCT (RFC 6962 precertificate entry), a ``dsse`` 0.0.1 log entry with
a signed entry timestamp and a one-leaf inclusion proof with a signed checkpoint.
``sigstore`` then verifies them against :meth:`FakeSigstore.trusted_root` with no
network. Nothing here is used outside the tests.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
START = "2020-01-01T00:00:00Z"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(_spki(key)),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": START},
        },
        "logId": {"keyId": _b64(hashlib.sha256(_spki(key)).digest())},
    }


class FakeSigstore:
    """One test CA, one CT log and one Rekor log, each with a fresh P-256 key."""

    def __init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ledgergate-test"),
                x509.NameAttribute(NameOID.COMMON_NAME, "test-fulcio"),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.rekor_id = hashlib.sha256(_spki(self.rekor_key)).digest()
        self.ct_id = hashlib.sha256(_spki(self.ct_key)).digest()

    def trusted_root(self) -> dict[str, Any]:
        """``trusted_root.json`` for this instance."""
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [_log(self.rekor_key, "https://rekor.test")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "ledgergate-test", "commonName": "test-fulcio"},
                    "uri": "https://fulcio.test",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": _b64(self.ca.public_bytes(serialization.Encoding.DER))}
                        ]
                    },
                    "validFor": {"start": START},
                }
            ],
            "ctlogs": [_log(self.ct_key, "https://ctfe.test")],
            "timestampAuthorities": [],
        }

    def _leaf(
        self, key: ec.EllipticCurvePrivateKey, identity: str, issuer: str, now: dt.datetime
    ) -> x509.Certificate:
        san: x509.GeneralName = (
            x509.RFC822Name(identity) if "@" in identity and "/" not in identity
            else x509.UniformResourceIdentifier(identity)
        )  # fmt: skip
        utf8 = issuer.encode()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(minutes=10))
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.UnrecognizedExtension(ISSUER_V1, utf8), critical=False)
            .add_extension(
                x509.UnrecognizedExtension(ISSUER_V2, b"\x0c" + _der_length(len(utf8)) + utf8),
                critical=False,
            )
        )
        # The SCT signs the TBS *without* the SCT list; build once, sign, then add it last.
        tbs = builder.sign(self.ca_key, hashes.SHA256()).tbs_certificate_bytes
        millis = int(now.timestamp() * 1000)
        issuer_hash = hashlib.sha256(_spki(self.ca_key)).digest()
        signed = struct.pack("!BBQH", 0, 0, millis, 1) + issuer_hash
        signed += len(tbs).to_bytes(3, "big") + tbs + struct.pack("!H", 0)
        signature = _sign(self.ct_key, signed)
        sct = struct.pack("!B32sQH", 0, self.ct_id, millis, 0)
        sct += struct.pack("!BBH", 4, 3, len(signature)) + signature
        sct_list = struct.pack("!HH", len(sct) + 2, len(sct)) + sct
        value = b"\x04" + _der_length(len(sct_list)) + sct_list
        builder = builder.add_extension(x509.UnrecognizedExtension(SCT_LIST, value), False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def dsse_bundle(
        self,
        statement: dict[str, Any],
        *,
        identity: str,
        issuer: str,
        payload_type: str = "application/vnd.in-toto+json",
    ) -> bytes:
        """A v0.3 bundle with a DSSE envelope over ``statement``, logged in our Rekor."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = self._leaf(key, identity, issuer, now)
        payload = json.dumps(statement, separators=(",", ":")).encode()
        pae = b"DSSEv1 %d %s %d %s" % (
            len(payload_type),
            payload_type.encode(),
            len(payload),
            payload,
        )
        signature = _sign(key, pae)
        envelope = {
            "payload": _b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": _b64(signature), "keyid": ""}],
        }
        body = rfc8785.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [
                        {
                            "signature": _b64(signature),
                            "verifier": _b64(leaf.public_bytes(serialization.Encoding.PEM)),
                        }
                    ],
                },
            }
        )
        integrated = int(now.timestamp())
        promise = rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated,
                "logID": self.rekor_id.hex(),
                "logIndex": 0,
            }
        )
        root = hashlib.sha256(b"\x00" + body).digest()
        note = f"rekor.test - 1\n1\n{_b64(root)}\n"
        note_sig = _b64(self.rekor_id[:4] + _sign(self.rekor_key, note.encode()))
        checkpoint = f"{note}\n\u2014 rekor.test {note_sig}\n"
        bundle = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(leaf.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [
                    {
                        "logIndex": "0",
                        "logId": {"keyId": _b64(self.rekor_id)},
                        "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                        "integratedTime": str(integrated),
                        "inclusionPromise": {
                            "signedEntryTimestamp": _b64(_sign(self.rekor_key, promise))
                        },
                        "inclusionProof": {
                            "logIndex": "0",
                            "rootHash": _b64(root),
                            "treeSize": "1",
                            "hashes": [],
                            "checkpoint": {"envelope": checkpoint},
                        },
                        "canonicalizedBody": _b64(body),
                    }
                ],
            },
            "dsseEnvelope": envelope,
        }
        return json.dumps(bundle).encode()


def cosign_statement(digest: str) -> dict[str, Any]:
    """The in-toto statement ``cosign sign`` (v3, bundle format) signs for an image."""
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }
