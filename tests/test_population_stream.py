"""The population file is streamed, yet the same bytes as sorting every row at once."""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

import pytest

from scanner.evidence import population


def _doc(count: int) -> dict[str, Any]:
    findings = []
    for i in range(count):
        findings.append(
            {
                "ruleId": f"LG-R-{(count - i) % 7:03d}",
                "status": "pass" if i % 3 else "fail",
                "resource": {"kind": "Deployment", "namespace": f"ns-{i % 5}", "name": f"ö-{i}"},
                "location": {"cluster": "https://api", "context": "prod", "uid": f"u{i}"},
                "fingerprint": f"{i:032x}",
                "controls": [
                    {"framework": "pci-dss-4.0", "id": f"{i % 4}.1"},
                    {"framework": "dora", "id": "9"},
                    {"framework": "pci-dss-4.0", "id": f"{i % 4}.1"},  # listed twice: two rows
                ],
            }
        )
    return {"findings": findings}


def _reference(doc: dict[str, Any]) -> dict[str, bytes]:
    """What population_files wrote before streaming: every row in memory, sorted, dumped
    (a row holding a carriage return quoted in full, so that it reads back whole)."""
    ordered = sorted(population.rows(doc), key=lambda r: (r["framework"], r["control"], r["rule"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    every = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(population.COLUMNS)
    for row in ([r[c] for c in population.COLUMNS] for r in ordered):
        (every if any("\r" in c for c in row) else writer).writerow(row)
    csv_bytes = buffer.getvalue().encode()
    return {"population.csv.gz": gzip.compress(csv_bytes, compresslevel=population.LEVEL, mtime=0)}


@pytest.mark.parametrize("batch", [1000, 1 << 18])
def test_streamed_population_is_byte_identical(monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    monkeypatch.setattr(population._Sink, "BATCH", batch)  # many batches, or one
    doc = _doc(400)
    got = population.population_files(doc)
    assert got == _reference(doc)
    assert list(got) == ["population.csv.gz"]  # one file, always gzipped
    rows = population.read_population(got)
    assert len(rows) == 1200
    assert [r["framework"] for r in rows] == sorted(r["framework"] for r in rows)


@pytest.mark.parametrize(
    "odd", ['quote"d', "com,ma", "new\nline", "back\\slash", "tab\tbed", "cr\rlf", "bell\x07"]
)
def test_batches_needing_quotes_or_escapes_are_byte_identical(
    monkeypatch: pytest.MonkeyPatch, odd: str
) -> None:
    """Plain batches are joined, others go through the csv module: one odd name among
    hundreds gives the same bytes as the reference either way."""
    monkeypatch.setattr(population, "BATCH_ROWS", 50)
    doc = _doc(300)
    doc["findings"][123]["resource"]["name"] = odd
    doc["findings"][7]["location"]["context"] = odd
    got = population.population_files(doc)
    assert got == _reference(doc)
    rows = population.read_population(got)
    assert sum(r["name"] == odd for r in rows) == 3


def test_recorded_evidence_is_the_observed_column_and_cannot_become_a_formula() -> None:
    doc = _doc(20)
    doc["findings"][4]["evidence"] = [
        {"path": "metadata.annotations", "value": "argocd:odoo @ 4f3bb94 via metadata"},
        {"path": "spec.template"},
    ]
    doc["findings"][5]["evidence"] = [{"path": "", "value": "x"}]
    doc["findings"][6]["evidence"] = [{"path": "=HYPERLINK(1)"}]
    rows = population.read_population(population.population_files(doc))
    observed = {r["name"]: r["observed"] for r in rows}
    assert (
        observed["ö-4"] == "metadata.annotations=argocd:odoo @ 4f3bb94 via metadata; spec.template"
    )
    assert observed["ö-6"] == "'=HYPERLINK(1)"
    assert observed["ö-3"] == ""


def _csv_gz(text: str) -> dict[str, bytes]:
    return {"population.csv.gz": gzip.compress(text.encode(), mtime=0)}


def test_reader_checks_the_columns_and_reads_older_files() -> None:
    header = ",".join(population.COLUMNS[:-1])  # before the observed column
    row = "soc2,CC6.1,LG-X-001,Pod,n,p,a.yaml:1,pass,f,findings.json#/findings/0"
    old = population.read_population({"population.csv": f"{header}\n{row}\n".encode()})
    assert old == [dict(zip(population.COLUMNS, [*row.split(","), ""], strict=True))]
    no_rule = header.replace("rule,", "")
    with pytest.raises(population.ReportError, match="no column rule"):
        population.read_population(_csv_gz(f"{no_rule}\nsoc2\n"))
    with pytest.raises(population.ReportError, match="without its control"):
        population.read_population(_csv_gz(f"{header}\nsoc2,CC6.1\n"))
    with pytest.raises(population.ReportError, match="unreadable"):
        population.read_population({"population.csv.gz": b"not gzip"})
    with pytest.raises(population.ReportError, match="no population file"):
        population.read_population({"population.jsonl.gz": b""})


def test_rows_are_read_one_at_a_time() -> None:
    """A reader keeping one control's rows never holds the rest: the first rows arrive
    before a broken row further down is even read."""
    header = ",".join(population.COLUMNS)
    good = "soc2,CC6.1,LG-X-001,Pod,n,p,a.yaml:1,pass,f,findings.json#/findings/0,"
    rows = population.iter_population(_csv_gz(f"{header}\n{good}\n{good}\n,,,\n"))
    assert next(rows)["control"] == "CC6.1" and next(rows)["observed"] == ""
    with pytest.raises(population.ReportError, match="without its control"):
        next(rows)


def test_compressed_pieces_leave_as_they_are_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first gzipped piece is handed on before the last row is read: a list of every
    piece held the whole compressed file (166 MB at 50,000 objects) until the bundle wrote
    it, the bundle's peak. The pieces still join to the bytes of writing it at once."""
    monkeypatch.setattr(population, "BATCH_ROWS", 16)
    monkeypatch.setattr(population._Sink, "BATCH", 64)
    doc = _doc(400)
    read = 0

    def counted() -> Any:
        nonlocal read
        for row in population.ordered_rows(doc):
            read += 1
            yield row

    pieces = population.population_parts(counted())
    first = next(iter(pieces))
    assert first and read < 100
    rest = b"".join(pieces)
    assert read == 400 * 3
    whole = population.write_population(population.ordered_rows(doc))
    assert first + rest == whole[population.NAME]
