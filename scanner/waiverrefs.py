"""Inline waiver references: an object that says which register entry excuses it.

``metadata.annotations["ledgergate.io/waiver"]: W-12`` (several: comma-separated) or a
comment ``# ledgergate: waiver W-12`` on the object's lines points a reviewer at the
approved exception. A reference is a claim, so it is checked: one that names no entry of
the register, an expired entry, or an entry whose selector does not cover this object is
a ``fail`` finding at the reference's line (the claim must not outlive the approval).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from scanner.clock import today as today_utc
from scanner.model import Evidence, Finding, Origin, Resource, Severity, Status
from scanner.waivers import Waiver, WaiverRegister

ANNOTATION = "ledgergate.io/waiver"
COMMENT = re.compile(r"#\s*ledgergate:\s*waiver\s+([A-Za-z0-9][A-Za-z0-9._-]*)")
#: Text every line matching COMMENT contains.
COMMENT_MARK = "ledgergate:"
UNKNOWN_RULE_ID = "waiver/unknown-reference"
EXPIRED_RULE_ID = "waiver/expired-reference"
MISMATCH_RULE_ID = "waiver/mismatched-reference"
SEVERITY = Severity.HIGH
Lines = Callable[[str], Sequence[str]]


def file_lines(root: Path | None) -> Lines:
    """Lines of a repo file by its relative path, for reference comments: none for a
    cluster, a missing file, or a file no line of which can hold one (most files: their
    objects' lines are then not searched one by one)."""
    cache: dict[str, Sequence[str]] = {}

    def read(path: str) -> Sequence[str]:
        if root is None or not path:
            return ()
        if path not in cache:
            try:
                text = (root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            cache[path] = text.splitlines() if COMMENT_MARK in text else ()
        return cache[path]

    return read


def references(resource: Resource, lines: Lines) -> list[tuple[str, int]]:
    """(waiver id, line) of every reference on the object: annotation, then comments."""
    origin = resource.origin
    found: list[tuple[str, int]] = []
    meta = resource.body.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    value = notes.get(ANNOTATION) if isinstance(notes, dict) else None
    if isinstance(value, str):
        found += [(ref.strip(), origin.start_line) for ref in value.split(",") if ref.strip()]
    text = lines(origin.path)
    last = min(origin.end_line, len(text))
    for number in range(max(origin.start_line, 1), last + 1):
        found += [(m.group(1), number) for m in COMMENT.finditer(text[number - 1])]
    return found


def _covers(waiver: Waiver, resource: Resource) -> bool:
    sel, ref = waiver.selector, resource.ref
    return (
        fnmatchcase(ref.kind, sel.kind)
        and fnmatchcase(ref.namespace, sel.namespace)
        and fnmatchcase(ref.name, sel.name)
        and fnmatchcase(resource.origin.path, sel.path)
    )


def _finding(resource: Resource, ref: str, line: int, rule_id: str, why: str) -> Finding:
    key = "\x1f".join((rule_id, ref, resource.origin.path, repr(resource.ref)))
    return Finding(
        rule_id=rule_id,
        status=Status.FAIL,
        severity=SEVERITY,
        title="Inline waiver reference does not hold",
        message=f"waiver reference {ref} {why}: fix the reference or get the entry approved",
        resource=resource.ref,
        origin=Origin(path=resource.origin.path, start_line=line, end_line=line),
        evidence=(Evidence("waiver", ref, line),),
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
    )


def reference_findings(
    resources: Iterable[Resource],
    register: WaiverRegister | None,
    lines: Lines,
    today: dt.date | None = None,
) -> list[Finding]:
    """A finding for each reference that names no entry, an expired one, or another object's."""
    by_id = {w.id: w for w in register.waivers if w.id} if register else {}
    day: dt.date | None = today
    out: list[Finding] = []
    for resource in resources:
        for ref, line in references(resource, lines):
            waiver = by_id.get(ref)
            if waiver is None:
                why = "names no entry of the waiver register"
                out.append(_finding(resource, ref, line, UNKNOWN_RULE_ID, why))
                continue
            day = day or today_utc()
            if waiver.expired(day):
                why = f"names an entry that expired on {waiver.expires.isoformat()}"
                out.append(_finding(resource, ref, line, EXPIRED_RULE_ID, why))
            elif not _covers(waiver, resource):
                why = "names an entry whose resource selector does not cover this object"
                out.append(_finding(resource, ref, line, MISMATCH_RULE_ID, why))
    return out
