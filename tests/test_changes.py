"""``scan changes`` on a throwaway repository with real commits, merges and signatures.

Each planted change is identified by its commit; the test asserts exactly which rule
fails on which change, so a rule that stops seeing a bypass fails here.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from tests.gitrepos.builder import Keys, Repo, manifest

APPROVALS = Path(__file__).parent / "gitrepos" / "approvals"
IDENTITIES = """params:
  changeIdentities:
    alice: [alice@finance.example]
    bob: [bob@finance.example]
    carol: [carol@finance.example]
"""


@dataclass
class Estate:
    """The repository, its trust set, and each planted change by label."""

    repo: Repo
    keys: Keys
    base: str
    commits: dict[str, str]
    config: Path

    def trust_args(self) -> list[str]:
        return [
            "--keyring",
            str(self.keys.keyring("alice", "bob")),
            "--allowed-signers",
            str(self.keys.allowed_signers("bob", "carol")),
        ]

    def label(self, sha: str) -> str:
        return next(k for k, v in self.commits.items() if v == sha)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    with Keys(tmp_path_factory.mktemp("keys")) as made:
        yield made


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Estate:
    folder = tmp_path_factory.mktemp("changes")
    repo = Repo(folder / "gitops", keys)
    c: dict[str, str] = {}
    base = repo.commit(
        {"CODEOWNERS": "apps/prod/ @bob @carol\n", "README.md": "odoo gitops\n"},
        "FIN-0 initial layout",
        sign="gpg:alice",
    )
    c["direct"] = repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod")},
        "FIN-1 scale odoo",
        sign="gpg:alice",
    )
    repo.git("checkout", "-q", "-b", "fin-7")
    c["feature"] = repo.commit(
        {"apps/prod/worker.yaml": manifest("worker", "finance-prod")},
        "FIN-7 add a worker",
        sign="gpg:alice",
    )
    repo.git("checkout", "-q", "main")
    c["merged"] = repo.merge(
        "fin-7",
        "Merge pull request #7 from finance/fin-7\n\nFIN-7 add a worker",
        who="bob",
        sign="ssh:bob",
    )
    c["unsigned"] = repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod", 2)},
        "FIN-3 two replicas\n\nReviewed-by: Carol Checker <carol@finance.example>",
    )
    c["foreign-gpg"] = repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod", 3)},
        "FIN-4 three replicas\n\nReviewed-by: Bob Approver <bob@finance.example>",
        sign="gpg:mallory",
    )
    c["foreign-ssh"] = repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod", 4)},
        "FIN-5 four replicas\n\nReviewed-by: Carol Checker <carol@finance.example>",
        sign="ssh:eve",
    )
    c["github-squash"] = repo.commit(
        {"apps/prod/worker.yaml": manifest("worker", "finance-prod", 2)},
        "Raise worker memory (#9)",
        sign="gpg:alice",
    )
    c["gitlab-self-approved"] = repo.commit(
        {"apps/prod/velero.yaml": manifest("velero-helper", "finance-prod")},
        "FIN-4: rotate the Velero schedule\n\nSee merge request finance/odoo-gitops!4",
        sign="gpg:alice",
    )
    c["docs"] = repo.commit({"docs/notes.md": "notes\n"}, "notes")
    c["waiver"] = repo.commit(
        {"waivers.yaml": "waivers: []\n"}, "FIN-8 waive TLS for a partner", sign="gpg:alice"
    )
    c["co-author-reviews"] = repo.commit(
        {"apps/prod/odoo.yaml": manifest("odoo", "finance-prod", 5)},
        "FIN-6 five replicas\n\nCo-authored-by: Carol Checker <carol@finance.example>\n"
        "Reviewed-by: Carol Checker <carol@finance.example>",
        sign="gpg:alice",
    )
    c["namespace-only"] = repo.commit(
        {"apps/erp/odoo.yaml": manifest("erp", "finance-prod")}, "FIN-10 erp", sign="gpg:alice"
    )
    config = folder / "ledgergate.yaml"
    config.write_text(IDENTITIES)
    return Estate(repo, keys, base, c, config)


def _approvals(tmp: Path) -> Path:
    """Both recorded exports in one file (the command takes one)."""
    tmp.mkdir(parents=True, exist_ok=True)
    github = json.loads((APPROVALS / "github-pulls.json").read_text())["pullRequests"]
    gitlab = json.loads((APPROVALS / "gitlab-merge-requests.json").read_text())
    path = tmp / "approvals.json"
    path.write_text(json.dumps([*github, *gitlab]))
    return path


def _scan(
    run_cli: Callable[..., Result], estate: Estate, tmp: Path, *extra: str
) -> tuple[Result, dict[str, object]]:
    out = tmp / "out.json"
    result = run_cli(
        "scan",
        "changes",
        str(estate.repo.path),
        "--range",
        f"{estate.base}..main",
        "--config",
        str(estate.config),
        "--approvals",
        str(_approvals(tmp)),
        *estate.trust_args(),
        "--json",
        str(out),
        "--format",
        "table",
        *extra,
    )
    return result, json.loads(out.read_text()) if out.exists() else {}


def _population(bundle: Path) -> list[dict[str, str]]:
    """The bundle's tested population: every judged change, passes included (its
    ``findings.json`` counts plain passes)."""
    from scanner.evidence import archive
    from scanner.evidence.population import read_population

    return read_population(archive.read(bundle))


def _failures(estate: Estate, doc: dict[str, object]) -> set[tuple[str, str, str]]:
    found = set()
    for f in doc["findings"]:  # type: ignore[attr-defined]
        if f["status"] != "pass":
            found.add((estate.label(f["resource"]["name"]), f["ruleId"], f["status"]))
    return found


EXPECTED = {
    ("direct", "LG-CHG-003", "fail"),
    ("direct", "LG-CHG-004", "fail"),
    ("direct", "LG-CHG-005", "fail"),
    ("unsigned", "LG-CHG-001", "fail"),
    ("foreign-gpg", "LG-CHG-001", "fail"),
    ("foreign-ssh", "LG-CHG-001", "fail"),
    ("gitlab-self-approved", "LG-CHG-003", "fail"),
    ("gitlab-self-approved", "LG-CHG-004", "fail"),
    ("waiver", "LG-CHG-006", "fail"),
    ("co-author-reviews", "LG-CHG-003", "fail"),
    ("co-author-reviews", "LG-CHG-004", "fail"),
    ("namespace-only", "LG-CHG-003", "fail"),
    ("namespace-only", "LG-CHG-005", "fail"),
}


def test_each_planted_bypass_fails_on_its_commit(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    result, doc = _scan(run_cli, estate, tmp_path, "--evidence", str(bundle))
    assert result.exit_code == 1, result.output
    assert _failures(estate, doc) == EXPECTED
    # every judged change, passes included, is in the bundle's population
    judged = {estate.label(r["name"]) for r in _population(bundle)}
    assert "docs" not in judged  # not a production change
    assert "feature" not in judged  # not first-parent: judged through its merge
    assert {"merged", "github-squash"} <= judged  # judged, and passed every rule


def test_change_log_attributes_each_change(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    log = tmp_path / "changes.json"
    _scan(run_cli, estate, tmp_path, "--changelog", str(log))
    rows = {estate.label(r["commit"]): r for r in json.loads(log.read_text())["changes"]}
    assert set(rows) == set(estate.commits) - {"feature"}
    merged = rows["merged"]
    assert merged["signature"] == "trusted" and merged["signer"] == "bob@finance.example"
    assert merged["signingKey"].startswith("SHA256:")
    assert merged["author"] == "Bob Approver <bob@finance.example>"
    assert (merged["ticket"], merged["approvers"], merged["verdict"]) == ("FIN-7", ["bob"], "pass")
    assert merged["productionObjects"] == ["Deployment finance-prod/worker"]
    squash = rows["github-squash"]
    assert (squash["ticket"], squash["pullRequest"], squash["approvers"]) == (
        "FIN-9",
        "github #9",
        ["carol"],
    )
    assert rows["foreign-gpg"]["signingKey"] == estate.keys.fingerprints["mallory"][-16:]
    assert rows["foreign-gpg"]["failedRules"] == ["LG-CHG-001"]
    assert rows["docs"]["verdict"] == "not judged" and rows["docs"]["production"] is False


def test_change_log_csv_and_evidence_bundle(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    csv_path, bundle = tmp_path / "changes.csv", tmp_path / "bundle"
    result, _ = _scan(
        run_cli, estate, tmp_path, "--changelog", str(csv_path), "--evidence", str(bundle)
    )
    assert result.exit_code == 1, result.output
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("commit,date,subject,author,committer")
    assert len(lines) == 1 + len(estate.commits) - 1
    assert (bundle / "changelog.csv").read_text() == csv_path.read_text()
    manifest_doc = json.loads((bundle / "manifest.json").read_text())
    assert {"changelog.json", "changelog.csv"} <= {f["path"] for f in manifest_doc["files"]}
    verified = run_cli("evidence", "verify", "--integrity-only", str(bundle))
    assert verified.exit_code == 0, verified.output


def test_binary_keyring_is_a_trust_set_too(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    binary = estate.keys.keyring("alice", "bob", armor=False)
    out = tmp_path / "o.json"
    run_cli(
        "scan",
        "changes",
        str(estate.repo.path),
        "--range",
        f"{estate.commits['direct']}^..{estate.commits['direct']}",
        "--keyring",
        str(binary),
        "--json",
        str(out),
        "--evidence",
        str(tmp_path / "bundle"),
    )
    statuses = {r["rule"]: r["result"] for r in _population(tmp_path / "bundle")}
    assert statuses["LG-CHG-001"] == "pass"


def test_without_a_trust_set_signatures_are_errors_not_passes(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    out = tmp_path / "o.json"
    result = run_cli(
        "scan",
        "changes",
        str(estate.repo.path),
        "--range",
        f"{estate.base}..main",
        "--json",
        str(out),
    )
    assert result.exit_code == 1
    by_change = {
        estate.label(f["resource"]["name"]): f["status"]
        for f in json.loads(out.read_text())["findings"]
        if f["ruleId"] == "LG-CHG-001"
    }
    assert by_change["merged"] == "error" and by_change["direct"] == "error"
    assert by_change["unsigned"] == "fail"  # unsigned needs no trust set to fail


def test_period_selects_by_commit_date(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    log = tmp_path / "period.json"
    dates = {
        label: estate.repo.git("log", "-1", "--format=%cI", sha).strip()
        for label, sha in estate.commits.items()
    }
    result = run_cli(
        "scan",
        "changes",
        str(estate.repo.path),
        "--since",
        dates["unsigned"],
        "--until",
        dates["github-squash"],
        "--branch",
        "main",
        "--changelog",
        str(log),
        *estate.trust_args(),
    )
    assert result.exit_code == 1, result.output
    got = {estate.label(r["commit"]) for r in json.loads(log.read_text())["changes"]}
    assert got == {"unsigned", "foreign-gpg", "foreign-ssh", "github-squash"}


def test_repository_config_cannot_choose_the_verifying_program(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    evil.chmod(0o755)
    clone = tmp_path / "clone"
    estate.repo.git("clone", "-q", str(estate.repo.path), str(clone))
    for key in ("gpg.program", "gpg.ssh.program"):
        estate.repo.git("-C", str(clone), "config", key, str(evil))
    result = run_cli(
        "scan",
        "changes",
        str(clone),
        "--range",
        f"{estate.base}..origin/main",
        *estate.trust_args(),
        "--format",
        "json",
        "--evidence",
        str(tmp_path / "bundle"),
    )
    assert result.exit_code == 1
    assert not marker.exists()
    statuses = {
        (estate.label(r["name"]), r["rule"]): r["result"] for r in _population(tmp_path / "bundle")
    }
    assert statuses[("merged", "LG-CHG-001")] == "pass"
    assert statuses[("foreign-gpg", "LG-CHG-001")] == "fail"


# --- bad input: never a pass on a history the tool could not read ---------------------------


def test_shallow_clone_that_stops_inside_the_range_is_exit_2(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path
) -> None:
    clone = tmp_path / "shallow"
    estate.repo.git("clone", "-q", "--depth", "3", f"file://{estate.repo.path}", str(clone))
    cut = estate.repo.git("-C", str(clone), "rev-list", "--max-parents=0", "HEAD").split()
    start = estate.commits["unsigned"]
    result = run_cli("scan", "changes", str(clone), "--range", f"{start}..HEAD")
    assert result.exit_code == 2
    assert "shallow" in result.output and "fetch" in result.output, result.output
    assert cut  # the clone really is cut
    period = run_cli("scan", "changes", str(clone), "--since", "2026-01-01")
    assert period.exit_code == 2 and "shallow" in period.output, period.output


@pytest.mark.parametrize(
    "rng, message",
    [
        ("nope..main", "does not resolve"),
        ("main", "START..END"),
        ("main...HEAD", "START..END"),
    ],
)
def test_unresolvable_range_is_exit_2(
    run_cli: Callable[..., Result], estate: Estate, rng: str, message: str
) -> None:
    result = run_cli("scan", "changes", str(estate.repo.path), "--range", rng)
    assert result.exit_code == 2
    assert message in result.output, result.output


def test_range_start_not_an_ancestor_is_exit_2(
    run_cli: Callable[..., Result], estate: Estate
) -> None:
    rng = f"{estate.commits['feature']}..{estate.commits['direct']}"
    result = run_cli("scan", "changes", str(estate.repo.path), "--range", rng)
    assert result.exit_code == 2 and "not an ancestor" in result.output


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ('{"items": []}', "expected a JSON list"),
        ('[{"number": 3}]', "entry [0]"),
        ('[{"number": 3, "reviews": [{"user": {"login": "x"}}]}]', "state"),
        ('[{"iid": 3, "title": "x", "author": {"username": "a"}}]', "approved_by"),
    ],
)
def test_unparsable_approvals_is_exit_2(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "approvals.json"
    bad.write_text(text)
    result = run_cli(
        "scan",
        "changes",
        str(estate.repo.path),
        "--range",
        f"{estate.base}..main",
        "--approvals",
        str(bad),
    )
    assert result.exit_code == 2
    assert message in result.output, result.output


def test_range_and_period_are_exclusive(run_cli: Callable[..., Result], estate: Estate) -> None:
    result = run_cli(
        "scan", "changes", str(estate.repo.path), "--range", "a..b", "--since", "2026-01-01"
    )
    assert result.exit_code == 2


def test_a_token_in_a_commit_subject_never_reaches_any_output(
    run_cli: Callable[..., Result], keys: Keys, tmp_path: Path
) -> None:
    token = "ghp_Zq8xN3vB7mK2pL9wR4tY6uI1oA5sD0fG3hJ7"
    repo = Repo(tmp_path / "leaky", keys)
    base = repo.commit({"README.md": "x\n"}, "FIN-1 start")
    repo.commit({"apps/prod/odoo.yaml": manifest("odoo", "finance-prod")}, f"use {token} for CI")
    log, bundle, out = tmp_path / "log.csv", tmp_path / "bundle", tmp_path / "out.json"
    result = run_cli(
        "scan",
        "changes",
        str(repo.path),
        "--range",
        f"{base}..main",
        "--changelog",
        str(log),
        "--evidence",
        str(bundle),
        "--json",
        str(out),
        "--format",
        "sarif",
    )
    assert result.exit_code == 1, result.output  # findings, and the bundle was written
    texts = [result.output, log.read_text(), out.read_text()]
    texts += [p.read_text() for p in bundle.iterdir() if p.suffix in (".json", ".csv", ".html")]
    assert all(token not in t for t in texts)
    assert "[REDACTED " in log.read_text()


def test_same_history_same_bytes(
    run_cli: Callable[..., Result], estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    outputs = []
    for run in ("a", "b"):
        bundle = tmp_path / f"out-{run}" / "bundle.zip"  # apart: a neighbour would be chained
        _scan(run_cli, estate, tmp_path / run, "--evidence", str(bundle))
        outputs.append(bundle.read_bytes())
    assert outputs[0] == outputs[1]


def test_verdicts_agree_with_git_verify_commit_itself(estate: Estate, tmp_path: Path) -> None:
    """The oracle: for every change, trusted exactly when ``git verify-commit`` succeeds."""
    from scanner.changes import from_range, open_repository
    from scanner.changes.history import read_commits
    from scanner.changes.signatures import TrustSet, verifier

    keyring = estate.keys.keyring("alice", "bob")
    signers = estate.keys.allowed_signers("bob", "carol")
    git = open_repository(estate.repo.path)
    population = from_range(git, f"{estate.base}..main")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--import", str(keyring)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    with verifier(git, TrustSet((keyring,), signers)) as check:
        config, env = check.log_config()
        for commit in read_commits(git, population.commits, config=config, env=env):
            verdict = check.verify(commit.sha, commit.sig_letter, commit.sig_key, commit.sig_signer)
            done = subprocess.run(
                [
                    "git",
                    "-C",
                    str(estate.repo.path),
                    "-c",
                    f"gpg.ssh.allowedSignersFile={signers}",
                    "verify-commit",
                    commit.sha,
                ],
                capture_output=True,
                timeout=60,
                env={"GNUPGHOME": str(home), "PATH": "/usr/bin:/bin"},
            )
            label = estate.label(commit.sha)
            assert (verdict.status == "trusted") == (done.returncode == 0), (label, verdict)
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], timeout=30, check=False)


def test_an_uncommitted_config_edit_cannot_judge_the_history(
    run_cli: Callable[..., Result], keys: Keys, tmp_path: Path
) -> None:
    repo = Repo(tmp_path / "cfg", keys)
    base = repo.commit({"ledgergate.yaml": "params: {minApprovers: 2}\n"}, "FIN-1 gate")
    repo.commit({"apps/prod/odoo.yaml": manifest("odoo", "finance-prod")}, "FIN-2 odoo")
    args = ("scan", "changes", str(repo.path), "--range", f"{base}..main", "--format", "json")
    committed = run_cli(*args)
    assert committed.exit_code == 1, committed.output
    (repo.path / "ledgergate.yaml").write_text("params: {ticketPattern: '.*'}\n")
    edited = run_cli(*args)
    assert edited.exit_code == 2
    assert "differs from the one committed" in edited.output
