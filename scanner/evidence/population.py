"""The tested population: one row per control x rule x resource, for auditors to sample from.

Every row points at its finding in ``findings.json`` (a JSON pointer), so a sampled
item leads straight to the evidence. Written as CSV and JSONL; both are gzipped
(``mtime=0``, so still byte-reproducible) once the CSV passes :data:`GZIP_OVER` bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

from scanner.errors import ReportError

FINDINGS = "findings.json"
CSV_NAME = "population.csv"
JSONL_NAME = "population.jsonl"
GZIP_OVER = 1024 * 1024
COLUMNS = (
    "framework",
    "control",
    "rule",
    "kind",
    "namespace",
    "name",
    "location",
    "result",
    "fingerprint",
    "evidence",
)


def _location(f: Mapping[str, Any]) -> str:
    loc = f.get("location") or {}
    if loc.get("path"):
        return f"{loc['path']}:{loc.get('startLine', 0)}"
    if loc.get("cluster"):
        return f"{loc.get('context') or loc['cluster']} uid={loc.get('uid', '')}"
    return str(loc.get("image", ""))


def rows(doc: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Population rows of a findings document, in finding order then control order."""
    for index, f in enumerate(doc.get("findings", ())):
        res = f.get("resource") or {}
        for c in f.get("controls", ()):
            yield {
                "framework": str(c["framework"]),
                "control": str(c["id"]),
                "rule": str(f["ruleId"]),
                "kind": str(res.get("kind", "")),
                "namespace": str(res.get("namespace", "")),
                "name": str(res.get("name", "")),
                "location": _location(f),
                "result": str(f["status"]),
                "fingerprint": str(f.get("fingerprint", "")),
                "evidence": f"{FINDINGS}#/findings/{index}",
            }


def population_files(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """``population.csv`` and ``population.jsonl`` (``.gz`` when large), sorted by control."""
    ordered = sorted(rows(doc), key=lambda r: (r["framework"], r["control"], r["rule"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in ordered)
    csv_bytes = buffer.getvalue().encode()
    keys = sorted(COLUMNS)  # the same bytes as sort_keys=True, without sorting each row
    encode = json.JSONEncoder(ensure_ascii=False).encode
    jsonl = "".join(encode({k: r[k] for k in keys}) + "\n" for r in ordered)
    files = {CSV_NAME: csv_bytes, JSONL_NAME: jsonl.encode()}
    if len(csv_bytes) > GZIP_OVER:
        files = {f"{n}.gz": gzip.compress(b, compresslevel=6, mtime=0) for n, b in files.items()}
    return files


def population_name(files: Mapping[str, bytes]) -> str:
    """The name of the population CSV inside a bundle (plain or gzipped)."""
    return CSV_NAME + ".gz" if CSV_NAME + ".gz" in files else CSV_NAME


def read_population(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    """The population rows of a bundle; ReportError when it has none or it is unreadable."""
    for name in (JSONL_NAME, JSONL_NAME + ".gz"):
        if name in files:
            data = files[name]
            try:
                text = (gzip.decompress(data) if name.endswith(".gz") else data).decode()
                return [json.loads(line) for line in text.splitlines() if line.strip()]
            except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
                raise ReportError(f"{name}: unreadable: {exc}") from exc
    raise ReportError("bundle has no population file (written by ledgergate 0.2 and later)")
