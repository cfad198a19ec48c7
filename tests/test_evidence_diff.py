"""Night-to-night diff: new, fixed and still-open findings by fingerprint, expired waivers."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.cli.evidence import evidence_group

from .conftest import FIXTURE_REPOS, copy_fixture_repo, merge_config, write_key_pair

WAIVERS = """\
waivers:
  - rule: LG-TLS-001
    resource: {kind: IngressRoute, name: odoo}
    justification: Partner endpoint stays on HTTP until the certificate is issued.
    ticket: RISK-7
    owner: carol@finance.example
    approver: dave@finance.example
    approved: 2026-01-01
    expires: 2026-03-31
"""
SHORT_BACKUP = """\
apiVersion: velero.io/v1
kind: Schedule
metadata: {name: finance-prod-hourly, namespace: velero}
spec:
  schedule: "0 * * * *"
  template:
    includedNamespaces: [finance-prod]
    ttl: 24h0m0s
"""


def _scan(repo: Path, out: Path, epoch: str) -> None:
    """Scan into a bundle signed with the key pair beside it (``_key`` finds its public half)."""
    private = out.parent / "ec.pem"
    if not private.exists():
        write_key_pair(out.parent, "ec")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", epoch)
        day = dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
        mp.setenv("LEDGERGATE_TODAY", day.isoformat())  # waivers follow the clock, not EPOCH
        result = CliRunner().invoke(
            cli, ["scan", "repo", str(repo), "--evidence", str(out), "--sign-key", str(private)]
        )
    assert result.exit_code == 1, result.output


def _key(bundle: Path) -> str:
    return str(bundle.parent / "ec.pub")


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Last night (waiver in force) and tonight (secret fixed, new backup, waiver expired)."""
    base = tmp_path_factory.mktemp("diff")
    repo = copy_fixture_repo(
        base / "repo",
        waivers=WAIVERS,
        include_rules=(
            "LG-TLS-001",
            "LG-BAK-001",
            "LG-SEC-001",
            "LG-IMG-001",
            "LG-ENC-001",
            "LG-RBAC-001",
        ),
    )
    old = base / "old.zip"
    _scan(repo, old, "1767225600")  # 2026-01-01
    (repo / "apps/odoo/db-secret.yaml").unlink()
    shutil.copy(
        FIXTURE_REPOS / "odoo-finance-compliant/apps/odoo/external-secret.yaml",
        repo / "apps/odoo/external-secret.yaml",
    )
    deployment = repo / "apps/odoo/deployment.yaml"
    deployment.write_text("# moved down two lines\n\n" + deployment.read_text())
    (repo / "platform/backup/hourly.yaml").write_text(SHORT_BACKUP)
    new = base / "new"
    _scan(repo, new, "1776211200")  # 2026-04-15
    return old, new


def _keys(items: list[dict]) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(f["ruleId"], f["location"]["path"]) for f in items}


def test_diff_json_names_new_fixed_still_open_and_expired(nights: tuple[Path, Path]) -> None:
    old, new = nights
    result = CliRunner().invoke(
        evidence_group, ["diff", str(old), str(new), "--format", "json", "--key", _key(old)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert _keys(doc["new"]) == {
        ("LG-TLS-001", "platform/traefik/ingressroute.yaml"),  # its waiver expired
        ("LG-BAK-001", "platform/backup/hourly.yaml"),
    }
    assert _keys(doc["fixed"]) == {("LG-SEC-001", "apps/odoo/db-secret.yaml")}
    assert _keys(doc["stillOpen"]) == {
        ("LG-IMG-001", "apps/odoo/deployment.yaml"),  # moved lines, same fingerprint
        ("LG-IMG-001", "apps/ledger-api/overlays/prod/deployment-patch.yaml"),  # rendered
        ("LG-ENC-001", "config/odoo.conf"),
        ("LG-BAK-001", "platform/backup/schedule.yaml"),
        ("LG-RBAC-001", "platform/rbac/operators.yaml"),
    }
    assert doc["expiredWaivers"] == [
        {
            "ticket": "RISK-7",
            "rule": "LG-TLS-001",
            "owner": "carol@finance.example",
            "approver": "dave@finance.example",
            "expiry": "2026-03-31",
            "declaredAt": "waivers.yaml:2",
        }
    ]
    assert doc["summary"] == {
        "new": 2,
        "fixed": 1,
        "stillOpen": 5,
        "expiredWaivers": 1,
        "outOfScope": 0,
        "scopeChanges": 0,
    }
    assert (doc["oldScan"], doc["newScan"]) == ("2026-01-01T00:00:00Z", "2026-04-15T00:00:00Z")


def test_diff_text_markdown_and_plain_findings_files(nights: tuple[Path, Path]) -> None:
    old, new = nights
    text = (
        CliRunner().invoke(evidence_group, ["diff", str(old), str(new), "--key", _key(old)]).output
    )
    assert text.startswith("2 new, 1 fixed, 5 still open, 1 waiver(s) expired")
    assert "FIXED      fail critical LG-SEC-001 apps/odoo/db-secret.yaml:1" in text
    assert "EXPIRED    waiver RISK-7 for LG-TLS-001" in text
    md = CliRunner().invoke(
        evidence_group,
        ["diff", str(old), str(new / "findings.json"), "--format", "md", "--unverified"],
    )
    assert md.exit_code == 0
    assert "### Waivers expired" in md.output
    row = "| RISK-7 | LG-TLS-001 | carol@finance.example | dave@finance.example | 2026-03-31 |"
    assert row in md.output
    same = CliRunner().invoke(
        evidence_group, ["diff", str(new), str(new), "--format", "json", "--key", _key(new)]
    )
    assert json.loads(same.output)["summary"] == {
        "new": 0,
        "fixed": 0,
        "stillOpen": 7,
        "expiredWaivers": 0,
        "outOfScope": 0,
        "scopeChanges": 0,
    }


def test_diff_rejects_what_is_not_a_scan(nights: tuple[Path, Path], tmp_path: Path) -> None:
    old, _ = nights
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    result = CliRunner().invoke(evidence_group, ["diff", str(old), str(junk), "--unverified"])
    assert result.exit_code == 2
    assert "not a ledgergate findings document" in result.output


def test_tonight_reports_the_expired_waiver_everywhere(nights: tuple[Path, Path]) -> None:
    _, new = nights
    register = json.loads((new / "waivers.json").read_text())
    assert [(w["ticket"], w["state"], w["findingsWaived"]) for w in register["waivers"]] == [
        ("RISK-7", "expired", 0)
    ]
    html = (new / "report.html").read_text()
    row = html.split('<tr class="expired-waiver">')[1].split("</tr>")[0]
    assert "RISK-7" in row and "2026-03-31" in row and "waivers.yaml:2" in row


def test_scope_changes_are_not_called_fixes(tmp_path: Path) -> None:
    repo = copy_fixture_repo(tmp_path / "repo", include_rules=("LG-SEC-001", "LG-TLS-001"))
    old, new = tmp_path / "old", tmp_path / "new"
    _scan(repo, old, "1767225600")
    merge_config(repo / "ledgergate.yaml", {"rules": {"include": ["LG-TLS-001"]}})
    _scan(repo, new, "1767225600")
    result = CliRunner().invoke(
        cli, ["evidence", "diff", str(old), str(new), "--format", "json", "--key", _key(old)]
    )
    doc = json.loads(result.output)
    assert doc["fixed"] == []
    assert ("LG-SEC-001", "apps/odoo/db-secret.yaml") in _keys(doc["outOfScope"])
    assert "rule no longer selected: LG-SEC-001" in doc["scopeChanges"]
    text = (
        CliRunner().invoke(cli, ["evidence", "diff", str(old), str(new), "--key", _key(old)]).output
    )
    assert "SCOPE      rule no longer selected: LG-SEC-001" in text
