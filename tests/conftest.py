"""Shared fixtures: paths, the shared test data folder, and a CLI runner."""

from __future__ import annotations

import functools
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from click.testing import CliRunner, Result

if TYPE_CHECKING:
    from scanner.findings import ScanResult

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_REPOS = ROOT / "fixtures" / "repos"
#: Programs scripts/install.sh installs (APT_PACKAGES): with LEDGERGATE_REQUIRE_TOOLS=1
#: (set by .ci/run) a test that needs one of them fails instead of skipping when it is
#: missing, so a broken CI image cannot turn the real-part tests into silent skips.
#: kubectl is the machine image's, not install.sh's: without it those tests skip.
CI_TOOLS = frozenset(
    {
        "git", "chromium", "openssl", "docker-registry", "htpasswd", "gpg", "ssh-keygen",
        "promtool", "softhsm2-util", "pdftoppm", "pdftotext", "mmdebstrap", "skopeo",
    }
)  # fmt: skip
REQUIRE_TOOLS = os.environ.get("LEDGERGATE_REQUIRE_TOOLS") == "1"


def missing_tool(name: str, hint: str = "") -> NoReturn:
    """Skip (or, under LEDGERGATE_REQUIRE_TOOLS=1 for a CI-installed tool, fail) a test."""
    message = f"{name} not installed" + (f" ({hint})" if hint else "")
    if REQUIRE_TOOLS and name in CI_TOOLS:
        pytest.fail(f"{message}; scripts/install.sh installs it (LEDGERGATE_REQUIRE_TOOLS=1)")
    pytest.skip(message)


def tool(name: str, hint: str = "") -> str:
    """The path of an external program a test runs, or :func:`missing_tool`."""
    return shutil.which(name) or missing_tool(name, hint)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("needs_tool"):
        for name in mark.args:
            if shutil.which(name) is None:
                missing_tool(name, mark.kwargs.get("hint", ""))


EXPECT_MARK = re.compile(r"#[ \t]*expect:[ \t]*([A-Za-z0-9/_, \t-]+)")


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared test data (SARIF schema, signatures); skips when absent."""
    path = Path(os.environ.get("LEDGERGATE_TESTDATA", ROOT.parent / "shared" / "testdata"))
    if not path.is_dir():
        pytest.skip(f"shared test data not found at {path} (set LEDGERGATE_TESTDATA)")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared corpus of public GitOps repos, each archive unpacked into a tmp folder;
    skips when absent."""
    import tarfile

    source = Path(os.environ.get("LEDGERGATE_CORPUS", ROOT.parent / "shared" / "corpus"))
    archives = sorted(source.glob("*.tar.gz")) if source.is_dir() else []
    if not archives:
        pytest.skip(f"shared corpus not found at {source} (set LEDGERGATE_CORPUS)")
    target = tmp_path_factory.mktemp("corpus")
    for archive in archives:
        folder = target / archive.name.removesuffix(".tar.gz")
        folder.mkdir()
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    return target


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke the CLI in-process and return click's result."""
    from scanner.cli import cli

    def invoke(*args: str, **kw: object) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kw)  # type: ignore[arg-type]

    return invoke


@functools.cache
def scanned_fixture_repo(name: str = "odoo-finance-noncompliant") -> ScanResult:
    """A fixture repo scanned in place with its own configuration, once per test process:
    every module reading the same scan shares it (a :class:`ScanResult` is frozen)."""
    from scanner.config import find_config, load_config
    from scanner.pipeline import scan_repo

    repo = FIXTURE_REPOS / name
    return scan_repo(repo, load_config(find_config(repo, None)))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (a small repository for a test)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def expected_markers(repo: Path) -> set[tuple[str, str]]:
    """(file, rule id) pairs marked with ``# expect: ID[, ID]`` in a fixture repo."""
    return {(path, rule_id) for path, rule_id, _ in marker_lines(repo)}


def marker_lines(repo: Path) -> set[tuple[str, str, int]]:
    """(file, rule id, line) of every ``# expect:`` marker in a fixture repo."""
    found: set[tuple[str, str, int]] = set()
    for path in sorted(repo.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(repo).as_posix()
        for match in EXPECT_MARK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            for rule_id in match.group(1).split(","):
                if rule_id.strip():
                    found.add((rel, rule_id.strip(), line))
    return found


def copy_fixture_repo(
    target: Path,
    name: str = "odoo-finance-noncompliant",
    *,
    waivers: str | None = None,
    include_rules: tuple[str, ...] = (),
) -> Path:
    """A writable copy of a fixture repo, optionally with a waiver register and a fixed rule
    selection (which keeps expected outputs independent of the packs growing)."""
    import shutil

    shutil.copytree(FIXTURE_REPOS / name, target)
    if waivers is not None:
        (target / "waivers.yaml").write_text(waivers)
    if include_rules:
        merge_config(target / "ledgergate.yaml", {"rules": {"include": list(include_rules)}})
    return target


CUSTOM_RULE = """id: {id}
title: custom rule under test
severity: high
family: workloads
controls: [{{framework: soc2, id: CC6.1}}, {{framework: nist-800-53-r5, id: CM-6}}]
match:
  resources: [{{apiGroups: [apps], kinds: [Deployment]}}]
{body}
remediation: Fix the object so that the rule can judge it.
procedure: Read the object; passes when the assertion holds.
"""


def custom_rule_repo(root: Path, rule_id: str, body: str) -> Path:
    """``root`` as a repository whose own rule folder (``policies/``) holds one Deployment
    rule, the only one selected; ``body`` is its YAML from ``assert`` on (a line indented
    by two spaces still belongs to ``match``, e.g. a ``condition``)."""
    policies = root / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    (policies / f"{rule_id}.yaml").write_text(CUSTOM_RULE.format(id=rule_id, body=body))
    (root / "ledgergate.yaml").write_text(f"rules:\n  paths: [policies]\n  include: [{rule_id}]\n")
    return root


def merge_config(config: Path, extra: dict[str, Any]) -> None:
    """Merge sections into a ``ledgergate.yaml`` (appending a second ``rules:`` would be a
    duplicate key, which the tool refuses)."""
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def write_key_pair(folder: Path, kind: str) -> tuple[Path, Path]:
    """A fresh ECDSA P-256 (``ec``) or Ed25519 (``ed``) key pair as PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else ed25519.Ed25519PrivateKey.generate()
    )
    private, public = folder / f"{kind}.pem", folder / f"{kind}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


#: The RBAC files the RBAC answers are about; other packs' fixtures grow independently.
RBAC_FILES = ("ledgergate.yaml", "platform/rbac-sod", "platform/rbac/operators.yaml")


def rbac_only_repo(name: str) -> Path:
    """A copy of a fixture repo holding only its RBAC separation-of-duties files."""
    import shutil
    import tempfile

    target = Path(tempfile.mkdtemp(prefix="rbac-")) / name
    for rel in RBAC_FILES:
        src = FIXTURE_REPOS / name / rel
        if src.is_dir():
            shutil.copytree(src, target / rel)
        elif src.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target / rel)
    return target


from tests.kubeapi.fixtures import kube_server, kube_target  # noqa: E402, F401


def scanned_bundle(base: Path, fixture: str = "odoo-finance-noncompliant") -> Path:
    """Scan a copy of a fixture repo at a pinned time into ``base/b``; the bundle folder."""
    import shutil

    from click.testing import CliRunner

    from scanner.cli import cli

    repo = base / "repo"
    shutil.copytree(FIXTURE_REPOS / fixture, repo)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "1767225600")
        done = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(base / "b")])
    assert done.exit_code in (0, 1), done.output
    return base / "b"


@pytest.fixture(autouse=True, scope="session")
def _cache_outside_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """CLI scans in tests keep their content cache in a session temp folder, not ~/.cache."""
    os.environ.setdefault("LEDGERGATE_CACHE_DIR", str(tmp_path_factory.mktemp("lg-cache")))


@pytest.fixture(autouse=True)
def _no_cache_between_tests() -> Any:
    """An in-process CLI run turns the content cache on for the process; the next test
    starts without it (a cached render would hide a timeout another test stages)."""
    yield
    from scanner import cache

    cache.configure(None)


@pytest.fixture(autouse=True)
def _terminal_preferences_per_test() -> Any:
    """``--quiet`` and ``--no-color`` of an in-process CLI run are the process's terminal
    preferences; the next test starts with the defaults (a quiet run silenced the spinner
    of a later test in the same worker)."""
    yield
    from scanner.terminal import TERMINAL

    TERMINAL.no_color = TERMINAL.quiet = False
    TERMINAL.spinners.clear()
