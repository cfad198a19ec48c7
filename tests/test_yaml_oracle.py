"""kubectl is the oracle: our reading of every YAML file equals what kubectl decodes.

``kubectl label --local -f FILE -o json --overwrite oracle=1`` decodes offline with the
same code as ``kubectl apply`` (sigs.k8s.io/yaml). Files are sent in batches (kubectl
takes many ``-f``); a batch kubectl refuses is split until the refusing file is alone.
The same label is put on our objects, then both sides are compared value and type alike.
A property test (hypothesis) does the same for generated scalars and structures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.sources.kubeyaml import DocumentError, parse_yaml

from .conftest import ROOT

KUBECTL = shutil.which("kubectl")
BATCH = 200
LARGE = 1_000_000
#: kubectl errors that mean "could not decode", as opposed to refusing a decoded object.
DECODE_ERRORS = ("error converting YAML to JSON", "invalid Yaml document separator", "yaml:")
_INT64 = 2**63


def _canon(objects: list[Any]) -> str:
    """JSON text, so ``True`` never equals ``1`` nor ``1`` equals ``1.0``."""
    return json.dumps(objects, sort_keys=True, ensure_ascii=False)


def _big_int(text: str) -> int | float:
    """kubectl prints a large float64 without exponent; Kubernetes reads it as a float."""
    value = int(text)
    return value if -_INT64 <= value < _INT64 else float(value)


def _labelled(obj: dict[str, Any]) -> dict[str, Any]:
    """Our object as ``kubectl label oracle=1`` leaves it (copied only where it changes)."""
    meta = obj.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    labels = meta.get("labels")
    meta["labels"] = {**(labels if isinstance(labels, dict) else {}), "oracle": "1"}
    return {**obj, "metadata": meta}


def _ours(path: Path) -> tuple[list[Any], bool, bool]:
    """(labelled objects, any decode error, any non-object document)."""
    text = path.read_text(encoding="utf-8-sig")
    objects: list[Any] = []
    failed = other = False
    for doc in parse_yaml(text):
        if isinstance(doc, DocumentError):
            failed = True
            continue
        data = doc.data
        if not isinstance(data, dict) or not data.get("kind") or not data.get("apiVersion"):
            other = True
        elif str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
            objects.extend(_labelled(i) for i in data["items"] if isinstance(i, dict))
        else:
            objects.append(_labelled(data))
    return objects, failed, other


def _json_stream(text: str) -> list[Any]:
    decoder, found, position = json.JSONDecoder(parse_int=_big_int), [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return found
        value, position = decoder.raw_decode(text, position)
        found.append(value)


def _kubectl(paths: Sequence[Path]) -> tuple[list[Any] | None, str]:
    """kubectl's objects for the files, or None and its error."""
    assert KUBECTL is not None, "kubectl is the oracle: install it (scripts/install.sh)"
    args = [KUBECTL, "label", "--local", "-o", "json", "--overwrite"]
    for path in paths:
        args += ["-f", str(path)]
    done = subprocess.run(
        [*args, "oracle=1"], capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        return None, done.stderr.strip()
    return _json_stream(done.stdout), ""


def _differences(paths: Sequence[Path]) -> Iterator[str]:
    """Every disagreement between our reading and kubectl's for these files."""
    ours = {p: _ours(p) for p in paths}
    clean = [p for p in paths if not ours[p][1] and not ours[p][2] and ours[p][0]]
    for path in paths:
        if ours[path][1]:  # we refused something: kubectl must refuse the file too
            theirs, _error = _kubectl([path])
            if theirs is not None:
                yield f"{path}: we report a decode error, kubectl reads it"
    yield from _compare(clean, ours)


def _compare(
    paths: Sequence[Path], ours: dict[Path, tuple[list[Any], bool, bool]]
) -> Iterator[str]:
    if not paths:
        return
    theirs, error = _kubectl(paths)
    if theirs is None:
        if len(paths) > 1:
            middle = len(paths) // 2
            yield from _compare(paths[:middle], ours)
            yield from _compare(paths[middle:], ours)
        elif any(marker in error for marker in DECODE_ERRORS):
            yield f"{paths[0]}: we read it, kubectl cannot decode it: {error[:300]}"
        return  # kubectl refused a decoded object (e.g. a typed field): not a decoding matter
    expected = [o for p in paths for o in ours[p][0]]
    if _canon(theirs) == _canon(expected):
        return
    if len(paths) > 1:
        middle = len(paths) // 2
        yield from _compare(paths[:middle], ours)
        yield from _compare(paths[middle:], ours)
    else:
        ours_text, theirs_text = _canon(expected), _canon(theirs)
        at = next(i for i, (a, b) in enumerate(zip(ours_text, theirs_text, strict=False)) if a != b)
        yield (
            f"{paths[0]}: objects differ from kubectl's at character {at}:\n"
            f"  ours   ...{ours_text[max(0, at - 80) : at + 80]}\n"
            f"  theirs ...{theirs_text[max(0, at - 80) : at + 80]}"
        )


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in {".yaml", ".yml"} and p.is_file() and "templates" not in p.parts
    )


def _batches(paths: Sequence[Path]) -> Iterator[Sequence[Path]]:
    for start in range(0, len(paths), BATCH):
        yield paths[start : start + BATCH]


@pytest.mark.parametrize("folder", ["fixtures", "rules"])
def test_shipped_yaml_reads_as_kubectl_reads_it(folder: str) -> None:
    paths = _yaml_files(ROOT / folder)
    assert paths
    differences = [d for batch in _batches(paths) for d in _differences(batch)]
    assert differences == []


def _corpus_sample(corpus: Path) -> list[Path]:
    """Every corpus file up to 1 MB, plus the largest file of each archive: the multi-MB
    CRD bundles repeat one another and would triple the run time (kept under a minute)."""
    paths = _yaml_files(corpus)
    small = [p for p in paths if p.stat().st_size <= LARGE]
    largest = {
        archive.name: max(
            (p for p in paths if p.is_relative_to(archive)), key=lambda p: p.stat().st_size
        )
        for archive in corpus.iterdir()
        if any(p.is_relative_to(archive) for p in paths)
    }
    return sorted({*small, *largest.values()})


def test_corpus_yaml_reads_as_kubectl_reads_it(corpus: Path) -> None:
    paths = _corpus_sample(corpus)
    assert len(paths) > 500
    differences = [d for batch in _batches(paths) for d in _differences(batch)]
    assert differences == []


# --- property test ------------------------------------------------------------------------

_WORDS = ["y", "Y", "yes", "No", "ON", "off", "true", "False", "null", "~", "yEs", "oN", "<<"]
_NUMBERS = [
    "0",
    "-0",
    "+1",
    "017",
    "08",
    "0o17",
    "0x1F",
    "0b101",
    "-0b11",
    "1_000",
    "1e3",
    "1E+3",
    ".5",
    "-.5e-3",
    "1.",
    "1e999",
    "9223372036854775808",
    "18446744073709551616",
    "0x_1F",
    "1:20",
    "2026-01-01",
    "12e",
    ".inf",
    "-.Inf",
    ".NaN",
    "+.5",
    "00",
    "0.0001",
    "1e21",
]
_plain = st.one_of(
    st.sampled_from(_WORDS + _NUMBERS),
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9_.-]{0,8}", fullmatch=True),
    st.from_regex(r"[-+]?[0-9][0-9_.eExXoObB+-]{0,6}", fullmatch=True),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_quoted = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)


def _scalar_text(value: tuple[str, str]) -> str:
    style, text = value
    if style == "plain":
        return text
    return json.dumps(text)


_scalars = st.one_of(_plain.map(lambda t: ("plain", t)), _quoted.map(lambda t: ("quoted", t)))


def _json_key(text: str) -> object:
    """The JSON key a key text becomes, or the error text when it cannot be one."""
    (doc,) = list(parse_yaml(f"{{{text}: 0}}\n"))
    return next(iter(doc.data)) if not isinstance(doc, DocumentError) else doc.message


def _distinct_keys(mapping: dict[str, str]) -> bool:
    """Keys of different Go types that meet as one JSON key (``1_000`` and ``1e3``) make
    kubectl keep a random one (Go map order): such mappings are not generated."""
    keys = [_json_key(k) for k in mapping]
    return len(set(map(str, keys))) == len(keys)


_values = st.recursive(
    _scalars.map(_scalar_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.one_of(_scalars.map(_scalar_text)), children, max_size=4)
        .filter(_distinct_keys)
        .map(lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"),
    ),
    max_leaves=12,
)
_documents = st.lists(
    st.tuples(st.from_regex(r"k[a-z0-9]{0,4}", fullmatch=True), _values), max_size=6
)


def _manifest(fields: list[tuple[str, str]]) -> str:
    body = "".join(f"  {key}: {value}\n" for key, value in fields)
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\nx:\n{body}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_documents, min_size=1, max_size=8))
def test_generated_scalars_and_structures_read_as_kubectl_reads_them(
    tmp_path_factory: pytest.TempPathFactory, streams: list[list[tuple[str, str]]]
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    paths = []
    for i, fields in enumerate(streams):
        path = folder / f"f{i}.yaml"
        path.write_text(
            _manifest(fields)
            if fields
            else "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e}\n"
        )
        paths.append(path)
    assert list(_differences(paths)) == []


@pytest.mark.parametrize(
    "body",
    [
        "  k: [.inf]\n  k: []\n",  # hypothesis found it: the kept value is JSON, kubectl reads it
        "  k: .nan\n  j: 1\n  k: 2\n",
        "  k: [1]\n  k: .inf\n",  # the kept value is not: refused by both
        "  k: {a: .inf}\n  <<: {j: 1}\n  k: 3\n",  # a merge: every value built
    ],
)
def test_a_duplicate_keys_overwritten_value_is_never_converted(tmp_path: Path, body: str) -> None:
    """kubectl keeps a duplicate key's last value and converts only that to JSON, so an
    earlier value JSON cannot hold is no error there; one it keeps still is."""
    path = tmp_path / "dup.yaml"
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\nx:\n{body}")
    assert list(_differences([path])) == []


def test_oracle_comparison_can_fail(tmp_path: Path) -> None:
    """The comparison itself notices a difference (a reader reading ``yes`` as a string)."""
    path = tmp_path / "a.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx: yes\n")
    objects, _, _ = _ours(path)
    objects[0]["x"] = "yes"
    assert list(_compare([path], {path: (objects, False, False)})) != []
