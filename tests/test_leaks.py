"""The bundle's last line of defence against secret values, in every spelling."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.evidence.leaks import find_leak, trie_pattern

from .conftest import FIXTURE_REPOS

SECRET = 'p<a"ss&w\\ord#2024'


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("raw.txt", f"x {SECRET} y"),
        ("a.json", '{"v": "p<a\\"ss&w\\\\ord#2024"}'),
        ("r.html", "<td>p&lt;a&#34;ss&amp;w\\ord#2024</td>"),
        ("c.csv", 'k,"p<a""ss&w\\ord#2024"\n'),
    ],
)
def test_every_spelling_is_found(name: str, text: str) -> None:
    files = {"clean.json": b'{"v": "[REDACTED sha256:abc]"}', name: text.encode()}
    assert find_leak(files, [SECRET, "unrelated-value-1"]) == name
    assert find_leak({"clean.json": files["clean.json"]}, [SECRET]) is None


def test_trie_matches_exactly_the_words() -> None:
    pattern = trie_pattern(["abcd1234", "abcd12", "zzzz9999"])
    assert pattern is not None
    assert [m.group(0) for m in pattern.finditer("abcd1 abcd12 abcd1234 zzzz999 zzzz9999")] == [
        "abcd12",
        "abcd1234",
        "zzzz9999",
    ]
    assert trie_pattern([]) is None


def test_a_leaking_reporter_stops_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.reporters.bundle as evidence

    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE_REPOS / "odoo-finance-noncompliant", repo)
    real = evidence.render_html
    monkeypatch.setattr(evidence, "render_html", lambda view: real(view) + "Zq8#vLr2!pT9wXe4")
    out = tmp_path / "bundle"
    result = CliRunner().invoke(cli, ["scan", "repo", str(repo), "--evidence", str(out)])
    assert result.exit_code == 2
    assert "report.html would contain a secret value" in result.output
    assert not out.exists()


def test_a_secret_inside_a_gzipped_member_is_found_even_across_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The population files are gzipped: their compressed bytes hide any value, so the
    check reads them inflated, piece by piece, with no value lost at a piece's edge."""
    import gzip
    import random

    from scanner.evidence import leaks

    monkeypatch.setattr(leaks, "CHUNK", 64)  # many pieces, a value straddling two
    noise = "".join(random.Random(7).choices("abcdefghij,\n", k=20_000))
    leaky = gzip.compress(f"{noise}{SECRET}{noise}".encode(), 1, mtime=0)
    clean = gzip.compress(noise.encode(), 1, mtime=0)
    assert SECRET.encode() not in leaky  # compressed, the value is not there to see
    assert find_leak({"population.csv.gz": leaky}, [SECRET]) == "population.csv.gz"
    assert find_leak({"population.csv.gz": clean}, [SECRET]) is None


@pytest.mark.parametrize("at", [0, 63, 64, 100, 127])
def test_a_secret_in_a_spilled_plain_member_is_found_across_its_pieces(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, at: int
) -> None:
    """A member waiting on disk is read in pieces (the inventory snapshot of a nightly
    estate is 150 MB): a value across two pieces, or at either end, is still found."""
    from scanner.evidence import leaks
    from scanner.evidence.members import Members

    monkeypatch.setattr(leaks, "CHUNK", 64)
    text = "x" * at + SECRET + "y" * 200
    with Members(tmp_path, spill_over=0) as files:
        files["inventory.json"] = text.encode()
        files["clean.json"] = ("x" * 300).encode()
        assert files.spilled() == ["inventory.json", "clean.json"]
        assert len(list(files.pieces("inventory.json", piece=50))) > 1
        assert find_leak(files, [SECRET]) == "inventory.json"
        del files["inventory.json"]
        assert find_leak(files, [SECRET]) is None
