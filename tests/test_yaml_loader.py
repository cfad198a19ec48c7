"""The fast YAML path and the PyYAML reference path agree on data and line spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.sources import yamldocs
from scanner.sources.yamldocs import Document, DocumentError, parse_yaml, reference_parse

from .conftest import ROOT

YAML_FILES = sorted(
    p
    for folder in ("fixtures", "rules")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in {".yaml", ".yml"} and p.is_file()
)

TRICKY = {
    "comments-and-blank-lines": "# head\n\n---\n# only a comment\n---\n\na: 1  # c\n\n# tail\n",
    "block-scalar-with-dashes": "a: |\n  ---\n  not a marker\nb: 2\n",
    "timestamps-stay-strings": "when: 2026-01-01\nat: 2026-01-01T10:00:00Z\n",
    "yaml11-booleans": "a: yes\nb: off\nc: [on, NO]\n",
    "yaml11-flow-only": "c: [on]\nd: {e: Off}\n",
    "not-yaml11": "image: r/a@sha256:0755\nkey:no-space\nname: noon\n",
    "octal-mode": "defaultMode: 0644\n",
    "list-kind": "apiVersion: v1\nkind: List\nitems:\n  - {kind: A}\n  - kind: B\n    x: 1\n",
    "trailing-marker": "a: 1\n---\n",
    "binary-stays-base64": "blob: !!binary aGVsbG8=\nother: !!binary |\n  aGVs\n  bG8=\n",
    "flow-and-quotes": "a: {b: [1, 2], c: 'x: y'}\nd: \"multi\n  line\"\n",
}


def _docs(items: object) -> list[tuple[object, int, int]]:
    out = []
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, Document):
            out.append((item.data, item.start_line, item.end_line))
        else:
            assert isinstance(item, DocumentError)
            out.append((item.code, item.line, 0))
    return out


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fast_path_matches_reference_on_every_shipped_yaml(path: Path) -> None:
    text = path.read_text()
    assert _docs(parse_yaml(text)) == _docs(reference_parse(text))


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_fast_path_matches_reference_on_tricky_streams(name: str) -> None:
    text = TRICKY[name]
    assert _docs(parse_yaml(text)) == _docs(reference_parse(text))


def test_timestamps_are_strings_on_both_paths() -> None:
    docs = list(parse_yaml(TRICKY["timestamps-stay-strings"]))
    assert isinstance(docs[0], Document)
    assert docs[0].data == {"when": "2026-01-01", "at": "2026-01-01T10:00:00Z"}


def test_yaml11_scalars_read_as_kubernetes_reads_them() -> None:
    docs = list(parse_yaml(TRICKY["yaml11-booleans"] + TRICKY["octal-mode"]))
    assert isinstance(docs[0], Document)
    assert docs[0].data == {"a": True, "b": False, "c": [True, False], "defaultMode": 420}


def test_duplicate_keys_are_refused() -> None:
    (error,) = list(parse_yaml("a: 1\nb: 2\na: 3\n"))
    assert isinstance(error, DocumentError)
    assert error.code == "duplicate-key" and error.line == 3


def test_a_broken_document_does_not_hide_the_next_one() -> None:
    docs = list(parse_yaml("a: [\n---\nb: 2\n"))
    assert [type(d).__name__ for d in docs] == ["DocumentError", "Document"]
    assert isinstance(docs[1], Document) and docs[1].start_line == 3


def test_fast_path_is_used_for_ordinary_manifests(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(yamldocs, "reference_parse", lambda *a: calls.append("ref") or iter(()))
    list(parse_yaml("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"))
    assert calls == []
