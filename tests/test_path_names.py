"""The string splits the repo source uses on every listed path agree with pathlib."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from scanner.sources.kustomization import FILE_NAMES, file_name, is_kustomization
from scanner.sources.render.kustomize import find_kustomizations
from scanner.sources.repo import _suffix

#: Paths made of the characters that decide a name and a suffix.
PATHS = st.text(alphabet="ab./", min_size=1, max_size=12).filter(lambda p: p != "/" * len(p))


@given(PATHS)
def test_name_and_suffix_are_pathlibs(path: str) -> None:
    assert file_name(path) == PurePosixPath(path).name
    name = PurePosixPath(path).name
    assert _suffix(name) == PurePosixPath(name).suffix


@given(st.lists(st.sampled_from(["a", "a/b", "b", "."]), max_size=4), st.randoms())
def test_kustomization_names_and_folders_are_pathlibs(folders: list[str], rnd: object) -> None:
    names = sorted(FILE_NAMES)
    paths = [
        f"{f}/{names[i % len(names)]}" if f != "." else names[i % len(names)]
        for i, f in enumerate(folders)
    ] + ["a/b/deploy.yaml", "Kustomization.yaml"]
    assert all(is_kustomization(p) == (PurePosixPath(p).name in FILE_NAMES) for p in paths)
    expected: dict[str, str] = {}
    order = ("kustomization.yaml", "kustomization.yml", "Kustomization")
    for path in sorted(
        paths,
        key=lambda p: order.index(PurePosixPath(p).name) if PurePosixPath(p).name in order else 9,
    ):
        if PurePosixPath(path).name in order:
            expected.setdefault(str(PurePosixPath(path).parent), path)
    assert find_kustomizations(paths) == expected
