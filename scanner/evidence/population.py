"""The tested population: one row per control x rule x resource, for auditors to sample from.

Every row points at its evidence (a JSON pointer into the bundle): a finding listed in
``findings.json`` at ``findings.json#/findings/N``; a pass that document only counts at
the object it judged, ``inventory.json#/resources/K`` (or the rule in ``rules.json`` when
no inventory was captured). What a finding recorded (a pass's GitOps owner and revision,
which ``findings.json`` no longer lists) is its ``observed`` column. One file,
``population.csv.gz``: CSV gzipped at level 1 with ``mtime=0``, so byte-reproducible.
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
from typing import Any, NamedTuple

from scanner.errors import ReportError
from scanner.evidence.snapshot import Identity, identity
from scanner.model import Finding, Origin, Status

FINDINGS = "findings.json"
#: gzip level of the population file: level 6 cost half the bundle's writing time at
#: nightly scale for a file a few percent smaller.
LEVEL = 1
CSV_NAME = "population.csv"
#: The member a bundle holds (bundles before 0.6 held ``population.csv`` plain when small,
#: and a JSONL copy: :func:`read_population` reads the CSV of either).
NAME = CSV_NAME + ".gz"
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
    "observed",
)
#: The columns every population file has (``observed`` came later).
REQUIRED = COLUMNS[:-1]


def observed_text(evidence: Iterable[Any]) -> str:
    """What a finding recorded, ``path=value`` joined by ``; `` (values are redacted when
    the engine records them). Text a spreadsheet would run as a formula is quoted with
    ``'``: values come from the scanned objects."""
    text = "; ".join(f"{e.path}={e.value}" if e.value else e.path for e in evidence)
    return formula_safe(text)


def formula_safe(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @``, tab or CR quoted."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Recorded:
    """A JSON evidence item as :func:`observed_text` reads it."""

    __slots__ = ("path", "value")

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.path = str(item.get("path", ""))
        self.value = str(item.get("value", "") or "")


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
        observed_text(_Recorded(e) for e in f.get("evidence") or ()),
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
                observed_text(f.evidence) if f.evidence else "",
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
    """Text gzipped in batches: the same bytes as ``gzip.compress(data, LEVEL, mtime=0)``,
    which is zlib with a gzip wrapper, without the whole file ever existing uncompressed."""

    BATCH = 1 << 18

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.batch: list[str] = []
        self.pending = 0
        self.zipper = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)

    def write(self, text: str) -> None:
        self.batch.append(text)
        self.pending += len(text)
        if self.pending >= self.BATCH:
            self._flush_batch()

    def _flush_batch(self) -> None:
        data = "".join(self.batch).encode()
        self.batch.clear()
        self.pending = 0
        self.parts.append(self.zipper.compress(data))

    def take(self) -> list[bytes]:
        """The compressed pieces made since the last call (handed over, not kept)."""
        parts, self.parts = self.parts, []
        return parts

    def close(self) -> list[bytes]:
        """The rest of the compressed file, in the pieces it was made in."""
        if self.batch:
            self._flush_batch()
        self.parts.append(self.zipper.flush())
        return self.take()


def population_files(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """``population.csv.gz`` of a findings document that lists every finding (how earlier
    versions wrote every bundle)."""
    return write_population(ordered_rows(doc))


def write_population(rows: Iterable[list[str]]) -> dict[str, bytes]:
    """``population.csv.gz`` (:data:`NAME`), the rows sorted by control."""
    return {NAME: b"".join(population_parts(rows))}


def population_parts(rows: Iterable[list[str]]) -> Iterator[bytes]:
    """The bytes of ``population.csv.gz`` in pieces, gzipped as the rows are written.

    :data:`BATCH_ROWS` rows at a time: the csv module and string joins do the per-row
    work in C, so the file never exists uncompressed in memory at nightly scale, nor,
    written piece by piece to disk (:meth:`~scanner.evidence.members.Members.put_parts`),
    compressed: each piece is yielded as soon as it is made (a list of them all held the
    whole compressed file, 166 MB at 50,000 objects, the bundle's peak)."""
    sink = _Sink()
    text = io.StringIO()
    writer = _Writers(
        csv.writer(text, **DIALECT), csv.writer(text, **DIALECT, quoting=csv.QUOTE_ALL)
    )
    sink.write(",".join(COLUMNS) + "\n")  # what the csv module writes for them
    batch: list[list[str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            _write_batch(batch, writer, text, sink)
            yield from sink.take()
    _write_batch(batch, writer, text, sink)
    yield from sink.close()


BATCH_ROWS = 2048
DIALECT: dict[str, Any] = {"lineterminator": "\n"}


class _Writers(NamedTuple):
    """The csv writers of :func:`write_population`: minimal quoting, and every field quoted
    for a row holding a carriage return (which minimal quoting leaves bare with a ``\n``
    line terminator, and a reader then splits the row at)."""

    minimal: Any
    every: Any

    def writerows(self, rows: list[list[str]]) -> None:
        for row in rows:
            (self.every if any("\r" in cell for cell in row) else self.minimal).writerow(row)


def _write_batch(batch: list[list[str]], writer: _Writers, text: io.StringIO, sink: _Sink) -> None:
    """The CSV lines of a batch of rows (emptied).

    A batch none of whose fields needs quoting (a nightly estate's names, uids and
    pointers never do) is written by plain joins, the same bytes as the csv module
    writes; any other batch by it (see :class:`_Writers`)."""
    plain = "\n".join([",".join(r) for r in batch])
    plain += "\n" if batch else ""
    if (
        plain.count(",") == (len(COLUMNS) - 1) * len(batch)
        and plain.count("\n") == len(batch)
        and _NEEDS_QUOTES.search(plain) is None
    ):
        sink.write(plain)
    else:
        (writer if "\r" in plain else writer.minimal).writerows(batch)
        sink.write(text.getvalue())
        text.seek(0)
        text.truncate()
    batch.clear()


#: What the csv module would quote besides ``,`` (counted instead) and ``\n`` (which ends
#: the rows): quotes and carriage returns.
_NEEDS_QUOTES = re.compile('["\r]')


def population_name(files: Mapping[str, bytes]) -> str:
    """The name of the population CSV inside a bundle (plain in small bundles before 0.6)."""
    return CSV_NAME if CSV_NAME in files and NAME not in files else NAME


def read_population(files: Mapping[str, bytes]) -> list[dict[str, str]]:
    """The population rows of a bundle (:func:`iter_population`, all at once)."""
    return list(iter_population(files))


def iter_population(files: Mapping[str, bytes]) -> Iterator[dict[str, str]]:
    """The population rows of a bundle, one at a time: a nightly estate's are millions, and
    a reader keeping only one control's never holds the rest (nor the inflated text).

    ReportError when it has none, it is unreadable or it lacks a column (``observed``,
    which bundles before 0.6 lack, reads as empty)."""
    name = population_name(files)
    if name not in files:
        raise ReportError("bundle has no population file (written by ledgergate 0.2 and later)")
    raw: Any = io.BytesIO(files[name])
    stream = gzip.GzipFile(fileobj=raw, mode="rb") if name.endswith(".gz") else raw
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        reader = csv.DictReader(text, restval="")
        fields = reader.fieldnames or ()
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            raise ReportError(f"{name}: no column {', '.join(missing)}")
        observed = "observed" in fields
        for row in reader:
            if not (row["framework"] and row["control"] and row["rule"] and row["evidence"]):
                raise ReportError(f"{name}: a row without its control, rule or evidence pointer")
            if not observed:
                row["observed"] = ""
            yield row
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportError(f"{name}: unreadable: {exc}") from exc


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
