"""``params.backupCoverage: external``: an application repo does not fail LG-BAK-002 for every
namespace it names; the coverage rule is recorded as not evaluated, with the reason."""

from __future__ import annotations

from pathlib import Path

from scanner.config import find_config, load_config
from scanner.model import Status
from scanner.pipeline import scan_repo

from .conftest import copy_fixture_repo

EXTERNAL = """params:
  backupCoverage:
    mode: external
    reason: Velero lives in the platform repository finance/platform-gitops
"""


def _scan(repo: Path):  # type: ignore[no-untyped-def]
    return scan_repo(repo, load_config(find_config(repo, None)))


def test_coverage_rule_is_not_evaluated_when_backups_are_external(tmp_path: Path) -> None:
    repo = copy_fixture_repo(tmp_path / "repo")
    before = _scan(repo)
    assert any(f.rule_id == "LG-BAK-002" and f.status is Status.FAIL for f in before.findings)
    config = repo / "ledgergate.yaml"
    config.write_text(config.read_text().replace("params:\n", EXTERNAL, 1))
    after = _scan(repo)
    assert not any(f.rule_id == "LG-BAK-002" for f in after.findings)
    notes = [c for c in after.coverage if c.target == "params.backupCoverage"]
    assert len(notes) == 1
    assert "LG-BAK-002 not evaluated" in notes[0].reason
    assert "finance/platform-gitops" in notes[0].reason
    # The other backup rules still judge what the repository holds.
    assert any(f.rule_id == "LG-BAK-001" for f in after.findings)
