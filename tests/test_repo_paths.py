"""``scan repo PATH...`` (the pre-commit hook): the whole repository as context, the named
paths as what is shown; the work spent on findings nobody sees is not spent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.cli import cli as group
from scanner.engine import Engine
from scanner.model import Resource
from scanner.sources.render.helmmap import HelmFieldMap
from scanner.sources.render.origins import KustomizeFieldMap

from .cirunner import git
from .conftest import FIXTURE_REPOS

#: A base Deployment whose findings the prod overlay's patch moves into the patch file.
PATCH = "apps/ledger-api/overlays/prod/deployment-patch.yaml"
BASE = "apps/ledger-api/base/deployment.yaml"
SELECTIONS = (
    (PATCH,),
    (BASE,),
    ("charts/ledger-reports/templates/cronjob.yaml",),
    ("apps/odoo/odoo.conf", "apps/odoo/deployment.yaml"),
    ("apps/ledger-api", "apps/redis/redis.conf"),  # one folder alone scans only that folder
    ("apps/ledger-api/overlays/prod/kustomization.yaml",),  # its transformers' objects
)
#: Selections with no finding of their own: the base's failures all land in the patch,
#: and the overlay's transformers set nothing a rule fails on.
QUIET = ((BASE,), ("apps/ledger-api/overlays/prod/kustomization.yaml",))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("paths") / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", target)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "estate")
    return target


def _findings(repo: Path, *paths: str, cache: Path | None = None) -> list[dict[str, object]]:
    out = repo.parent / "out.json"
    where = ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
    argv = ["scan", "repo", *(str(repo / p) for p in paths), *where, "--format", "json"]
    done = CliRunner().invoke(group, [*argv, "-o", str(out)])
    assert done.exit_code in (0, 1), done.output
    found: list[dict[str, object]] = json.loads(out.read_text(encoding="utf-8"))["findings"]
    return found


def _in(finding: dict[str, object], paths: tuple[str, ...]) -> bool:
    location = finding["location"]
    assert isinstance(location, dict)
    path = str(location.get("path") or "")
    return any(path == p or path.startswith(p + "/") for p in paths)


@pytest.mark.needs_tool("kubectl")
@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "warm-cache"])
def test_a_path_limited_scan_shows_the_full_scans_findings_in_its_paths(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cached: bool
) -> None:
    """Findings the overlay's patch moves into the patch file, a chart template's, a config
    file's: each exactly as the whole scan places them, nothing else."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    cache = tmp_path / "cache" if cached else None
    whole = _findings(repo, ".", cache=cache)
    assert any(_in(f, (PATCH,)) for f in whole)  # the fixture still relocates into the patch
    for paths in SELECTIONS:
        shown = _findings(repo, *paths, cache=cache)
        assert shown or paths in QUIET, paths
        assert shown == [f for f in whole if _in(f, paths)], paths


@pytest.mark.needs_tool("kubectl")
def test_findings_that_cannot_land_in_the_paths_are_not_placed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Placing a rendered object's finding composes its source files (a second of a warm
    hook run on the corpus): for a config file's hook run, no rendered object is placed."""
    placed: list[str] = []
    for kind in (KustomizeFieldMap, HelmFieldMap):
        real = kind.where

        def counted(self: object, path: str, real: object = real) -> object:
            placed.append(path)
            return real(self, path)  # type: ignore[operator]

        monkeypatch.setattr(kind, "where", counted)
    assert _findings(repo, "apps/odoo/odoo.conf")
    assert placed == []
    assert _findings(repo, PATCH)
    assert placed  # the patch's own findings are placed as before


@pytest.mark.needs_tool("kubectl")
def test_only_resources_whose_findings_can_show_are_judged(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rest of the repository is context for the analyzers, but judging it made
    findings nobody sees: a config file's hook run judges that file's objects and the
    ConfigMap the kustomization generates from it; the overlay patch's judges the base
    Deployment it patches, and no chart's objects."""
    judged: list[str] = []
    real = Engine._judge

    def spy(self: Engine, resource: Resource, *args: object, **kwargs: object) -> object:
        judged.append(resource.origin.path)
        return real(self, resource, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Engine, "_judge", spy)
    _findings(repo, "apps/odoo/odoo.conf")
    assert "apps/odoo/odoo.conf" in judged
    assert set(judged) <= {"apps/odoo/odoo.conf", "apps/odoo/kustomization.yaml"}
    judged.clear()
    _findings(repo, ".")
    whole = set(judged)
    assert len(whole) > 10  # a whole scan still judges everything
    judged.clear()
    _findings(repo, PATCH)
    assert BASE in judged
    assert not any(p.startswith("charts/") for p in judged)
    assert len(set(judged)) < len(whole) / 2


def _analyzed_paths(monkeypatch: pytest.MonkeyPatch, analyzer: type[Any]) -> list[set[str]]:
    """The files of the objects each call of ``analyzer.analyze`` is given, call by call."""
    seen: list[set[str]] = []
    real = analyzer.analyze

    def spy(self: Any, inventory: Any, params: Any) -> Any:
        seen.append({r.origin.path for r in inventory.resources})
        return real(self, inventory, params)

    monkeypatch.setattr(analyzer, "analyze", spy)
    return seen


@pytest.mark.needs_tool("kubectl")
def test_per_object_facts_are_derived_for_judged_objects_only(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Redis client analyzer reads each object alone: a hook run derives its facts for
    the objects it judges (their rules still see them), not for the whole repository."""
    from scanner.analyzers.redis_clients import RedisClientAnalyzer

    seen = _analyzed_paths(monkeypatch, RedisClientAnalyzer)
    assert RedisClientAnalyzer.per_object
    _findings(repo, "apps/odoo/deployment.yaml")
    assert seen == [{"apps/odoo/deployment.yaml"}]
    seen.clear()
    _findings(repo, ".")
    assert len(seen) == 1 and len(seen[0]) > 10


@pytest.mark.needs_tool("kubectl")
def test_secrets_are_searched_in_judged_objects_and_a_bundle_searches_the_rest(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook run's report names only the objects it judges, so only those are searched
    for secret values; an evidence bundle holds every object (its snapshot scrubs each
    body with every secret), so it searches the rest first: a value planted in a file the
    hook did not name stays out of the bundle, and the bundle is written."""
    import zipfile

    from scanner.analyzers.secrets import SecretLiteralsAnalyzer

    planted = "r8Vq#2mLx!9TzK4w"  # a ConfigMap's SMTP password: only the detector knows it
    assert planted in (repo / "apps/odoo/mail-config.yaml").read_text(encoding="utf-8")
    searched = _analyzed_paths(monkeypatch, SecretLiteralsAnalyzer)
    _findings(repo, "apps/odoo/deployment.yaml")
    assert searched == [{"apps/odoo/deployment.yaml"}]

    bundle = tmp_path / "bundle.zip"
    argv = ["scan", "repo", str(repo / "apps/odoo/deployment.yaml"), "--no-cache"]
    done = CliRunner().invoke(group, [*argv, "--evidence", str(bundle)])
    assert done.exit_code in (0, 1), done.output
    with zipfile.ZipFile(bundle) as archive:
        inventory = archive.read("inventory.json").decode("utf-8")
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert "mail-config.yaml" in inventory  # the unnamed file's ConfigMap is in the snapshot
    assert planted.encode() not in everything
