"""The tested population: one row per control x rule x resource, for auditors to sample from.

Every row points at its evidence (a JSON pointer into the bundle): a finding listed in
``findings.json`` at ``findings.json#/findings/N``; a pass that document only counts at
the object it judged, ``inventory.json#/resources/K`` (or the rule in ``rules.json`` when
no inventory was captured). Written as CSV and JSONL; both are gzipped (level 1,
``mtime=0``, so still byte-reproducible) once the CSV passes :data:`GZIP_OVER` bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

from scanner.errors import ReportError
from scanner.evidence.snapshot import Identity, identity
from scanner.model import Finding, Origin, Status

FINDINGS = "findings.json"
#: gzip level of the population files: level 6 cost half the bundle's writing time at
#: nightly scale for files a few percent smaller.
LEVEL = 1
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


def location_text(f: Mapping[str, Any]) -> str:
    loc = f.get("location") or {}
    if loc.get("path"):
        return f"{loc['path']}:{loc.get('startLine', 0)}"
    if loc.get("cluster"):
        return f"{loc.get('context') or loc['cluster']} uid={loc.get('uid', '')}"
    return str(loc.get("image", ""))


def _row(f: Mapping[str, Any], index: int, control: Mapping[str, Any]) -> list[str]:
    """One row, in :data:`COLUMNS` order."""
    res = f.get("resource") or {}
    return [
        str(control["framework"]),
        str(control["id"]),
        str(f["ruleId"]),
        str(res.get("kind", "")),
        str(res.get("namespace", "")),
        str(res.get("name", "")),
        location_text(f),
        str(f["status"]),
        str(f.get("fingerprint", "")),
        f"{FINDINGS}#/findings/{index}",
    ]


def rows(doc: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    """Population rows of a findings document, in finding order then control order."""
    for index, f in enumerate(doc.get("findings", ())):
        for c in f.get("controls", ()):
            yield dict(zip(COLUMNS, _row(f, index, c), strict=True))


def ordered_rows(doc: Mapping[str, Any]) -> Iterator[list[str]]:
    """The rows sorted by (framework, control, rule), finding order within each: the order
    of sorting :func:`rows`, but only (finding, control) positions are held, packed in
    arrays, and each row is built as it is written (a nightly estate has millions)."""
    findings = doc.get("findings", ())
    groups: dict[tuple[str, str, str], array[int]] = {}
    for index, f in enumerate(findings):
        rule = str(f["ruleId"])
        for position, c in enumerate(f.get("controls", ())):
            key = (str(c["framework"]), str(c["id"]), rule)
            groups.setdefault(key, array("Q")).append(index << 16 | position)
    for key in sorted(groups):
        for packed in groups[key]:
            f = findings[packed >> 16]
            yield _row(f, packed >> 16, f["controls"][packed & 0xFFFF])


def _origin_text(origin: Origin) -> str:
    """:func:`location_text` of a finding object (the same text, without building its dict)."""
    if origin.path:
        return f"{origin.path}:{origin.start_line}"
    if origin.cluster:
        return f"{origin.context or origin.cluster} uid={origin.uid}"
    return origin.image_digest


def result_rows(
    findings: Sequence[Finding], evidence: Callable[[int, Finding], str]
) -> Iterator[list[str]]:
    """The rows of :func:`ordered_rows`, read from the scan's findings themselves: no dict
    per finding. ``evidence(index, finding)`` is each finding's pointer."""
    groups: dict[tuple[str, str, str], array[int]] = {}
    for index, f in enumerate(findings):
        rule = f.rule_id
        for position, c in enumerate(f.controls):
            key = (c.framework, c.id, rule)
            found = groups.get(key)
            if found is None:
                found = groups[key] = array("Q")
            found.append(index << 16 | position)
    status = {s: s.value for s in Status}  # an enum's .value is a slow property
    for key in sorted(groups):
        framework, control, rule = key
        for packed in groups[key]:
            index = packed >> 16
            f = findings[index]
            ref = f.resource
            yield [
                framework,
                control,
                rule,
                ref.kind if ref else "",
                ref.namespace if ref else "",
                ref.name if ref else "",
                _origin_text(f.origin),
                status[f.status],
                f.fingerprint,
                evidence(index, f),
            ]


INVENTORY = "inventory.json"
RULES = "rules.json"


def pointers(
    findings: Sequence[Finding],
    is_listed: Callable[[Finding], bool],
    where: Mapping[Identity, int],
    rule_ids: Sequence[str],
) -> Callable[[int, Finding], str]:
    """Each finding's evidence pointer: its place in ``findings.json`` when listed there,
    else the object it judged in ``inventory.json``, else its rule in ``rules.json``.

    ``where`` is :func:`scanner.evidence.snapshot.positions`; ``rule_ids`` the rules in
    ``rules.json`` order."""
    listed_at = array("q", bytes(8 * len(findings)))
    count = 0
    for index, f in enumerate(findings):
        if is_listed(f):
            listed_at[index] = count
            count += 1
        else:
            listed_at[index] = -1
    rule_at = {rule: n for n, rule in enumerate(rule_ids)}

    def evidence(index: int, f: Finding) -> str:
        listed = listed_at[index]
        if listed >= 0:
            return f"{FINDINGS}#/findings/{listed}"
        if f.resource is not None:
            found = where.get(identity(f.origin, f.resource))
            if found is not None:
                return f"{INVENTORY}#/resources/{found}"
        return f"{RULES}#/rules/{rule_at[f.rule_id]}"

    return evidence


class _Sink:
    """Text collected in batches and kept plain, or gzipped once :meth:`gzip` is called:
    the same bytes as ``gzip.compress(data, LEVEL, mtime=0)``, which is zlib with a gzip
    wrapper, without the whole file ever existing uncompressed."""

    BATCH = 1 << 18

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.batch: list[str] = []
        self.pending = 0
        self.size = 0
        self.zipper: Any = None

    def write(self, text: str) -> None:
        self.batch.append(text)
        self.pending += len(text)
        if self.pending >= self.BATCH:
            self._flush_batch()

    def _flush_batch(self) -> None:
        data = "".join(self.batch).encode()
        self.batch.clear()
        self.pending = 0
        self.size += len(data)
        self.parts.append(data if self.zipper is None else self.zipper.compress(data))

    def gzip(self) -> None:
        """Compress what was written and everything that follows."""
        self.zipper = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
        self.parts = [self.zipper.compress(part) for part in self.parts]

    def close_batch(self) -> None:
        """Move the pending text into the parts (so :attr:`size` is final)."""
        if self.batch:
            self._flush_batch()

    def close(self) -> bytes:
        self.close_batch()
        if self.zipper is not None:
            self.parts.append(self.zipper.flush())
        return b"".join(self.parts)


#: A JSONL line with sorted keys, filled with JSON-encoded strings: the same bytes as
#: ``json.dumps(row, sort_keys=True, ensure_ascii=False)``, without a dict per row.
_ORDER = sorted(range(len(COLUMNS)), key=lambda i: COLUMNS[i])
_LINE = "{" + ", ".join(f'"{COLUMNS[i]}": %s' for i in _ORDER) + "}\n"


def population_files(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """``population.csv`` and ``population.jsonl`` (``.gz`` when large) of a findings
    document that lists every finding (how earlier versions wrote every bundle)."""
    return write_population(ordered_rows(doc))


def write_population(rows: Iterable[list[str]]) -> dict[str, bytes]:
    """``population.csv`` and ``population.jsonl`` (``.gz`` when large), sorted by control.

    One pass writes both, :data:`BATCH_ROWS` rows at a time (the csv module and string
    joins do the per-row work in C); once the CSV passes :data:`GZIP_OVER` bytes both are
    gzipped from then on, so neither exists uncompressed in memory at nightly scale."""
    csv_sink, json_sink = _Sink(), _Sink()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    csv_sink.write(",".join(COLUMNS) + "\n")  # what the csv module writes for them
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            _write_batch(batch, writer, text, csv_sink, json_sink)
    _write_batch(batch, writer, text, csv_sink, json_sink)
    csv_sink.close_batch()
    if csv_sink.zipper is None and csv_sink.size > GZIP_OVER:  # multi-byte text at the end
        csv_sink.gzip()
        json_sink.gzip()
    csv_bytes, jsonl = csv_sink.close(), json_sink.close()
    suffix = ".gz" if csv_sink.zipper is not None else ""
    return {CSV_NAME + suffix: csv_bytes, JSONL_NAME + suffix: jsonl}


BATCH_ROWS = 2048


def _write_batch(
    batch: list[list[str]], writer: Any, text: io.StringIO, csv_sink: _Sink, json_sink: _Sink
) -> None:
    """Both files' lines of a batch of rows (emptied); gzip both once the CSV is large.

    A batch none of whose fields needs quoting in CSV or escaping in JSON (a nightly
    estate's names, uids and pointers never do) is written by plain joins, the same bytes
    as the csv module and :func:`encode_basestring` write; any other batch by them. Where
    the switch to gzip falls does not change the bytes: the compressor reads the same
    stream either way."""
    lines = [",".join(r) for r in batch]
    plain = "\n".join(lines)
    plain += "\n" if batch else ""
    if (
        plain.count(",") == (len(COLUMNS) - 1) * len(batch)
        and plain.count("\n") == len(batch)
        and _NEEDS_ESCAPE.search(plain) is None
    ):
        csv_sink.write(plain)
        fill = _PLAIN_LINE.format
        json_sink.write("".join([fill(*r) for r in batch]))
    else:
        writer.writerows(batch)
        csv_sink.write(text.getvalue())
        text.seek(0)
        text.truncate()
        quote, line, order = encode_basestring, _LINE, _ORDER
        json_sink.write("".join([line % tuple([quote(r[i]) for i in order]) for r in batch]))
    batch.clear()
    if csv_sink.zipper is None and csv_sink.size + csv_sink.pending > GZIP_OVER:
        csv_sink.gzip()
        json_sink.gzip()


#: What the csv module would quote (``,`` is counted instead, ``\n`` ends the rows) or
#: JSON would escape: quotes, backslashes, control characters (``\n`` aside).
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x09\x0b-\x1f]')
#: :data:`_LINE` for fields that need no escaping: ``str.format`` fills them in one call.
_PLAIN_LINE = "{{" + ", ".join(f'"{COLUMNS[i]}": "{{{i}}}"' for i in _ORDER) + "}}\n"


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


class Resolver:
    """Follows population pointers (``file.json#/json/pointer``, RFC 6901) into a bundle's
    files, each JSON file parsed once."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = files
        self.docs: dict[str, Any] = {}

    def __call__(self, pointer: str) -> Any:
        """The value pointed at; ReportError when the file or the value does not exist."""
        name, _, path = pointer.partition("#")
        if name not in self.docs:
            try:
                self.docs[name] = json.loads(self.files[name])
            except (KeyError, UnicodeDecodeError, ValueError) as exc:
                raise ReportError(f"{name}: missing or unreadable: {exc}") from exc
        node = self.docs[name]
        if path and not path.startswith("/"):
            raise ReportError(f"population row points at missing evidence {pointer}")
        for part in path.split("/")[1:] if path else ():
            step = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list) and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            elif isinstance(node, dict) and step in node:
                node = node[step]
            else:
                raise ReportError(f"population row points at missing evidence {pointer}")
        return node
