"""The population files are streamed, yet the same bytes as sorting every row at once."""

from __future__ import annotations

import csv
import gzip
import io
import json
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
    """What population_files wrote before streaming: every row in memory, sorted, dumped."""
    ordered = sorted(population.rows(doc), key=lambda r: (r["framework"], r["control"], r["rule"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(population.COLUMNS)
    writer.writerows([r[c] for c in population.COLUMNS] for r in ordered)
    csv_bytes = buffer.getvalue().encode()
    jsonl = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in ordered)
    files = {population.CSV_NAME: csv_bytes, population.JSONL_NAME: jsonl.encode()}
    if len(csv_bytes) > population.GZIP_OVER:
        files = {
            f"{n}.gz": gzip.compress(b, compresslevel=population.LEVEL, mtime=0)
            for n, b in files.items()
        }
    return files


@pytest.mark.parametrize("gzip_over", [10**9, 5000, 1])
def test_streamed_population_is_byte_identical(
    monkeypatch: pytest.MonkeyPatch, gzip_over: int
) -> None:
    monkeypatch.setattr(population, "GZIP_OVER", gzip_over)
    monkeypatch.setattr(population._Sink, "BATCH", 1000)  # many batches, before and after
    doc = _doc(400)
    got = population.population_files(doc)
    assert got == _reference(doc)
    assert (population.CSV_NAME + ".gz" in got) == (gzip_over < 10**9)
    rows = population.read_population(got)
    assert len(rows) == 1200
    assert [r["framework"] for r in rows] == sorted(r["framework"] for r in rows)


def test_threshold_counts_bytes_not_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Multi-byte names push the CSV over the threshold in bytes only: it is still gzipped."""
    doc = _doc(30)
    plain = _reference(doc)[population.CSV_NAME]
    text_length = len(plain.decode())
    assert len(plain) > text_length
    monkeypatch.setattr(population, "GZIP_OVER", text_length)
    assert population.population_files(doc) == _reference(doc)
    assert population.CSV_NAME + ".gz" in population.population_files(doc)


@pytest.mark.parametrize(
    "odd", ['quote"d', "com,ma", "new\nline", "back\\slash", "tab\tbed", "cr\rlf", "bell\x07"]
)
def test_batches_needing_quotes_or_escapes_are_byte_identical(
    monkeypatch: pytest.MonkeyPatch, odd: str
) -> None:
    """Plain batches are joined, others go through csv and the JSON encoder: one odd name
    among hundreds gives the same bytes as the reference either way."""
    monkeypatch.setattr(population, "BATCH_ROWS", 50)
    doc = _doc(300)
    doc["findings"][123]["resource"]["name"] = odd
    doc["findings"][7]["location"]["context"] = odd
    got = population.population_files(doc)
    assert got == _reference(doc)
    rows = population.read_population(got)
    assert sum(r["name"] == odd for r in rows) == 3
