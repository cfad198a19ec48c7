"""A warm scan (content cache, built Kustomize objects, rule checks, verdicts) never serves
a result across a change of an input it rests on: each case changes one input of the
non-compliant fixture and checks the warm result equals a scan without any cache."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner import cache, pipeline, rules, shipped
from scanner.config import load_config
from scanner.pipeline import scan_repo
from scanner.reporters.json import JsonReporter
from scanner.sources.render import built

from .conftest import FIXTURE_REPOS, ROOT

Change = Callable[[Path, Path], None]


def _edit(relative: str, old: str, new: str, *, under_rules: bool = False) -> Change:
    def change(repo: Path, packs: Path) -> None:
        path = (packs if under_rules else repo) / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative} has no {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return change


CHANGES: dict[str, Change] = {
    "an input file of a root": _edit(
        "apps/ledger-api/base/deployment.yaml", "name: ledger-api", "name: ledger-api-v2"
    ),
    "a patch": _edit(
        "apps/ledger-api/overlays/prod/deployment-patch.yaml",
        "automountServiceAccountToken: true",
        "automountServiceAccountToken: false",
    ),
    "a chart value": _edit(
        "charts/ledger-reports/values-prod.yaml",
        "password: Ledger-Reports-2026-pw!",
        'password: ""',
    ),
    "the rule pack": _edit(
        "rbac/LG-RBAC-007.yaml", "severity: medium", "severity: critical", under_rules=True
    ),
    "the config": _edit("ledgergate.yaml", '"*-staging", ', ""),
}


def _scan(repo: Path) -> str:
    result = scan_repo(repo, load_config(repo / "ledgergate.yaml"))
    return JsonReporter().render(result)


@pytest.mark.needs_tool("kubectl")
@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_changed_input_is_never_served_from_a_warm_cache(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    repo, packs = tmp_path / "repo", tmp_path / "rules"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    shutil.copytree(ROOT / "rules", packs)
    monkeypatch.setattr(shipped, "rules_dir", lambda: packs)
    monkeypatch.setattr(pipeline, "rules_dir", lambda: packs)
    rules._check_context.cache_clear()
    restored: list[int] = []
    real = built.decode

    def counted(*args: object) -> object:
        found = real(*args)  # type: ignore[arg-type]
        restored.append(len(found or ()))
        return found

    monkeypatch.setattr(built, "decode", counted)
    try:
        cache.configure(tmp_path / "cache")
        before = _scan(repo)  # fills the cache
        warm = _scan(repo)
        assert warm == before and sum(restored) > 0  # built objects came from the cache
        CHANGES[name](repo, packs)
        changed = _scan(repo)
        cache.configure(None)
        fresh = _scan(repo)
    finally:
        cache.configure(None)
        rules._check_context.cache_clear()
    assert changed == fresh, f"{name}: the warm result differs from an uncached scan"
    assert changed != before, f"{name}: the change must change the result"


def test_built_objects_are_keyed_by_the_code_that_builds_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    render_key = cache.digest("kustomize", ["root"])
    this_code = built.objects_key(render_key)
    monkeypatch.setattr(cache, "code_digest", lambda: "other code")
    assert built.objects_key(render_key) != this_code
    assert built.objects_key(cache.digest("kustomize", ["other root"])) != this_code


@pytest.mark.needs_tool("kubectl")
def test_an_entry_of_another_shape_is_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    fresh = _scan(repo)
    cache.configure(tmp_path / "cache")
    try:
        _scan(repo)
        monkeypatch.setattr(built, "decode", lambda *_: None)  # every entry unreadable
        damaged = _scan(repo)
    finally:
        cache.configure(None)
    assert damaged == fresh
    assert built.decode(["not", "objects"], ".", None) is None  # type: ignore[arg-type]
