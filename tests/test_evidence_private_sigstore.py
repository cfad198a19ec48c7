"""Keyless signing uses a private Sigstore instance's trust configuration when given one.

No Fulcio runs here, so the private "Fulcio" is a local HTTP server that records the
certificate request and refuses it: the test proves the request goes to the private
instance named in the ClientTrustConfig, with the CI job's OIDC token, and that a
refusal there writes no bundle.
"""

from __future__ import annotations

import base64
import http.server
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from tests.images.sigstore_fake import FakeSigstore
from tests.tsa import reply_bytes, serve

from .conftest import FIXTURE_REPOS

ISSUER = "https://token.actions.githubusercontent.com"


def _jwt() -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": "sigstore",
        "sub": "repo:finance/odoo-gitops:ref:main",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


@pytest.fixture
def private_instance() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"GET {self.path.split('?')[0]}")
            reply_bytes(self, 200, json.dumps({"value": _jwt()}).encode(), "application/json")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(f"POST {self.path}")
            refusal = b'{"message": "private fulcio refuses in this test"}'
            reply_bytes(self, 503, refusal, "application/json")

        def log_message(self, *args: object) -> None:
            return

    with serve(Handler) as url:
        yield url, seen


def _trust_config(folder: Path, url: str) -> Path:
    service = {
        "majorApiVersion": 1,
        "validFor": {"start": "2020-01-01T00:00:00Z"},
        "operator": "finance.internal",
    }
    config = {
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": FakeSigstore().trusted_root(),
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": f"{url}/fulcio", **service}],
            "oidcUrls": [],
            "rekorTlogUrls": [{"url": f"{url}/rekor", **service}],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }
    path = folder / "private-trust-config.json"
    path.write_text(json.dumps(config))
    return path


def test_keyless_signing_goes_to_the_private_instance(
    private_instance: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = private_instance
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{url}/oidc?x=1")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token")
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    bundle = tmp_path / "b"
    args = [
        "scan",
        "repo",
        str(repo),
        "--evidence",
        str(bundle),
        "--sign-sigstore",
        "--sigstore-trust-config",
        str(_trust_config(tmp_path, url)),
    ]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 2, done.output
    assert "Sigstore signing failed" in done.output
    assert "GET /oidc" in seen
    assert "POST /api/v2/signingCert" in seen, seen  # Fulcio v2 API of the private host
    assert not bundle.exists()


def test_a_malformed_trust_config_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    bad = tmp_path / "bad.json"
    bad.write_text('{"mediaType": "nope"}')
    args = [
        "scan",
        "repo",
        str(repo),
        "--evidence",
        str(tmp_path / "b"),
        "--sign-sigstore",
        "--sigstore-trust-config",
        str(bad),
    ]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 2 and "not a Sigstore client trust configuration" in done.output
    alone = CliRunner().invoke(
        cli, ["scan", "repo", str(repo), "--sigstore-trust-config", str(bad)]
    )
    assert alone.exit_code == 2 and "needs --sign-sigstore" in alone.output


def test_keyless_signing_in_a_pod_reads_the_projected_token_file(
    private_instance: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly keyless overlay mounts a ServiceAccount token and names it in the env."""
    url, seen = private_instance
    for name in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "GITLAB_CI", "BUILDKITE"):
        monkeypatch.delenv(name, raising=False)
    token = tmp_path / "token"
    token.write_text(_jwt() + "\n")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN_FILE", str(token))
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-compliant", repo)
    bundle = tmp_path / "b"
    config = _trust_config(tmp_path, url)
    args = ["scan", "repo", str(repo), "--evidence", str(bundle), "--sign-sigstore"]
    done = CliRunner().invoke(cli, [*args, "--sigstore-trust-config", str(config)])
    assert done.exit_code == 2, done.output
    assert "Sigstore signing failed" in done.output
    assert "GET /oidc" not in seen  # no CI detection: the file's token was used
    assert "POST /api/v2/signingCert" in seen, seen
    assert _jwt().split(".")[1] not in done.output
    assert not bundle.exists()

    token.write_text("")
    done = CliRunner().invoke(cli, [*args, "--sigstore-trust-config", str(config)])
    assert done.exit_code == 2 and "the token file is empty" in done.output, done.output
