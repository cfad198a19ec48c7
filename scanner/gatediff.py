"""How a change to the gate's own configuration weakens it (LG-GATE-001).

Pure comparisons of the merge base's configuration with the pull request's: each
weakening is one record naming the field and exactly what changed. A change that only
tightens (a rule added, a severity raised, an exclusion removed) yields nothing. A
parameter whose direction this module cannot judge counts as loosened: fail closed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from scanner.model import Severity

#: List parameters whose members are obligations: removing one loosens the gate.
OBLIGATION_LISTS = frozenset({"productionNamespaces", "weakCipherSuites", "dutyConflicts"})
#: List parameters whose members are allowances: adding one loosens the gate.
ALLOWANCE_LISTS = frozenset(
    {
        "approvedRegistries",
        "encryptedStorageClasses",
        "identityGroupPrefixes",
        "clusterAdminAllowedSubjects",
        "sodExemptSubjects",
        "keys",
        "identities",
        "insecure",
    }
)
#: Boolean parameters whose ``true`` is the strict setting.
STRICT_WHEN_TRUE = frozenset({"enabled", "vulnerabilities"})
TLS_ORDER = ("VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13")

Change = dict[str, str]


def _change(field: str, change: str, detail: str) -> Change:
    return {"field": field, "change": change, "detail": detail}


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def _selected(rule_id: str, rules: Mapping[str, Any]) -> bool:
    include = rules.get("include") or ["*"]
    exclude = rules.get("exclude") or []
    return any(fnmatchcase(rule_id, p) for p in include) and not any(
        fnmatchcase(rule_id, p) for p in exclude
    )


def rule_changes(
    base: Mapping[str, Any], head: Mapping[str, Any], catalogue: Mapping[str, str]
) -> list[Change]:
    """Rules that stop running, and severities lowered, for every rule in ``catalogue``."""
    out: list[Change] = []
    for rule_id in sorted(catalogue):
        if not _selected(rule_id, base):
            continue
        if not _selected(rule_id, head):
            field = (
                "rules.exclude" if _selected(rule_id, {**head, "exclude": []}) else "rules.include"
            )
            out.append(_change(field, "rule excluded", f"{rule_id} no longer runs"))
            continue
        was = (base.get("severity") or {}).get(rule_id, catalogue[rule_id])
        now = (head.get("severity") or {}).get(rule_id, catalogue[rule_id])
        if _rank(now) < _rank(was):
            out.append(
                _change(
                    f"rules.severity.{rule_id}",
                    "severity lowered",
                    f"{rule_id} severity lowered from {was} to {now}",
                )
            )
    removed = sorted(set(base.get("paths") or []) - set(head.get("paths") or []))
    out.extend(
        _change("rules.paths", "rule folder removed", f"{p} no longer loaded") for p in removed
    )
    return out


def _list_changes(name: str, field: str, was: list[Any], now: list[Any]) -> list[Change]:
    before, after = {_canon(v) for v in was}, {_canon(v) for v in now}
    if name in OBLIGATION_LISTS:
        gone = sorted(before - after)
        return [_change(field, "parameter loosened", f"{field}: {v} removed") for v in gone]
    if name in ALLOWANCE_LISTS:
        added = sorted(after - before)
        return [_change(field, "parameter loosened", f"{field}: {v} added") for v in added]
    if before != after:
        return [_change(field, "parameter loosened", f"{field} changed (direction unknown)")]
    return []


def _scalar_change(name: str, field: str, was: Any, now: Any) -> list[Change]:
    if was == now:
        return []
    loosened = True  # unknown direction: fail closed
    if isinstance(was, bool) and isinstance(now, bool) and name in STRICT_WHEN_TRUE:
        loosened = was and not now
    elif isinstance(was, int | float) and isinstance(now, int | float):
        if name.startswith("min"):
            loosened = now < was
        elif name.startswith("max"):
            loosened = now > was
    elif name == "minTlsVersion" and was in TLS_ORDER and now in TLS_ORDER:
        loosened = TLS_ORDER.index(now) < TLS_ORDER.index(was)
    if not loosened:
        return []
    return [_change(field, "parameter loosened", f"{field} changed from {was!r} to {now!r}")]


def param_changes(base: Any, head: Any, prefix: str = "params") -> list[Change]:
    """Parameters loosened between the two (defaults merged) parameter mappings."""
    if isinstance(base, Mapping) and isinstance(head, Mapping):
        out: list[Change] = []
        for key in sorted(set(base) | set(head), key=str):
            field = f"{prefix}.{key}"
            if key not in head:
                continue  # the shipped default (merged in) applies again
            if key not in base:
                was: Any = [] if isinstance(head[key], list) else {}
                out.extend(param_changes(was, head[key], field) if was != head[key] else [])
                continue
            out.extend(param_changes(base[key], head[key], field))
        return out
    name = prefix.rsplit(".", 1)[-1]
    if isinstance(base, list) and isinstance(head, list):
        return _list_changes(name, prefix, base, head)
    return _scalar_change(name, prefix, base, head)


def config_changes(
    base: Mapping[str, Any], head: Mapping[str, Any], catalogue: Mapping[str, str]
) -> list[Change]:
    """Every weakening between two ``ledgergate.yaml`` documents (params already merged)."""
    out = rule_changes(base.get("rules") or {}, head.get("rules") or {}, catalogue)
    added = sorted(set(head.get("exclude") or []) - set(base.get("exclude") or []))
    out.extend(_change("exclude", "path excluded", f"{p} no longer scanned") for p in added)
    was, now = str(base.get("failOn", "high")), str(head.get("failOn", "high"))
    if _rank(now) > _rank(was):
        out.append(_change("failOn", "gate threshold raised", f"failOn raised from {was} to {now}"))
    out.extend(param_changes(base.get("params") or {}, head.get("params") or {}))
    out.extend(_waiver_policy_changes(base.get("waivers") or {}, head.get("waivers") or {}))
    return out


def _waiver_policy_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> list[Change]:
    out: list[Change] = []
    if head.get("allowWildcards", False) and not base.get("allowWildcards", False):
        out.append(
            _change("waivers.allowWildcards", "parameter loosened", "wildcard waivers allowed")
        )
    was, now = base.get("maxDays", 90), head.get("maxDays", 90)
    if isinstance(was, int) and isinstance(now, int) and now > was:
        out.append(
            _change(
                "waivers.maxDays",
                "parameter loosened",
                f"waivers.maxDays raised from {was} to {now}",
            )
        )
    return out


def waiver_changes(base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> list[Change]:
    """Waivers the change adds or alters (a removed waiver only tightens the gate)."""
    before = {_canon(w) for w in (base or {}).get("waivers") or []}
    out: list[Change] = []
    for index, entry in enumerate((head or {}).get("waivers") or []):
        if _canon(entry) in before or not isinstance(entry, Mapping):
            continue
        resource = ", ".join(f"{k}={v}" for k, v in sorted((entry.get("resource") or {}).items()))
        out.append(
            _change(
                f"waivers[{index}]",
                "waiver added",
                f"waiver {entry.get('ticket', '?')} for {entry.get('rule', '?')} ({resource}) "
                f"until {entry.get('expires', '?')}",
            )
        )
    return out


def rulefile_changes(base: Mapping[str, str], head: Mapping[str, str]) -> list[Change]:
    """Custom rule files (path -> sha256) the change edits or deletes."""
    out: list[Change] = []
    for path in sorted(base):
        if path not in head:
            out.append(_change(path, "rule file removed", f"{path} deleted"))
        elif head[path] != base[path]:
            out.append(_change(path, "rule file changed", f"{path} edited"))
    return out


def gate_changes(spec: Mapping[str, Any]) -> list[Change]:
    """The weakenings one ``GateConfig`` object describes (``spec.type`` picks the compare)."""
    kind = spec.get("type")
    base, head = spec.get("base"), spec.get("head")
    if kind == "config":
        catalogue = {str(k): str(v) for k, v in (spec.get("catalogue") or {}).items()}
        return config_changes(base or {}, head or {}, catalogue)
    if kind == "waivers":
        return waiver_changes(base, head)
    if kind == "rules":
        return rulefile_changes(base or {}, head or {})
    raise ValueError(f"unknown GateConfig spec.type {kind!r} (config, waivers or rules)")


def describe(changes: Iterable[Change]) -> str:
    """One line naming every change."""
    return "; ".join(f"{c['change']}: {c['detail']}" for c in changes)
