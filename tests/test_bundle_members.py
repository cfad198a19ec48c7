"""A bundle's large files wait on disk beside it, not in memory, and the bundle is the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.evidence import archive
from scanner.evidence.members import Members
from scanner.reporters import bundle as bundle_module
from scanner.reporters.bundle import BundleInputs, build_files, write_bundle

from .conftest import scanned_fixture_repo


def test_members_spill_over_the_threshold_and_read_back(tmp_path: Path) -> None:
    with Members(tmp_path, spill_over=10) as files:
        files["small"] = b"0123456789"
        files["large"] = b"x" * 11
        files.put_parts("parts", [b"ab", b"cd"])
        assert files.spilled() == ["large", "parts"]
        assert dict(files) == {"small": b"0123456789", "large": b"x" * 11, "parts": b"abcd"}
        assert files.size("large") == 11
        (held,) = [p for p in tmp_path.iterdir()]
        assert held.name.startswith(".ledgergate-") and len(list(held.iterdir())) == 2
        files["large"] = b"y"  # replaced by a small one: its file goes
        del files["parts"]
        assert list(held.iterdir()) == [] and files["large"] == b"y"
        with pytest.raises(KeyError):
            del files["parts"]
    assert list(tmp_path.iterdir()) == []  # closed: the folder is gone
    in_memory = Members(None, spill_over=0)
    in_memory.put_parts("p", [b"a", b"b"])
    assert in_memory.spilled() == [] and in_memory["p"] == b"ab"


@pytest.mark.parametrize("name", ["b", "b.zip"])
def test_a_spilled_bundle_is_byte_identical_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    result = scanned_fixture_repo()
    inputs = BundleInputs(result)
    expected = dict(build_files(inputs))  # all in memory
    spilled: list[list[str]] = []
    real = bundle_module.build_files

    def spy(*args: object, **kw: object) -> Members:
        files = real(*args, **kw)  # type: ignore[arg-type]
        spilled.append(files.spilled())
        return files

    monkeypatch.setattr("scanner.evidence.members.SPILL_OVER", 1000)
    monkeypatch.setattr(bundle_module, "build_files", spy)
    out = tmp_path / "out" / name
    write_bundle(inputs, out)
    assert spilled and {"findings.json", "population.csv.gz", "report.html"} <= set(spilled[0])
    assert archive.read(out) == expected
    assert sorted(p.name for p in out.parent.iterdir()) == [name]  # no temporary folder left


def test_the_inventory_snapshot_written_in_pieces_is_the_whole_documents_bytes() -> None:
    """The snapshot is streamed one resource at a time (at nightly scale the whole
    document, a redacted copy of every object, was the bundle's peak): its bytes are
    those of the canonical whole, for a scanned repo, an empty inventory and none."""
    from scanner.config import find_config, load_config
    from scanner.evidence.manifest import canonical
    from scanner.evidence.snapshot import snapshot, snapshot_parts
    from scanner.inventory import Inventory
    from scanner.pipeline import repo_source, run_scan
    from tests.conftest import FIXTURE_REPOS

    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    config = load_config(find_config(repo, None))
    inventory = run_scan(repo_source(repo, config), config).inventory
    assert inventory.secrets and len(inventory.resources) > 10  # redaction is exercised
    for case in (inventory, Inventory(), None):
        parts = list(snapshot_parts(case))
        assert b"".join(parts) == canonical(snapshot(case))
    assert len(list(snapshot_parts(inventory))) > len(inventory.resources)  # not one piece


def test_members_written_in_pieces_make_the_zip_writestr_made(tmp_path: Path) -> None:
    """The archive copies each member in pieces (a whole 170 MB population was the
    bundle's peak); its bytes are those ``ZipFile.writestr`` wrote from whole members."""
    import io
    import zipfile

    data = {
        "population.csv.gz": bytes(range(256)) * 40_000,  # stored as is
        "inventory.json": b'{"resources": [' + b"{}, " * 300_000 + b"{}]}\n",
        "small.json": b"{}\n",
    }
    reference = io.BytesIO()
    with zipfile.ZipFile(reference, "w") as ref:
        for name in sorted(data):
            info = zipfile.ZipInfo(name, date_time=archive.ZIP_TIME)
            stored = name.endswith(archive.STORED_SUFFIXES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            ref.writestr(info, data[name], compresslevel=None if stored else archive.LEVEL)
    with Members(tmp_path, spill_over=1000) as files:
        for name, blob in data.items():
            files[name] = blob
        assert files.spilled() == ["population.csv.gz", "inventory.json"]
        written = io.BytesIO()
        archive._write_zip(files, written)
    assert written.getvalue() == reference.getvalue()
