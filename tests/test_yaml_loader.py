"""The manifest reader decodes YAML as kubectl does (go-yaml v2 via sigs.k8s.io/yaml).

Each case is a way the previous two-parser design disagreed with ``kubectl apply``;
``test_yaml_oracle.py`` checks the same against the real kubectl.
"""

from __future__ import annotations

from typing import Any

import pytest

from scanner.sources.kubeyaml import Document, DocumentError, parse_yaml

HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"


def _one(text: str) -> Any:
    (doc,) = list(parse_yaml(text))
    assert isinstance(doc, Document), doc
    return doc.data


def _error(text: str) -> DocumentError:
    (doc,) = list(parse_yaml(text))
    assert isinstance(doc, DocumentError), doc
    return doc


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("y", True),
        ("Y", True),
        ("yes", True),
        ("On", True),
        ("n", False),
        ("NO", False),
        ("off", False),
        ("yEs", "yEs"),  # go-yaml v2 knows three spellings of each word, no more
        ("1:20", "1:20"),  # no base 60
        ("2026-01-01", "2026-01-01"),  # timestamps stay strings
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z"),
        ("1e3", 1000),  # a float, then an integer after the JSON round trip
        ("0o17", 15),
        ("017", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("08", 8),
        ("1_000", 1000),
        (".5", 0.5),
        ("1e999", "1e999"),  # out of float range: Go keeps the string
        ("18446744073709551615", 1.8446744073709552e19),  # uint64: a float after JSON
        ("=", "="),  # YAML 1.1's "value" tag; a string to kubectl
        ("~", None),
        ("", None),
    ],
)
def test_plain_scalars_resolve_as_go_yaml_v2(scalar: str, value: object) -> None:
    got = _one(f"{HEAD}x: {scalar}\n")["x"]
    assert got == value and type(got) is type(value)


def test_the_two_rules_the_issue_names_see_booleans() -> None:
    data = _one("spec:\n  snapshotVolumes:\n    no\n  insecureSkipVerify: y\n")
    assert data["spec"] == {"snapshotVolumes": False, "insecureSkipVerify": True}


def test_merge_key_is_applied() -> None:
    text = "base: &b {rules: [{verbs: ['*']}]}\nrole:\n  <<: *b\n"
    assert _one(text)["role"] == {"rules": [{"verbs": ["*"]}]}


def test_merge_precedence_follows_document_order_and_first_listed_map() -> None:
    text = "m:\n  p: 1\n  <<: [{p: 2, q: 2}, {q: 3, r: 3}]\n  r: 0\n"
    assert _one(text)["m"] == {"p": 2, "q": 2, "r": 0}


def test_crlf_stream_keeps_every_object() -> None:
    text = (HEAD + "x: 1\n---\n" + HEAD.replace("a}", "b}")).replace("\n", "\r\n")
    docs = list(parse_yaml(text))
    assert [d.data["metadata"]["name"] for d in docs if isinstance(d, Document)] == ["a", "b"]


def test_byte_order_mark_at_a_later_document() -> None:
    docs = list(parse_yaml(HEAD + "---\n\ufeff" + HEAD.replace("a}", "b}")))
    assert [d.data["metadata"]["name"] for d in docs if isinstance(d, Document)] == ["a", "b"]
    assert docs[1].start_line == 5  # type: ignore[union-attr]


def test_last_line_without_newline_ends_like_kubectl() -> None:
    assert _one("data:\n  conf: |\n    a\n    b")["data"]["conf"] == "a\nb\n"


def test_an_anchor_may_be_defined_again() -> None:
    assert _one("a: &k 1\nb: *k\nc: &k 2\nd: *k\n") == {"a": 1, "b": 1, "c": 2, "d": 2}


def test_binary_is_decoded_as_kubectl_stores_it() -> None:
    data = _one("stringData:\n  password: !!binary cGFzc3dvcmQxMjM=\n")
    assert data["stringData"]["password"] == "password123"


def test_flow_mapping_with_adjacent_value() -> None:
    assert _one('spec: {"paused":yes}\n')["spec"] == {"paused": True}


def test_duplicate_keys_keep_the_last_value() -> None:
    assert _one("a: 1\nb: 2\na: 3\n") == {"a": 3, "b": 2}


def test_map_keys_become_json_strings() -> None:
    assert _one("m: {yes: a, 3: b, 1.5: c, 1e6: d}\n")["m"] == {
        "true": "a",
        "3": "b",
        "1.5": "c",
        "1e+06": "d",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: .inf\n", "unsupported value: +Inf"),
        ("x: {~: 1}\n", "unsupported map key"),
        ("x: !!int abc\n", "cannot decode !!str `abc` as a !!int"),
        ("x: {<<: 1}\n", "map merge requires map"),
        ("x: !!binary 'a b'\n", "invalid base64"),
    ],
)
def test_values_kubectl_refuses_are_errors(text: str, message: str) -> None:
    error = _error(HEAD + text)
    assert message in error.message and error.line == 4 and error.manifest_like


def test_separator_with_content_stops_the_stream_like_kubectl() -> None:
    docs = list(parse_yaml(HEAD + "--- {a: 1}\n" + HEAD))
    assert isinstance(docs[0], Document) and isinstance(docs[1], DocumentError)
    assert "invalid Yaml document separator" in docs[1].message and docs[1].line == 4
    assert len(docs) == 2


def test_only_the_first_document_of_a_chunk_counts() -> None:
    assert _one(HEAD + "...\nx: 1\n") == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
    }


def test_a_broken_document_does_not_hide_the_next_one() -> None:
    docs = list(parse_yaml("a: [\n---\nb: 2\n"))
    assert [type(d).__name__ for d in docs] == ["DocumentError", "Document"]
    assert isinstance(docs[1], Document) and docs[1].start_line == 3


def test_json_stream_reads_numbers_as_kubernetes_does() -> None:
    docs = list(parse_yaml('{"a": 1.0, "b": 18446744073709551615}\n{"c": 2}'))
    assert [d.data for d in docs if isinstance(d, Document)] == [
        {"a": 1, "b": 1.8446744073709552e19},
        {"c": 2},
    ]
    assert docs[1].start_line == 2  # type: ignore[union-attr]


def test_a_non_manifest_error_says_it_is_not_a_manifest() -> None:
    (error,) = list(parse_yaml('{\n  // comment\n  "compilerOptions": {}\n}\n'))
    assert isinstance(error, DocumentError) and not error.manifest_like


def test_nodes_carry_file_lines() -> None:
    from scanner.yamlutil import line_in

    docs = [
        d
        for d in parse_yaml("# c\n---\n" + HEAD + "x:\n  k: 1\n# tail\n")
        if isinstance(d, Document)
    ]
    (doc,) = docs
    assert doc.start_line == 3 and doc.end_line == 7
    assert doc.node is not None and line_in(doc.node, ["x", "k"]) + doc.line_offset == 7


def test_comment_only_and_empty_documents_yield_nothing() -> None:
    assert list(parse_yaml("# head\n\n---\n# only a comment\n---\n~\n---\n")) == []


def test_list_items_keep_their_spans() -> None:
    (doc,) = list(
        parse_yaml("apiVersion: v1\nkind: List\nitems:\n  - {kind: A}\n  - kind: B\n    x: 1\n")
    )
    assert isinstance(doc, Document) and doc.item_spans == ((4, 4), (5, 6))


def test_evidence_lines_follow_the_applied_key_and_merged_maps() -> None:
    from scanner.yamlutil import line_in

    (doc,) = list(parse_yaml("b: &b {r: 1}\nm:\n  <<: *b\n  k: 1\n  k: 2\n"))
    assert isinstance(doc, Document) and doc.node is not None
    assert line_in(doc.node, ["m", "r"]) == 1  # the merged map's own line
    assert line_in(doc.node, ["m", "k"]) == 5  # the duplicate kubectl applies
