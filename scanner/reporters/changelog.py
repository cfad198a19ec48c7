"""The change log: one row per change of the population, for an auditor to sample from.

Rows come from the ``Change`` resources the rules saw and the findings on them; a
reporter reads, it never re-judges. JSON keeps lists; CSV joins them with ``; ``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner.evidence.population import formula_safe
from scanner.model import Finding, Resource, Status
from scanner.redaction import scrub

COLUMNS = (
    "commit",
    "date",
    "subject",
    "author",
    "committer",
    "coAuthors",
    "signature",
    "signer",
    "signingKey",
    "ticket",
    "pullRequest",
    "approvers",
    "production",
    "productionObjects",
    "files",
    "verdict",
    "failedRules",
)


def change_rows(
    changes: Iterable[tuple[Resource, Sequence[str]]], findings: Sequence[Finding]
) -> list[dict[str, Any]]:
    """One row per Change, oldest first as the history was read.

    Each change comes with the secret values the detector found in it (a token pasted
    into a commit message): every cell shows those only as fingerprints.
    """
    by_commit: dict[str, list[Finding]] = {}
    for f in findings:
        if f.resource is not None and f.resource.kind == "Change":
            by_commit.setdefault(f.resource.name, []).append(f)
    rows = []
    for change, secrets in changes:
        row = _row(
            change.body, change.facts.get("change") or {}, by_commit.get(change.ref.name, [])
        )
        rows.append({k: _scrubbed(v, list(secrets)) for k, v in row.items()} if secrets else row)
    return rows


def _scrubbed(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def _row(body: Mapping[str, Any], fact: Mapping[str, Any], found: list[Finding]) -> dict[str, Any]:
    signature = body.get("signature") or {}
    pr = body.get("pullRequest") or {}
    bad = sorted({f.rule_id for f in found if f.status in (Status.FAIL, Status.ERROR)})
    statuses = {f.status for f in found}
    verdict = (
        "error"
        if Status.ERROR in statuses
        else "fail"
        if Status.FAIL in statuses
        else "pass"
        if found
        else "not judged"
    )
    return {
        "commit": body.get("commit", ""),
        "date": (body.get("committer") or {}).get("date", ""),
        "subject": body.get("subject", ""),
        "author": _who(body.get("author")),
        "committer": _who(body.get("committer")),
        "coAuthors": [_who(p) for p in body.get("coAuthors") or ()],
        "signature": signature.get("status", ""),
        "signer": signature.get("signer", ""),
        "signingKey": signature.get("key", ""),
        "ticket": fact.get("ticket", ""),
        "pullRequest": f"{pr['host']} #{pr['number']}" if pr else "",
        "approvers": list(fact.get("approvers") or ()),
        "production": bool(body.get("production")),
        "productionObjects": list(body.get("productionObjects") or ()),
        "files": [f["path"] for f in body.get("files") or ()],
        "verdict": verdict,
        "failedRules": bad,
    }


def _who(person: Any) -> str:
    if not isinstance(person, Mapping):
        return ""
    name, email = person.get("name", ""), person.get("email", "")
    return f"{name} <{email}>" if email else str(name)


def changelog_json(rows: Sequence[Mapping[str, Any]], target: Mapping[str, str]) -> str:
    """``changelog.json``: schema version, what was selected, the rows."""
    doc = {"schemaVersion": "1.0", "target": dict(target), "changes": list(rows)}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def changelog_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """``changelog.csv``: the same rows, lists joined with ``; ``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted (subjects are input)."""
    if isinstance(value, bool):
        return str(value).lower()
    return formula_safe("; ".join(value) if isinstance(value, list) else str(value))
