"""The content cache answers a rule file's schema check only for the very inputs it
checked: the rule's text, the rule schema, the tool's code and the validator's version;
and it lets a text whose expressions all compiled before defer their compiles to the
first evaluation (same inputs plus the CEL compiler's version), judging exactly as a
fresh compile."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner import cache, rules, shipped
from scanner.errors import RulePackError
from scanner.rules import load_rules

from .test_rule_loading import GOOD


@pytest.fixture
def store(tmp_path: Path) -> Iterator[cache.Cache]:
    configured = cache.configure(tmp_path / "cache")
    assert configured is not None
    rules._check_context.cache_clear()
    yield configured
    cache.configure(None)
    rules._check_context.cache_clear()


def _pack(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "pack" / "custom"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "LG-TLS-001.yaml").write_text(text)
    return tmp_path / "pack"


def test_a_checked_rule_is_answered_from_the_cache_and_loads_the_same(
    tmp_path: Path, store: cache.Cache
) -> None:
    pack = _pack(tmp_path, GOOD)
    cold = load_rules([pack]).rules
    store.hits = store.misses = 0
    warm = load_rules([pack]).rules
    assert store.hits == 2 and store.misses == 0  # the schema check, the compile record
    cache.configure(None)
    fresh = load_rules([pack]).rules
    assert [r.source for r in warm] == [r.source for r in cold] == [r.source for r in fresh]
    assert [(r.id, r.assertion.source, r.severity) for r in warm] == [
        (r.id, r.assertion.source, r.severity) for r in fresh
    ]


def test_a_changed_rule_text_misses_and_a_bad_rule_is_still_refused(
    tmp_path: Path, store: cache.Cache
) -> None:
    pack = _pack(tmp_path, GOOD)
    load_rules([pack])
    _pack(tmp_path, GOOD.replace("severity: high", "severity: low"))
    store.hits = store.misses = 0
    changed = load_rules([pack]).rules
    assert store.misses == 2 and changed[0].severity.value == "low"  # check and compile
    _pack(tmp_path, GOOD.replace("severity: high", "severity: severe"))
    with pytest.raises(RulePackError) as caught:
        load_rules([pack])
    assert "severity" in caught.value.diagnostics()
    with pytest.raises(RulePackError):  # a failure is never kept: refused again, fresh
        load_rules([pack])


def test_a_changed_schema_misses(
    tmp_path: Path, store: cache.Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _pack(tmp_path, GOOD)
    load_rules([pack])
    schema = json.loads(shipped.schema_path("rule.schema.json").read_text())
    schema["required"] = [*schema.get("required", []), "rationaleNeverGiven"]
    stricter = tmp_path / "schemas" / "rule.schema.json"
    stricter.parent.mkdir()
    stricter.write_text(json.dumps(schema))
    real = shipped.schema_path
    monkeypatch.setattr(
        shipped, "schema_path", lambda name: stricter if name == "rule.schema.json" else real(name)
    )
    rules._rule_schema.cache_clear()
    rules._check_context.cache_clear()
    try:
        with pytest.raises(RulePackError) as caught:
            load_rules([pack])
    finally:
        rules._rule_schema.cache_clear()
    assert "rationaleNeverGiven" in caught.value.diagnostics()


def test_changed_code_misses(
    tmp_path: Path, store: cache.Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _pack(tmp_path, GOOD)
    load_rules([pack])
    monkeypatch.setattr(cache, "code_digest", lambda: "other code")
    rules._check_context.cache_clear()
    store.hits = store.misses = 0
    load_rules([pack])
    assert store.hits == 0 and store.misses == 2


def test_the_entry_is_neither_readable_nor_code(tmp_path: Path, store: cache.Cache) -> None:
    pack = _pack(tmp_path, GOOD)
    load_rules([pack])
    entries = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(entries) == 2  # the checked data, the compile record
    for entry in entries:
        blob = entry.read_bytes()
        assert b"LG-TLS-001" not in blob and b"IngressRoute" not in blob
        assert not blob.startswith(b"\x80")  # not a pickle


def _verdicts(loaded: list[rules.Rule], bodies: list[dict[str, object]]) -> list[object]:
    from scanner import celrt

    return [r.assertion.evaluate(celrt.activation({"object": b})) for r in loaded for b in bodies]


BODIES: list[dict[str, object]] = [{"spec": {"tls": {"secretName": "x"}}}, {"spec": {}}, {}]


def test_a_rule_that_compiled_before_compiles_at_its_first_evaluation_and_judges_the_same(
    tmp_path: Path, store: cache.Cache
) -> None:
    pack = _pack(tmp_path, GOOD)
    cold = list(load_rules([pack]).rules)
    assert all(r.assertion.compiled is not None for r in cold)
    warm = list(load_rules([pack]).rules)
    assert all(r.assertion.compiled is None for r in warm)  # deferred
    assert warm[0].assertion == cold[0].assertion  # same source, same program
    cache.configure(None)
    fresh = list(load_rules([pack]).rules)
    assert _verdicts(warm, BODIES) == _verdicts(fresh, BODIES) == [True, False, False]
    assert all(r.assertion.compiled is not None for r in warm)  # compiled once, on first use


def test_a_rule_that_does_not_compile_is_never_recorded(tmp_path: Path, store: cache.Cache) -> None:
    bad = GOOD.replace("object.spec.tls != null", "object.spec.tls != null &&")
    pack = _pack(tmp_path, bad)
    for _ in range(2):  # refused from a fresh compile each time: nothing was kept
        with pytest.raises(RulePackError) as caught:
            load_rules([pack])
        assert "assert: CEL does not compile" in caught.value.diagnostics()
    _pack(tmp_path, GOOD)
    load_rules([pack])
    assert all(r.assertion.compiled is None for r in load_rules([pack]).rules)


def test_another_cel_compiler_compiles_again(
    tmp_path: Path, store: cache.Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _pack(tmp_path, GOOD)
    load_rules([pack])
    monkeypatch.setattr(rules, "_compiler_version", lambda: "0.0.0-other")
    assert all(r.assertion.compiled is not None for r in load_rules([pack]).rules)


def test_a_deferred_expression_that_no_longer_compiles_is_an_evaluation_error() -> None:
    from scanner import celrt

    program = celrt.compile_expression("object.spec &&", deferred=True)
    with pytest.raises(celrt.CelEvalError, match="does not compile"):
        program.evaluate(celrt.activation({"object": {"spec": True}}))
