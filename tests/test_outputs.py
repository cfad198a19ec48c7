"""Determinism and secret hygiene across every output format."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import find_config, load_config
from scanner.pipeline import scan_repo
from scanner.reporters import get_reporter, reporter_names

from .conftest import FIXTURE_REPOS, scanned_fixture_repo

REPO = FIXTURE_REPOS / "odoo-finance-noncompliant"
#: Secret values planted in the noncompliant fixture repo; none may appear in any output.
PLANTED = ["Zq8#vLr2!pT9wXe4"]


def _render_all(fresh: bool = False) -> dict[str, str]:
    """Every format of the fixture scan; ``fresh``: of a new scan, not the shared one."""
    result = scan_repo(REPO, load_config(find_config(REPO, None))) if fresh else None
    result = result or scanned_fixture_repo()
    return {name: get_reporter(name).render(result) for name in reporter_names()}


def test_planted_secrets_are_really_in_the_inputs() -> None:
    text = "".join(p.read_text() for p in REPO.rglob("*.yaml"))
    for secret in PLANTED:
        assert secret in text


@pytest.mark.parametrize("fmt", reporter_names())
def test_no_secret_leaves(fmt: str) -> None:
    out = _render_all()[fmt]
    for secret in PLANTED:
        assert secret not in out


def test_same_inputs_give_identical_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = _render_all(fresh=True)
    assert first == _render_all(fresh=True)  # two scans, not one rendered twice
    assert "2023-11-14T22:13:20Z" in first["json"]


def test_fingerprint_survives_unrelated_line_moves(tmp_path: Path) -> None:
    src = (REPO / "platform/rbac/operators.yaml").read_text()
    (tmp_path / "a.yaml").write_text(src)
    first = scan_repo(tmp_path, load_config(None)).problems()[0]
    (tmp_path / "a.yaml").write_text("# a comment\n\n# another\n" + src)
    second = scan_repo(tmp_path, load_config(None)).problems()[0]
    assert first.origin.start_line != second.origin.start_line
    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("password_encryption", "scram-sha-256", False),
        ("secretName", "erp-finance-tls-2026", False),
        ("kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:key/abcd", False),
        ("db_password", "Zq8#vLr2!pT9wXe4", True),
        ("PGPASSWORD", "s3cr3t-Pa55w0rd!", True),
        ("anything", "AKIAIOSFODNN7EXAMPLE", True),
    ],
)
def test_secret_classification(key: str, value: str, secret: bool) -> None:
    from scanner.redaction import classify

    assert (classify(key, value) is not None) is secret
