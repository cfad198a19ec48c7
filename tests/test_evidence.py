"""Evidence bundles: contents, manifest schema, signature, verification, determinism, no leaks."""

from __future__ import annotations

import csv
import fnmatch
import gzip
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.cli import cli
from scanner.cli.evidence import evidence_group, report_cmd
from scanner.config import find_config, load_config
from scanner.evidence.schema import manifest_schema
from scanner.pipeline import HISTORY_FAMILIES

from .conftest import FIXTURE_REPOS, ROOT, merge_config, write_key_pair

NONCOMPLIANT = FIXTURE_REPOS / "odoo-finance-noncompliant"
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z
BUNDLE_FILES = {
    "controls.csv",
    "controls.json",
    "coverage.json",
    "findings.json",
    "findings.sarif",
    "inventory.json",
    "manifest.json",
    "manifest.sig.json",
    "population.csv.gz",
    "report.html",
    "rules.json",
    "sod-matrix.csv",
    "sod-matrix.json",
    "waivers.json",
}
WAIVERS = """\
waivers:
  - rule: LG-TLS-001
    resource: {kind: IngressRoute, namespace: finance-prod, name: odoo}
    justification: Partner endpoint stays on HTTP until the certificate is issued.
    ticket: RISK-7
    owner: carol@finance.example
    approver: dave@finance.example
    approved: 2026-01-01
    expires: 2026-03-31
"""

Keys = dict[str, tuple[Path, Path]]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """An ECDSA P-256 and an Ed25519 key pair as PEM files."""
    folder = tmp_path_factory.mktemp("keys")
    return {kind: write_key_pair(folder, kind) for kind in ("ec", "ed")}


@pytest.fixture
def scan(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run ``scan repo`` in-process with a pinned clock and no CI identity."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.setenv("LEDGERGATE_TODAY", "2026-01-01")  # waivers: the clock, not EPOCH
    monkeypatch.setenv("LEDGERGATE_USER", "auditor-test")
    for name in ("GITHUB_RUN_ID", "GITHUB_REPOSITORY", "CI_JOB_URL", "BUILD_URL"):
        monkeypatch.delenv(name, raising=False)

    def run(repo: Path, *args: str) -> Result:
        return CliRunner().invoke(cli, ["scan", "repo", str(repo), *args])

    return run


def _invoke(command: object, *args: str) -> Result:
    return CliRunner().invoke(command, list(args))  # type: ignore[arg-type]


def _read_tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the non-compliant repo with a waiver register."""
    target = tmp_path / "repo"
    shutil.copytree(NONCOMPLIANT, target)
    (target / "waivers.yaml").write_text(WAIVERS)
    return target


def test_bundle_holds_every_file_and_a_valid_manifest(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    result = scan(repo, "--evidence", str(bundle), "--sign-key", str(keys["ec"][0]))
    assert result.exit_code == 1, result.output
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    manifest = json.loads((bundle / "manifest.json").read_text())
    jsonschema.Draft202012Validator(manifest_schema()).validate(manifest)
    assert {f["path"] for f in manifest["files"]} == BUNDLE_FILES - {
        "manifest.json",
        "manifest.sig.json",
    }
    assert manifest["scan"] == {
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:00Z",
    }
    assert manifest["runBy"] == {"user": "auditor-test", "ci": None}
    assert manifest["config"]["path"] == "ledgergate.yaml"
    assert manifest["waivers"]["path"] == "waivers.yaml"
    assert manifest["target"]["path"] == str(repo)
    excluded = load_config(find_config(repo, None)).exclude_rules
    assert [r["id"] for r in manifest["ruleSet"]["rules"]] == sorted(
        p.stem
        for p in (ROOT / "rules").glob("*/LG-*.yaml")
        if not any(fnmatch.fnmatchcase(p.stem, pattern) for pattern in excluded)
        and p.parent.name not in HISTORY_FAMILIES  # judged by `scan changes` only
    )
    assert manifest["summary"]["waived"] == 1
    register = json.loads((bundle / "waivers.json").read_text())
    assert register["register"] == "waivers.yaml"
    assert [
        (w["ticket"], w["state"], w["findingsWaived"], w["source"], w["resource"]["namespace"])
        for w in register["waivers"]
    ] == [("RISK-7", "active", 1, "waivers.yaml:2", "finance-prod")]
    envelope = json.loads((bundle / "manifest.sig.json").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"


def test_controls_csv_rows(scan: Callable[..., Result], repo: Path, tmp_path: Path) -> None:
    # A fixed rule selection keeps the expected rows independent of the packs growing.
    config = repo / "ledgergate.yaml"
    merge_config(config, {"rules": {"include": ["LG-TLS-001", "LG-ENC-001", "LG-RBAC-001"]}})
    bundle = tmp_path / "bundle"
    scan(repo, "--evidence", str(bundle))
    rows = list(csv.DictReader(io.StringIO((bundle / "controls.csv").read_text())))
    keys = [(r["framework"], r["control"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: k[0]) and len(set(keys)) == len(keys)
    by_key = {(r["framework"], r["control"]): r for r in rows}
    cells = ("status", "pass", "fail", "error", "waived", "rules")
    doc = json.loads((bundle / "findings.json").read_text())
    findings = doc["findings"]

    def count(rule_ids: set[str], status: str) -> str:
        listed = sum(f["ruleId"] in rule_ids and f["status"] == status for f in findings)
        counted = sum(p["count"] for p in doc["passes"] if p["ruleId"] in rule_ids)
        return str(listed + (counted if status == "pass" else 0))

    tls, both = {"LG-TLS-001"}, {"LG-ENC-001", "LG-TLS-001"}
    assert count(tls, "waived") == "1" and count(tls, "fail") == "0"
    assert [by_key[("nist-800-53-r5", "SC-8(1)")][c] for c in cells] == [
        "waived",
        count(tls, "pass"),
        "0",
        "0",
        "1",
        "LG-TLS-001",
    ]
    # a control shared by a waived and a failing rule is failing
    assert [by_key[("pci-dss-4.0", "4.2.1")][c] for c in cells] == [
        "fail",
        count(both, "pass"),
        count(both, "fail"),
        "0",
        "1",
        "LG-ENC-001 LG-TLS-001",
    ]
    rbac = [r for r in rows if "LG-RBAC-001" in r["rules"].split()]
    assert rbac and all(r["status"] == "fail" for r in rbac)
    assert {r["status"] for r in rows} <= {"pass", "fail", "error", "waived", "not-evaluated"}


def test_ci_identity_in_manifest(
    scan: Callable[..., Result], repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "fin/odoo-gitops")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    bundle = tmp_path / "b"
    scan(repo, "--evidence", str(bundle))
    ci = json.loads((bundle / "manifest.json").read_text())["runBy"]["ci"]
    assert ci["jobUrl"] == "https://github.example/fin/odoo-gitops/actions/runs/4242"


@pytest.mark.parametrize("kind", ["ec", "ed"])
def test_verify_accepts_an_untouched_signed_bundle(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path, kind: str
) -> None:
    bundle = tmp_path / "bundle.zip"
    scan(repo, "--evidence", str(bundle), "--sign-key", str(keys[kind][0]))
    result = _invoke(evidence_group, "verify", str(bundle), "--key", str(keys[kind][1]))
    assert result.exit_code == 0, result.output
    assert f"verified ({len(BUNDLE_FILES) - 2} files)" in result.output
    assert "signature: valid" in result.output
    other = "ed" if kind == "ec" else "ec"
    wrong = _invoke(evidence_group, "verify", str(bundle), "--key", str(keys[other][1]))
    assert wrong.exit_code == 1
    assert "FAILED manifest.sig.json: signed by another key" in wrong.output
    assert "signature:" not in wrong.output, "one message, not two contradictory lines"


def test_every_flipped_byte_is_caught_and_named(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    scan(repo, "--evidence", str(bundle), "--sign-key", str(keys["ec"][0]))
    pristine = _read_tree(bundle)
    for name, data in pristine.items():
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        (bundle / name).write_bytes(bytes(flipped))
        result = _invoke(evidence_group, "verify", str(bundle), "--key", str(keys["ec"][1]))
        assert result.exit_code == 1, name
        failed = {
            line.split()[1].rstrip(":")
            for line in result.output.splitlines()
            if line.startswith("FAILED ")
        }
        assert name in failed, (name, result.output)
        (bundle / name).write_bytes(data)
    assert (
        _invoke(evidence_group, "verify", str(bundle), "--key", str(keys["ec"][1])).exit_code == 0
    )


def test_added_missing_and_zip_tampering_are_named(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    folder = tmp_path / "bundle"
    scan(repo, "--evidence", str(folder))
    (folder / "extra.txt").write_text("slipped in")
    (folder / "coverage.json").unlink()
    result = _invoke(evidence_group, "verify", str(folder))
    assert result.exit_code == 1
    assert "FAILED extra.txt: not listed in the manifest" in result.output
    assert "FAILED coverage.json: listed in the manifest but missing" in result.output
    assert "signature: absent" in result.output
    signed = _invoke(evidence_group, "verify", str(folder), "--key", str(keys["ec"][1]))
    assert "FAILED manifest.sig.json: missing, but --key was given" in signed.output

    zipped = tmp_path / "bundle.zip"
    scan(repo, "--evidence", str(zipped), "--sign-key", str(keys["ed"][0]))
    with zipfile.ZipFile(zipped) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members["findings.json"] = members["findings.json"].replace(b'"fail"', b'"pass"', 1)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = _invoke(evidence_group, "verify", str(tampered), "--key", str(keys["ed"][1]))
    assert result.exit_code == 1
    assert "FAILED findings.json: sha256" in result.output


def test_bundles_are_byte_identical_across_runs(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    for suffix in ("", ".zip"):
        # Separate folders: a bundle beside another of the same target chains to it.
        first = tmp_path / f"a{suffix}" / f"bundle{suffix}"
        second = tmp_path / f"b{suffix}" / f"bundle{suffix}"
        for out in (first, second):
            result = scan(repo, "--evidence", str(out), "--sign-key", str(keys["ec"][0]))
            assert result.exit_code == 1, result.output
        if suffix:
            assert first.read_bytes() == second.read_bytes()
            with zipfile.ZipFile(first) as archive:
                names = archive.namelist()
                assert names == sorted(names)
                assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        else:
            assert _read_tree(first) == _read_tree(second)


PLANTED = {
    "Zq8#vLr2!pT9wXe4",  # the fixture repo's Secret
    "S3cr3tPassw0rd!",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "sk_live_abcdefghijklmnop1234",
    "hunter2-but-longer",
    "Adm1n!Passw0rd#2024",
}


def test_no_secret_value_in_any_bundle_file(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    (repo / "apps/odoo/leaky.yaml").write_text(
        """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: leaky
  namespace: finance-prod
  annotations:
    note: "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
data:
  DATABASE_URL: "postgres://odoo:S3cr3tPassw0rd!@db:5432/odoo"
  AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: finance-prod}
spec:
  template:
    spec:
      containers:
        - name: worker
          image: registry.finance.internal/erp/worker@sha256:DIGEST
          env:
            - {name: STRIPE_KEY, value: sk_live_abcdefghijklmnop1234}
            - {name: ADMIN_PASSWORD, value: hunter2-but-longer}
""".replace("DIGEST", "0123456789abcdef" * 4)
    )
    conf = repo / "config/odoo.conf"
    conf.write_text(conf.read_text() + "admin_passwd = Adm1n!Passw0rd#2024\n")
    for out in (tmp_path / "b", tmp_path / "b.zip"):
        result = scan(repo, "--evidence", str(out), "--sign-key", str(keys["ec"][0]))
        assert result.exit_code == 1, result.output
    files = _read_tree(tmp_path / "b")
    with zipfile.ZipFile(tmp_path / "b.zip") as archive:
        files.update({f"zip:{n}": archive.read(n) for n in archive.namelist()})
    assert len(files) == 2 * len(BUNDLE_FILES)
    inventory = json.loads(files["inventory.json"])
    assert {r["name"] for r in inventory["resources"]} >= {"leaky", "worker", "odoo-db"}
    for name, data in files.items():
        text = (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")
        for secret in PLANTED:
            assert secret not in text, (name, secret)
            assert json.dumps(secret)[1:-1] not in text, (name, secret)
    assert "[REDACTED " in files["inventory.json"].decode()


def test_option_errors_exit_2(scan: Callable[..., Result], repo: Path, tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("not a key")
    result = scan(repo, "--sign-key", str(key))
    assert result.exit_code == 2 and "--sign-key needs --evidence" in result.output
    result = scan(repo, "--evidence", str(tmp_path / "b"), "--sign-key", str(key))
    assert result.exit_code == 2 and "not an unencrypted PEM private key" in result.output
    rsa_free = tmp_path / "p521.pem"  # P-384 and RSA >= 2048 sign too (#14); P-521 does not
    rsa_free.write_bytes(
        ec.generate_private_key(ec.SECP521R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = scan(repo, "--evidence", str(tmp_path / "b"), "--sign-key", str(rsa_free))
    assert result.exit_code == 2 and "use ECDSA P-256 or P-384" in result.output


def test_report_rerenders_the_bundle_from_findings(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    private, public = keys["ec"]
    # A fixed rule selection keeps the PR comment's 50 rows independent of the packs growing.
    config = repo / "ledgergate.yaml"
    merge_config(
        config, {"rules": {"include": ["LG-TLS-*", "LG-ENC-00*", "LG-RBAC-00*", "LG-SEC-*"]}}
    )
    # Separate folders: a bundle beside another of the same target chains to it.
    for bundle in (tmp_path / "d" / "b", tmp_path / "z" / "b.zip"):
        scan(repo, "--evidence", str(bundle), "--sign-key", str(private))
        html = _invoke(report_cmd, str(bundle), "--format", "html", "--key", str(public))
        assert html.exit_code == 0, html.output
        stored = tmp_path / "d" / "b" / "report.html"
        assert html.output == stored.read_text()
        csv_out = _invoke(report_cmd, str(bundle), "--format", "csv", "--key", str(public))
        assert csv_out.output == (tmp_path / "d" / "b" / "controls.csv").read_text()
        md = _invoke(report_cmd, str(bundle), "--format", "md", "--key", str(public)).output
        assert "| waived | high | `LG-TLS-001` | `platform/traefik/ingressroute.yaml:7` |" in md
        assert (
            "| RISK-7 | `LG-TLS-001` | carol@finance.example "
            "| dave@finance.example | 2026-03-31 |" in md
        )
    findings = tmp_path / "d" / "b" / "findings.json"
    findings.write_text(findings.read_text().replace('"status": "fail"', '"status": "error"'))
    tampered = _invoke(
        report_cmd, str(tmp_path / "d" / "b"), "--format", "csv", "--key", str(public)
    )
    assert tampered.exit_code == 1
    assert "findings.json: sha256" in tampered.output and "refusing to render" in tampered.output
    loose = _invoke(report_cmd, str(findings), "--format", "md", "--unverified")
    assert loose.exit_code == 0 and "| error | critical | `LG-RBAC-001` |" in loose.output
    assert loose.output.startswith("> **UNVERIFIED")
    assert (
        _invoke(report_cmd, str(tmp_path / "d" / "b" / "controls.csv"), "--unverified").exit_code
        == 2
    )
    findings.write_text(findings.read_text().replace('"title"', '"tittle"', 1))
    broken = _invoke(report_cmd, str(findings), "--unverified")
    assert broken.exit_code == 2 and "findings[0]: field 'title' is missing" in broken.output


def test_a_non_bundle_folder_is_never_overwritten(
    scan: Callable[..., Result], repo: Path, tmp_path: Path
) -> None:
    precious = tmp_path / "docs"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    result = scan(repo, "--evidence", str(precious))
    assert result.exit_code == 2 and "holds no evidence bundle" in result.output
    assert [p.name for p in precious.iterdir()] == ["keep.txt"]
    bundle = tmp_path / "bundle"
    for _ in range(2):  # an earlier bundle is replaced as a whole
        assert scan(repo, "--evidence", str(bundle)).exit_code == 1
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES - {"manifest.sig.json"}


def test_a_corrupt_zip_entry_is_named(
    scan: Callable[..., Result], repo: Path, keys: Keys, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.zip"
    scan(repo, "--evidence", str(bundle), "--sign-key", str(keys["ec"][0]))
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as archive:
        info = archive.getinfo("inventory.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    result = _invoke(evidence_group, "verify", str(bundle), "--key", str(keys["ec"][1]))
    assert result.exit_code == 1
    assert result.output.startswith("FAILED inventory.json: corrupt zip entry")


def test_inventory_snapshot_survives_yaml_scalars_json_lacks(
    scan: Callable[..., Result], tmp_path: Path
) -> None:
    repo = tmp_path / "dated"
    repo.mkdir()
    (repo / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dated\n"
        "  creationTimestamp: 2024-01-01T00:00:00Z\n"
        "data:\n  when: 2024-01-01\n  blob: !!binary aGVsbG8=\n  1: numeric-key\n"
    )
    result = scan(repo, "--evidence", str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    resources = json.loads((tmp_path / "b" / "inventory.json").read_text())["resources"]
    # analyzers may add synthesised objects (e.g. the namespace); judge the ConfigMap
    (resource,) = [r for r in resources if r["body"]["kind"] == "ConfigMap"]
    assert resource["body"]["data"] == {
        "1": "numeric-key",
        "blob": "hello",  # as kubectl sends !!binary: the decoded bytes as text
        "when": "2024-01-01",
    }
    assert resource["body"]["metadata"]["creationTimestamp"].startswith("2024-01-01")
