"""A real RFC 3161 time-stamping authority for tests: ``openssl ts -reply`` behind HTTP.

The test CA and the TSA certificate (critical extended key usage timeStamping) are
made here; requests are answered by the openssl binary, so the bytes on the wire are
a real TSA's.
"""

from __future__ import annotations

import datetime
import http.server
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.55555.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Tsa:
    """A running TSA: its URL, the CA certificate and the TSA certificate (PEM files)."""

    url: str
    ca: Path
    tsa_cert: Path
    requests: list[bytes]


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a TSA certificate it issued; returns (ca.pem, tsa.pem, tsa.key)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _cert("Ledgergate Test Root CA", ca_key, "Ledgergate Test Root CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (
        _cert("Ledgergate Test TSA", tsa_key, "Ledgergate Test Root CA", ca_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "tsa.pem").write_bytes(_pem(tsa))
    (folder / "tsa.key").write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))
    return folder / "ca.pem", folder / "tsa.pem", folder / "tsa.key"


@contextmanager
def running_tsa(folder: Path) -> Iterator[Tsa]:
    """Serve ``openssl ts -reply`` on 127.0.0.1 until the block ends."""
    ca, tsa_cert, _ = make_pki(folder)
    lock = threading.Lock()
    seen: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock, tempfile.TemporaryDirectory() as tmp:
                seen.append(body)
                query = Path(tmp) / "q.tsq"
                query.write_bytes(body)
                reply = Path(tmp) / "r.tsr"
                done = subprocess.run(
                    [
                        "openssl",
                        "ts",
                        "-reply",
                        "-config",
                        str(folder / "tsa.cnf"),
                        "-queryfile",
                        str(query),
                        "-out",
                        str(reply),
                    ],
                    capture_output=True,
                    timeout=30,
                    check=False,
                )
                data = reply.read_bytes() if done.returncode == 0 else b""
            reply_bytes(self, 200 if data else 500, data, "application/timestamp-reply")

        def log_message(self, *args: object) -> None:
            return

    with serve(Handler) as url:
        yield Tsa(f"{url}/tsa", ca, tsa_cert, seen)


def reply_bytes(
    handler: http.server.BaseHTTPRequestHandler, code: int, body: bytes, content_type: str
) -> None:
    """Send one complete HTTP answer."""
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run ``handler`` on 127.0.0.1 (a free port) until the block ends; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
