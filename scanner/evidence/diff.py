"""Night-to-night diff of two scans: new, fixed and still-open findings, expired waivers.

Findings are matched by fingerprint (identity and field paths, not line numbers), so
moving a manifest in its file does not count as fixing one finding and adding another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.evidence.findings_doc import load_findings

__all__ = ["ScanDiff", "diff", "load_findings"]

OPEN = ("fail", "error")
EXPIRED_RULE_ID = "waiver/expired"


@dataclass(frozen=True)
class ScanDiff:
    """What changed between two scans."""

    new: tuple[Mapping[str, Any], ...]
    fixed: tuple[Mapping[str, Any], ...]
    still_open: tuple[Mapping[str, Any], ...]
    expired_waivers: tuple[Mapping[str, str], ...]
    old_scan: str = ""
    new_scan: str = ""
    #: Open findings gone because NEW's scope no longer judges them (not fixed).
    out_of_scope: tuple[Mapping[str, Any], ...] = ()
    #: How the scope changed (rules, paths, parameters, inputs), one line each.
    scope_changes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of the diff."""
        return {
            "oldScan": self.old_scan,
            "newScan": self.new_scan,
            "summary": {
                "new": len(self.new),
                "fixed": len(self.fixed),
                "stillOpen": len(self.still_open),
                "expiredWaivers": len(self.expired_waivers),
                "outOfScope": len(self.out_of_scope),
                "scopeChanges": len(self.scope_changes),
            },
            "outOfScope": [dict(f) for f in self.out_of_scope],
            "scopeChanges": list(self.scope_changes),
            "new": [dict(f) for f in self.new],
            "fixed": [dict(f) for f in self.fixed],
            "stillOpen": [dict(f) for f in self.still_open],
            "expiredWaivers": [dict(w) for w in self.expired_waivers],
        }


def _open(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(f.get("fingerprint")): f
        for f in doc.get("findings", [])
        if f.get("status") in OPEN and f.get("ruleId") != EXPIRED_RULE_ID
    }


def _evidence(finding: Mapping[str, Any]) -> dict[str, str]:
    return {str(e.get("path")): str(e.get("value", "")) for e in finding.get("evidence", [])}


def _expired(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """Waivers in force (or not yet reported expired) in OLD that NEW reports expired."""
    before = {
        str(f.get("fingerprint"))
        for f in old.get("findings", [])
        if f.get("ruleId") == EXPIRED_RULE_ID
    }
    out: dict[tuple[str, str], dict[str, str]] = {}
    for f in new.get("findings", []):
        if f.get("ruleId") != EXPIRED_RULE_ID or str(f.get("fingerprint")) in before:
            continue
        ev = _evidence(f)
        loc = f.get("location") or {}
        out[(ev.get("ticket", ""), ev.get("rule", ""))] = {
            "ticket": ev.get("ticket", ""),
            "rule": ev.get("rule", ""),
            "owner": ev.get("owner", ""),
            "approver": ev.get("approver", ""),
            "expiry": ev.get("expiry", ""),
            "declaredAt": f"{loc.get('path', '')}:{loc.get('startLine', 0)}",
        }
    return tuple(out[k] for k in sorted(out))


def scope_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """What NEW's recorded scope judges differently from OLD's, one line per change."""
    before, after = old.get("scope") or {}, new.get("scope") or {}
    if not before and not after:
        return ()
    if not before or not after:
        return ("one of the scans recorded no scope: its coverage cannot be compared",)
    out: list[str] = []
    was_rules, now_rules = before.get("rules") or {}, after.get("rules") or {}
    for rule in sorted(set(was_rules.get("selected", [])) - set(now_rules.get("selected", []))):
        out.append(f"rule no longer selected: {rule}")
    for rule in sorted(set(now_rules.get("selected", [])) - set(was_rules.get("selected", []))):
        out.append(f"rule newly selected: {rule}")
    for key, label in (
        ("excludedPaths", "excluded path"),
        ("inputsNotEnabled", "input not enabled"),
        ("namespaceFilter", "namespace filter"),
    ):
        for item in sorted(set(after.get(key, [])) - set(before.get(key, []))):
            out.append(f"{label} added: {item}")
        for item in sorted(set(before.get(key, [])) - set(after.get(key, []))):
            out.append(f"{label} removed: {item}")
    was_sev, now_sev = before.get("severityOverrides") or {}, after.get("severityOverrides") or {}
    for rule in sorted(set(was_sev) | set(now_sev)):
        if was_sev.get(rule) != now_sev.get(rule):
            out.append(
                f"severity override {rule}: {was_sev.get(rule, '-')} -> {now_sev.get(rule, '-')}"
            )
    was_p, now_p = before.get("params") or {}, after.get("params") or {}
    for key in sorted(set(was_p) | set(now_p)):
        if was_p.get(key) != now_p.get(key):
            out.append(f"parameter changed: {key}")
    if before.get("failOn") != after.get("failOn"):
        out.append(f"failOn: {before.get('failOn')} -> {after.get('failOn')}")
    return tuple(out)


def _out_of_scope(finding: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    scope = new.get("scope") or {}
    if not scope:
        return False
    if finding.get("ruleId") not in set((scope.get("rules") or {}).get("selected", [])):
        return str(finding.get("ruleId", "")).startswith("LG-")
    from scanner.sources.repo import is_excluded

    path = str((finding.get("location") or {}).get("path", ""))
    return bool(path) and is_excluded(path, scope.get("excludedPaths", []))


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> ScanDiff:
    """Compare two findings documents; scope changes are reported apart from fixes."""
    before, after = _open(old), _open(new)

    def pick(source: dict[str, Mapping[str, Any]], keys: set[str]) -> tuple[Mapping[str, Any], ...]:
        return tuple(source[k] for k in sorted(keys, key=lambda k: (_sort(source[k]), k)))

    gone = set(before) - set(after)
    hidden = {k for k in gone if _out_of_scope(before[k], new)}
    return ScanDiff(
        new=pick(after, set(after) - set(before)),
        fixed=pick(before, gone - hidden),
        still_open=pick(after, set(after) & set(before)),
        expired_waivers=_expired(old, new),
        old_scan=str(old.get("finished", "")),
        new_scan=str(new.get("finished", "")),
        out_of_scope=pick(before, hidden),
        scope_changes=scope_changes(old, new),
    )


def _sort(f: Mapping[str, Any]) -> tuple[str, int, str]:
    loc = f.get("location") or {}
    return (str(loc.get("path", "")), int(loc.get("startLine", 0) or 0), str(f.get("ruleId")))
