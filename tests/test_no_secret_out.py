"""No secret value found in an input reaches any output, in any spelling (issue 12 §1)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner import redaction
from scanner.cli import cli
from scanner.reporters import reporter_names

FORMATS = reporter_names()


FINGERPRINT_KEY_ENV = "LEDGERGATE_FINGERPRINT_KEY"


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(FINGERPRINT_KEY_ENV, raising=False)
    redaction.set_fingerprint_key(None)
    yield
    redaction.set_fingerprint_key(None)


def scan_everything(repo: Path, out: Path, *extra: str) -> dict[str, str]:
    """Every output of one scan (each format, SARIF, JSON, the bundle) as text by name."""
    texts: dict[str, str] = {}
    for fmt in FORMATS:
        result = CliRunner().invoke(
            cli,
            ["scan", "repo", str(repo), "--format", fmt, *extra],
            catch_exceptions=False,
        )
        assert result.exit_code in (0, 1), result.output
        texts[f"stdout.{fmt}"] = result.output
    bundle = out / "bundle"
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            "repo",
            str(repo),
            "--sarif",
            str(out / "o.sarif"),
            "--json",
            str(out / "o.json"),
            "--evidence",
            str(bundle),
            *extra,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1), result.output
    texts["o.sarif"] = (out / "o.sarif").read_text()
    texts["o.json"] = (out / "o.json").read_text()
    json.loads(texts["o.json"])
    for path in sorted(bundle.rglob("*")):
        if path.is_file():  # a gzipped member (the population) is searched inflated
            data = path.read_bytes()
            data = gzip.decompress(data) if path.suffix == ".gz" else data
            texts[f"bundle/{path.name}"] = data.decode()
    return texts


def git_repo(root: Path, files: dict[str, str], remote: str | None = None) -> Path:
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", remote], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"],
        check=True,
    )
    return root


def leaks(texts: dict[str, str], secret: str) -> list[str]:
    """Output names holding the secret raw, in any case, base64- or URL-encoded."""
    from urllib.parse import quote

    forms = {secret.lower(), base64.b64encode(secret.encode()).decode().lower(), quote(secret)}
    return sorted(name for name, text in texts.items() if any(f in text.lower() for f in forms))


def test_parse_errors_name_the_line_never_its_text(tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path / "r",
        {
            "config/odoo.conf": "[options]\ndb_host = pg\ndb_password Hv5kQ9zLm2\n",
            "config/postgresql.conf": "listen_addresses = '*'\nBq7TokenXyz99\n",
            "config/traefik.toml": "[api]\nTm3TomlToken42\n",
            "noheader/odoo.conf": "admin_passwd = Nh4HeaderLess\n",
        },
    )
    texts = scan_everything(repo, tmp_path)
    for secret in ("Hv5kQ9zLm2", "Bq7TokenXyz99", "Tm3TomlToken42", "Nh4HeaderLess"):
        assert leaks(texts, secret) == [], secret
    findings = json.loads(texts["o.json"])["findings"]
    errors = {
        (f["location"]["path"], f["location"]["startLine"])
        for f in findings
        if f["ruleId"] == "input/parse-error"
    }
    assert errors == {
        ("config/odoo.conf", 3),
        ("config/postgresql.conf", 2),
        ("config/traefik.toml", 2),
        ("noheader/odoo.conf", 1),
    }


def test_remote_userinfo_is_never_recorded(tmp_path: Path) -> None:
    token = "glcbt-64_Zx9JobTokenQ"
    remote = f"https://gitlab-ci-token:{token}@gitlab.example.com/fin/estate.git"
    repo = git_repo(tmp_path / "r", {"ns.yaml": NAMESPACE}, remote=remote)
    texts = scan_everything(repo, tmp_path)
    assert leaks(texts, token) == []
    doc = json.loads(texts["o.json"])
    assert doc["target"]["remote"] == "https://gitlab.example.com/fin/estate.git"
    manifest = json.loads(texts["bundle/manifest.json"])
    assert manifest["target"]["remote"] == "https://gitlab.example.com/fin/estate.git"


NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: finance-prod}\n"
WEAK = ("hunter2", "odoo", "Summer2024!", "password1", "letmein99")


def _workload(values: tuple[str, ...]) -> str:
    env = "\n".join(
        f"        - {{name: SECRET_{i}_PASSWORD, value: {json.dumps(v)}}}"
        for i, v in enumerate(values)
    )
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker, namespace: finance-prod}}
spec:
  template:
    spec:
      containers:
      - name: worker
        image: registry.finance.internal/erp/worker@sha256:{"ab" * 32}
        env:
{env}
"""


def _secret(values: dict[str, str]) -> str:
    data = "\n".join(f"  {k}: {base64.b64encode(v.encode()).decode()}" for k, v in values.items())
    return (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: odoo-db, namespace: finance-prod}\n"
        f"data:\n{data}\n"
    )


def test_a_dictionary_attack_on_the_outputs_recovers_no_weak_password(tmp_path: Path) -> None:
    """Planted weak passwords; every output hashed against a word list recovers none."""
    repo = git_repo(
        tmp_path / "r",
        {
            "ns.yaml": NAMESPACE,
            "worker.yaml": _workload(WEAK),
            "secret.yaml": _secret({"password": "letmein99", "user": "odoo"}),
            "config/odoo.conf": "[options]\nadmin_passwd = Summer2024!\ndb_password = hunter2\n",
        },
    )
    key = tmp_path / "org.key"
    key.write_text("an organisation key held by CI, 32+ bytes long\n")
    dictionary = [*WEAK, "password", "123456", "qwerty", "admin", "secret", "changeme1"]
    for extra in ((), ("--fingerprint-key", str(key))):
        out = tmp_path / ("keyed" if extra else "plain")
        out.mkdir()
        texts = scan_everything(repo, out, *extra)
        corpus = "\n".join(texts.values()).lower()
        for word in dictionary:
            digests = {
                hashlib.sha256(word.encode()).hexdigest(),
                hashlib.sha1(word.encode()).hexdigest(),
                hashlib.md5(word.encode()).hexdigest(),
            }
            for digest in digests:
                assert digest[:8] not in corpus, (extra, word)
            if word not in ("odoo", "password", "secret", "admin"):  # common words in reports
                assert word.lower() not in corpus, (extra, word)
        assert "hmac-sha256:" in corpus if extra else "credential-literal len=" in corpus


def test_fingerprints_keyed_deterministic_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint = redaction.fingerprint
    assert fingerprint("hunter2", "credential-literal") == "credential-literal len=7"
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, "k" * 32)
    first = fingerprint("hunter2")
    assert first.startswith("hmac-sha256:") and first == fingerprint("hunter2")
    assert hashlib.sha256(b"hunter2").hexdigest()[:16] not in first
    monkeypatch.setenv(FINGERPRINT_KEY_ENV, "j" * 32)
    assert fingerprint("hunter2") != first


def test_key_file_inside_the_scanned_tree_is_refused(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r", {"ns.yaml": NAMESPACE, "org.key": "k" * 32})
    result = CliRunner().invoke(
        cli, ["scan", "repo", str(repo), "--fingerprint-key", str(repo / "org.key")]
    )
    assert result.exit_code == 2 and "inside the scanned tree" in result.output


def test_secret_equal_to_a_common_word_does_not_block_the_bundle(tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path / "r",
        {
            "ns.yaml": NAMESPACE,
            "secret.yaml": _secret({"environment": "finance-prod"})
            + "stringData:\n  region: finance-prod\n",
        },
    )
    result = CliRunner().invoke(
        cli, ["scan", "repo", str(repo), "--evidence", str(tmp_path / "b")], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    inventory = json.loads((tmp_path / "b/inventory.json").read_text())
    secret = next(r for r in inventory["resources"] if r["kind"] == "Secret")
    assert secret["body"]["data"]["environment"].startswith("[REDACTED ")
    assert secret["body"]["stringData"]["region"].startswith("[REDACTED ")
    assert {r["namespace"] for r in inventory["resources"] if r["kind"] == "Secret"} == {
        "finance-prod"
    }


def test_inventory_redacts_decoded_secret_values_and_every_detected_path(tmp_path: Path) -> None:
    applied = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"p": "WnE4"}}
    )
    dsn_password = "Rp4ss-w0rd"
    repo = git_repo(
        tmp_path / "r",
        {
            "ns.yaml": NAMESPACE,
            "secret.yaml": _secret({"password": "Dq7-decoded-pw"}),
            # the decoded value again, in clear, in a ConfigMap nobody flags by name
            "cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: finance-prod, "
                "annotations: {kubectl.kubernetes.io/last-applied-configuration: "
                f"'{applied}'}}}}\n"
                "data:\n  note: copy of Dq7-decoded-pw\n"
                f"  REDIS: redis://:{dsn_password}@redis:6379\n  DB_PW: pw\n"
            ),
        },
    )
    texts = scan_everything(repo, tmp_path)
    for secret in ("Dq7-decoded-pw", dsn_password, "WnE4"):
        assert leaks({k: v for k, v in texts.items() if k.startswith("bundle/")}, secret) == []
    inventory = json.loads(texts["bundle/inventory.json"])
    cm = next(r for r in inventory["resources"] if r["kind"] == "ConfigMap")
    assert cm["body"]["data"]["DB_PW"].startswith("[REDACTED ")


def test_scrubbing_survives_case_folding_and_encodings(tmp_path: Path) -> None:
    """A custom rule's messageExpression that transforms the secret is scrubbed anyway."""
    rule = """id: LG-TEST-910
title: leaky message
severity: high
family: secrets
controls: [{framework: soc2, id: CC6.1}, {framework: nist-800-53-r5, id: SC-28}]
match:
  resources: [{apiGroups: [""], kinds: [ConfigMap]}]
assert: "false"
message: x
messageExpression: >
  object.data.DB_PASSWORD.lowerAscii() + ' ' + object.data.DB_PASSWORD.upperAscii()
remediation: Do not quote configuration values in messages.
procedure: Read each ConfigMap; never passes (a test of message scrubbing).
"""
    secret = "Mx9-Leaky-Pw"
    repo = git_repo(
        tmp_path / "r",
        {
            "ns.yaml": NAMESPACE,
            "policies/LG-TEST-910.yaml": rule,
            "ledgergate.yaml": "rules:\n  paths: [policies]\n",
            "cm.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: finance-prod}\n"
                f"data:\n  DB_PASSWORD: {secret}\n"
            ),
        },
    )
    texts = scan_everything(repo, tmp_path)
    assert leaks(texts, secret) == []
    assert "REDACTED" in texts["o.json"]


def test_encoded_copy_in_a_bundle_file_is_refused(tmp_path: Path) -> None:
    from scanner.evidence.leaks import find_leak

    secret = "Zq8#vLr2!pT9wXe4"
    for form in (
        secret.lower(),
        base64.b64encode(secret.encode()).decode(),
        "Zq8%23vLr2%21pT9wXe4",
    ):
        assert find_leak({"report.html": f"<p>{form}</p>".encode()}, [secret]) == "report.html"


def test_detected_value_forms_cover_the_dsn_password() -> None:
    hits = redaction.find_secrets(
        "Pod", {"spec": {"env": [{"name": "U", "value": "smtp://u:p%40ss@m"}]}}
    )
    assert {"p%40ss", "p@ss"} <= set(hits[0].spellings())
