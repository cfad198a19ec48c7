"""The content cache: a second scan hits it and writes the same bytes; a changed file
misses; a corrupt, swapped or foreign entry is ignored; no secret is stored readable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scanner import cache
from scanner.config import load_config
from scanner.pipeline import scan_repo
from scanner.reporters.json import JsonReporter
from scanner.reporters.sarif import SarifReporter

from .conftest import FIXTURE_REPOS

#: A secret the non-compliant fixture plants in clear (mail-config.yaml, LG-SEC-004).
PLANTED = "r8Vq#2mLx!9TzK4w"


def _outputs(root: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    result = scan_repo(root, load_config(None))
    return JsonReporter().render(result), SarifReporter().render(result)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", target)
    return target


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_entry_round_trip_and_a_corrupt_or_swapped_entry_is_a_miss(tmp_path: Path) -> None:
    store = cache.Cache(tmp_path)
    one, two = cache.digest("t", ["one"]), cache.digest("t", ["two"])
    store.put(one, {"v": [1, "x"]})
    store.put(two, {"v": 2})
    assert store.get(one) == {"v": [1, "x"]}
    path_one, _ = store._where(one)
    path_two, _ = store._where(two)
    path_one.write_bytes(path_two.read_bytes())  # another content's entry under this name
    assert store.get(one) is None
    blob = bytearray(path_two.read_bytes())
    blob[-1] ^= 1
    path_two.write_bytes(bytes(blob))
    assert store.get(two) is None
    path_two.write_bytes(b"")
    assert store.get(two) is None
    assert store.get(cache.digest("t", ["never stored"])) is None
    assert (store.hits, store.misses) == (1, 4)


def test_digest_parts_cannot_be_regrouped() -> None:
    assert cache.digest("t", ["ab", "c"]) != cache.digest("t", ["a", "bc"])
    assert cache.digest("t", ["a"]) != cache.digest("u", ["a"])


@pytest.mark.needs_tool("kubectl")
def test_second_scan_hits_and_writes_the_same_bytes(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = _outputs(repo, monkeypatch)  # no cache configured: the reference
    store = cache.configure(tmp_path / "cache")
    assert store is not None
    first = _outputs(repo, monkeypatch)
    assert store.hits == 0 and store.misses > 0
    written = len(_entries(tmp_path / "cache"))
    assert written > 0
    store.hits = store.misses = 0
    from scanner.sources.render import built

    restored: list[object] = []
    real = built.decode
    monkeypatch.setattr(built, "decode", lambda *a: restored.append(a) or real(*a))
    second = _outputs(repo, monkeypatch)
    # nothing derived again, nothing new written; a root whose built objects are served
    # reads neither its output, that output's parse nor its source files' parses
    assert restored and store.hits > 0 and store.misses == 0
    assert len(_entries(tmp_path / "cache")) == written
    assert first == cold and second == cold


@pytest.mark.needs_tool("kubectl")
def test_a_changed_file_misses_and_is_judged_anew(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cache.configure(tmp_path / "cache")
    assert store is not None
    before, _ = _outputs(repo, monkeypatch)
    config = repo / "apps" / "odoo" / "mail-config.yaml"
    config.write_text(config.read_text().replace(PLANTED, "changed-" + PLANTED[::-1]))
    store.hits = store.misses = 0
    after, _ = _outputs(repo, monkeypatch)
    cache.configure(None)
    fresh, _ = _outputs(repo, monkeypatch)
    assert store.misses >= 1 and store.hits > 0
    assert after == fresh and after != before


@pytest.mark.needs_tool("kubectl")
def test_corrupt_entries_are_ignored_and_rewritten(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    store = cache.configure(folder)
    assert store is not None
    first = _outputs(repo, monkeypatch)
    entries = _entries(folder)
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:-5] + b"XXXXX")
    store.hits = store.misses = 0
    assert _outputs(repo, monkeypatch) == first
    assert store.hits == 0 and store.misses >= len(entries)
    store.hits = store.misses = 0
    assert _outputs(repo, monkeypatch) == first
    assert store.misses == 0  # rewritten valid entries


@pytest.mark.needs_tool("kubectl")
def test_no_secret_value_is_stored_readable(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    cache.configure(folder)
    _outputs(repo, monkeypatch)
    stored = b"".join(p.read_bytes() for p in _entries(folder))
    assert stored and PLANTED.encode() not in stored
    assert b"apiVersion" not in stored  # nothing of the parsed content is in clear


def test_cli_refuses_a_cache_inside_the_repository_and_no_cache_writes_nothing(
    repo: Path, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from scanner.cli import cli as group

    runner = CliRunner()
    inside = runner.invoke(group, ["scan", "repo", str(repo), "--cache-dir", str(repo / ".c")])
    assert inside.exit_code == 2 and "inside the scanned repository" in inside.output
    outside = tmp_path / "cache"
    done = runner.invoke(
        group, ["scan", "repo", str(repo), "--cache-dir", str(outside), "--no-cache"]
    )
    assert done.exit_code in (0, 1), done.output
    assert not outside.exists()


@pytest.mark.needs_tool("kubectl")
def test_a_root_kustomize_refuses_is_answered_from_the_cache_the_second_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kustomize's refusal (exit 1) is as repeatable as its output: a warm scan of a tree
    with a broken root must not run kubectl for it again (it did on every commit)."""
    from scanner.sources.render import kustomize

    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [missing.yaml]\n"
    )
    runs: list[str] = []
    real = kustomize.Kustomize._run

    def counted(self: kustomize.Kustomize, folder: str) -> tuple[str, str]:
        runs.append(folder)
        return real(self, folder)

    monkeypatch.setattr(kustomize.Kustomize, "_run", counted)
    cold, _ = _outputs(repo, monkeypatch)
    assert "not rendered" in cold and runs == ["app"]
    cache.configure(tmp_path / "cache")
    first, _ = _outputs(repo, monkeypatch)
    second, _ = _outputs(repo, monkeypatch)
    cache.configure(None)
    assert runs == ["app", "app"]  # the cold run and the one filling the cache
    assert first == cold and second == cold


def test_a_templated_manifest_is_reported_as_such_from_a_warm_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Documents served from the cache skip the template scan only where it cannot find
    anything (JSON keys are strings); a ``{{ }}`` manifest is refused on every run."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n"
        "data:\n  a: '{{ not a key }}'\n"
    )
    (repo / "plain.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n"
        "data:\n  a: '{{ only a value }}'\n"
    )
    cache.configure(tmp_path / "cache")
    runs = [_outputs(repo, monkeypatch)[0] for _ in range(2)]
    cache.configure(None)
    assert runs[0] == runs[1] == _outputs(repo, monkeypatch)[0]
    assert runs[1].count('"ruleId": "input/template"') == 1 and "cm.yaml" in runs[1]


@pytest.mark.needs_tool("kubectl")
def test_evidence_lines_of_cached_files_come_from_the_cache_the_second_time(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached file's document was composed again for every finding's line on every warm
    run; the places are kept, so a warm run composes nothing and says the same."""
    from scanner.sources import repo as repo_source

    composed: list[int] = []
    real = repo_source.document_node

    def counted(text: str, offset: int) -> object:
        composed.append(offset)
        return real(text, offset)

    monkeypatch.setattr(repo_source, "document_node", counted)
    cold = _outputs(repo, monkeypatch)
    cache.configure(tmp_path / "cache")
    composed.clear()
    first = _outputs(repo, monkeypatch)  # fills the cache
    assert composed  # documents with findings were composed for their lines
    composed.clear()
    second = _outputs(repo, monkeypatch)
    cache.configure(None)
    assert composed == []
    assert first == cold and second == cold
