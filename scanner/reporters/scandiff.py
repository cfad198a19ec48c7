"""``evidence diff`` as text for terminals and logs, and as Markdown for a ticket.

The comparison itself (:mod:`scanner.evidence.diff`) knows nothing of rendering: the
evidence package sits below the reporters, so it never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.evidence.diff import ScanDiff
from scanner.reporters.templating import location, markdown_cell


def _line(f: Mapping[str, Any]) -> str:
    loc = f.get("location") or {}
    where = f"{loc.get('path', '')}:{loc.get('startLine', 0)}" if loc.get("path") else ""
    res = f.get("resource") or {}
    name = f"{res.get('kind', '')} {res.get('namespace', '')}/{res.get('name', '')}" if res else ""
    head = f"{f.get('status')} {f.get('severity')} {f.get('ruleId')}"
    return f"{head} {where} [{name}] {f.get('message')}"


def render_text(d: ScanDiff) -> str:
    """Plain text for terminals and logs."""
    out = [
        f"{len(d.new)} new, {len(d.fixed)} fixed, {len(d.still_open)} still open, "
        f"{len(d.expired_waivers)} waiver(s) expired  ({d.old_scan or '?'} -> {d.new_scan or '?'})"
    ]
    for title, items in (
        ("NEW", d.new),
        ("FIXED", d.fixed),
        ("STILL OPEN", d.still_open),
        ("NOT JUDGED", d.out_of_scope),
    ):
        out.extend(f"{title:<10} {_line(f)}" for f in items)
    out.extend(f"SCOPE      {line}" for line in d.scope_changes)
    out.extend(
        f"EXPIRED    waiver {w['ticket']} for {w['rule']} (owner {w['owner']}, approver "
        f"{w['approver']}) expired {w['expiry']} at {w['declaredAt']}"
        for w in d.expired_waivers
    )
    return "\n".join(out) + "\n"


def render_markdown(d: ScanDiff) -> str:
    """Markdown for a ticket or chat message."""
    out = [
        "## Ledgergate: changes since the last scan",
        "",
        f"**{len(d.new)}** new, **{len(d.fixed)}** fixed, **{len(d.still_open)}** still open, "
        f"**{len(d.expired_waivers)}** waiver(s) expired.",
    ]
    for title, items in (("New", d.new), ("Fixed", d.fixed), ("Still open", d.still_open)):
        if items:
            out += ["", f"### {title}", "", "| status | severity | rule | location | message |"]
            out.append("|---|---|---|---|---|")
            out += [
                f"| {f.get('status')} | {f.get('severity')} | `{markdown_cell(f.get('ruleId'))}` "
                f"| `{markdown_cell(location(f))}` | {markdown_cell(f.get('message'))} |"
                for f in items
            ]
    if d.out_of_scope or d.scope_changes:
        out += ["", "### Scope changed (not fixes)", ""]
        out += [f"- {markdown_cell(line)}" for line in d.scope_changes]
        out += [
            f"- no longer judged: `{markdown_cell(f.get('ruleId'))}` at "
            f"`{markdown_cell(location(f))}`"
            for f in d.out_of_scope
        ]
    if d.expired_waivers:
        out += ["", "### Waivers expired", "", "| ticket | rule | owner | approver | expiry |"]
        out.append("|---|---|---|---|---|")
        out += [
            "| "
            + " | ".join(markdown_cell(w[k]) for k in ("ticket", "rule", "owner", "approver"))
            + f" | {markdown_cell(w['expiry'])} |"
            for w in d.expired_waivers
        ]
    return "\n".join(out) + "\n"
