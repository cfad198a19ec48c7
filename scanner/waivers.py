"""The waiver register: approved, time-boxed exceptions with owner, approvers and expiry.

A waiver turns a matching ``fail`` finding into ``waived`` (still visible in every
output, with who accepted the risk until when). Waivers are bounded: each names one
rule id (or an explicit list) and a selector naming a resource or file, globs only
where ``waivers.allowWildcards`` allows them, at most ``waivers.maxDays`` from its
approval date; a critical finding needs two approvers besides the owner, identities
compared by their look-alike skeleton (:mod:`scanner.identity`). An expired waiver
stops applying and is reported; one that matches nothing is reported as stale. The
clock is the real one (``LEDGERGATE_TODAY`` for tests), never ``SOURCE_DATE_EPOCH``,
which a pull request's commit date can set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from scanner import shipped, yamlutil
from scanner.clock import today as today_utc
from scanner.config import DEFAULT_WAIVER_MAX_DAYS, Config, confined_file
from scanner.errors import ConfigError
from scanner.identity import fold
from scanner.model import Evidence, Finding, Origin, Severity, Status

WAIVER_NAMES = ("waivers.yaml", "waivers.yml")
EXPIRED_RULE_ID = "waiver/expired"
EXPIRED_SEVERITY = Severity.MEDIUM
STALE_RULE_ID = "waiver/stale"
UNDER_APPROVED_RULE_ID = "waiver/under-approved"
#: Distinct approvers (besides the owner) a waiver needs to cover a critical finding.
CRITICAL_APPROVERS = 2
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Selector:
    """Which findings a waiver covers: globs over kind, namespace, name and file path."""

    kind: str = "*"
    namespace: str = "*"
    name: str = "*"
    path: str = "*"

    def matches(self, finding: Finding) -> bool:
        """Every given glob must match the finding's resource and location."""
        ref = finding.resource
        return (
            fnmatchcase(ref.kind if ref else "", self.kind)
            and fnmatchcase(ref.namespace if ref else "", self.namespace)
            and fnmatchcase(ref.name if ref else "", self.name)
            and fnmatchcase(finding.origin.path, self.path)
        )


@dataclass(frozen=True)
class Waiver:
    """One approved exception, with the line it was declared on."""

    rules: tuple[str, ...]
    selector: Selector
    justification: str
    ticket: str
    owner: str
    approvers: tuple[str, ...]
    approved: dt.date
    expires: dt.date
    source: str
    line: int
    id: str = ""

    @property
    def rule(self) -> str:
        """The rule ids, as written (comma-separated for a list)."""
        return ", ".join(self.rules)

    @property
    def approver(self) -> str:
        """The approvers, comma-separated."""
        return ", ".join(self.approvers)

    def distinct_approvers(self) -> int:
        """Approvers who are neither the owner nor each other, by look-alike skeleton."""
        owner = fold(self.owner)
        return len({fold(a) for a in self.approvers} - {owner})

    def matches(self, finding: Finding) -> bool:
        """Rule id (or allowed glob) and resource selector both match."""
        return any(fnmatchcase(finding.rule_id, r) for r in self.rules) and self.selector.matches(
            finding
        )

    def expired(self, today: dt.date) -> bool:
        """``expires`` is the last day the waiver applies."""
        return today > self.expires

    def record(self) -> dict[str, str]:
        """The mapping a waived finding carries (shown in every output)."""
        out = {
            "owner": self.owner,
            "approver": self.approver,
            "approved": self.approved.isoformat(),
            "ticket": self.ticket,
            "expiry": self.expires.isoformat(),
            "justification": self.justification,
            "rule": self.rule,
            "source": f"{self.source}:{self.line}",
        }
        if self.id:
            out["id"] = self.id
        return out


@dataclass(frozen=True)
class WaiverRegister:
    """The validated waivers of one scan."""

    waivers: tuple[Waiver, ...]
    path: str = ""


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shipped.schema_path("waivers.schema.json").read_text())
    return loaded


def find_waivers(root: Path, explicit: Path | None) -> Path | None:
    """``--waivers`` if given, else ``waivers.yaml`` at the scanned root, else none."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"waiver register not found: {explicit}")
        return explicit
    base = root if root.is_dir() else root.parent
    found = next(
        (base / n for n in WAIVER_NAMES if (base / n).is_symlink() or (base / n).is_file()), None
    )
    return confined_file(base, found, "waiver register") if found is not None else None


def _stringify_dates(node: Any) -> Any:
    """YAML reads ``2026-01-31`` as a date; the schema checks the text form."""
    if isinstance(node, dt.date):
        return node.isoformat()
    if isinstance(node, Mapping):
        return {k: _stringify_dates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_stringify_dates(v) for v in node]
    return node


def load_waivers(
    path: Path,
    display: str | None = None,
    *,
    config: Config | None = None,
    today: dt.date | None = None,
) -> WaiverRegister:
    """Read and validate a register; every error names file, line and field.

    ``config`` sets the limits (``waivers.allowWildcards``, ``waivers.maxDays``).
    """
    shown = display or str(path)
    try:
        raw, text = yamlutil.load_file(path)
    except yamlutil.YamlLoadError as exc:
        raise ConfigError(f"{shown}:{exc.line}: waivers YAML does not parse: {exc}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{shown}: cannot read waivers: {exc}") from exc
    data = _stringify_dates(raw if raw is not None else {"waivers": []})
    _validate(shown, text, data)
    limits = _Limits(
        config.waiver_wildcards if config else False,
        config.waiver_max_days if config else DEFAULT_WAIVER_MAX_DAYS,
        today or today_utc(),
    )
    waivers = tuple(
        _waiver(shown, text, i, entry, limits) for i, entry in enumerate(data["waivers"])
    )
    return WaiverRegister(waivers, shown)


@dataclass(frozen=True)
class _Limits:
    wildcards: bool
    max_days: int
    today: dt.date


def _error(shown: str, text: str, where: list[str | int], message: str) -> ConfigError:
    dotted = ".".join(str(p) for p in where) or "(top level)"
    return ConfigError(f"{shown}:{yamlutil.line_of(text, where)}: {dotted}: {message}")


def _validate(shown: str, text: str, data: Any) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        lines = [str(_error(shown, text, list(e.absolute_path), e.message)) for e in errors]
        raise ConfigError("invalid waiver register:\n  " + "\n  ".join(lines))


def _date(shown: str, text: str, where: list[str | int], value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _error(shown, text, where, f"not a date: {exc}") from exc


def _waiver(shown: str, text: str, index: int, entry: Mapping[str, Any], limits: _Limits) -> Waiver:
    here: list[str | int] = ["waivers", index]

    def bad(field: list[str | int], message: str) -> ConfigError:
        return _error(shown, text, [*here, *field], message)

    expires = _date(shown, text, [*here, "expires"], entry["expires"])
    approved = _date(shown, text, [*here, "approved"], entry["approved"])
    rules = entry["rule"] if isinstance(entry["rule"], list) else [entry["rule"]]
    sel = entry["resource"]
    if not limits.wildcards:
        for i, rule in enumerate(rules):
            if GLOB_CHARS & set(rule):
                where: list[str | int] = (
                    ["rule", i] if isinstance(entry["rule"], list) else ["rule"]
                )
                raise bad(where, "wildcards need waivers.allowWildcards: true in ledgergate.yaml")
        for key, value in sorted(sel.items()):
            if GLOB_CHARS & set(value):
                raise bad(
                    ["resource", key],
                    "wildcards need waivers.allowWildcards: true in ledgergate.yaml",
                )
    if not (sel.get("name") or sel.get("path")):
        raise bad(["resource"], "must name a resource (name) or a file (path): a bounded set")
    approvers = entry.get("approvers") or [entry["approver"]]
    owner = fold(entry["owner"])
    for i, who in enumerate(approvers):
        if fold(who) == owner:
            field: list[str | int] = ["approvers", i] if "approvers" in entry else ["approver"]
            raise bad(
                field,
                "approver must differ from owner (separation of duties applies to "
                "exceptions; identities are compared after Unicode normalisation and "
                "look-alike folding)",
            )
    if approved > limits.today:
        raise bad(["approved"], f"approval date is in the future (today is {limits.today})")
    if expires < approved:
        raise bad(["expires"], "expires before it was approved")
    if (expires - approved).days > limits.max_days:
        raise bad(
            ["expires"],
            f"runs {(expires - approved).days} days from its approval; the longest waiver "
            f"is waivers.maxDays = {limits.max_days} days (ledgergate.yaml)",
        )
    return Waiver(
        rules=tuple(rules),
        selector=Selector(
            kind=sel.get("kind", "*"),
            namespace=sel.get("namespace", "*"),
            name=sel.get("name", "*"),
            path=sel.get("path", "*"),
        ),
        justification=" ".join(entry["justification"].split()),
        ticket=entry["ticket"],
        owner=entry["owner"],
        approvers=tuple(approvers),
        approved=approved,
        expires=expires,
        source=shown,
        line=yamlutil.line_of(text, here),
        id=entry.get("id", ""),
    )


def _register_finding(
    waiver: Waiver, rule_id: str, severity: Severity, title: str, message: str
) -> Finding:
    """A finding about the register itself, located at the waiver's line."""
    key = "\x1f".join(
        (rule_id, waiver.source, waiver.id, waiver.rule, waiver.ticket, repr(waiver.selector))
    )
    return Finding(
        rule_id=rule_id,
        status=Status.FAIL,
        severity=severity,
        title=title,
        message=message,
        resource=None,
        origin=Origin(path=waiver.source, start_line=waiver.line, end_line=waiver.line),
        evidence=(
            Evidence("rule", waiver.rule),
            Evidence("ticket", waiver.ticket),
            Evidence("owner", waiver.owner),
            Evidence("approver", waiver.approver),
            Evidence("expiry", waiver.expires.isoformat()),
        ),
        fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
    )


def expired_finding(waiver: Waiver, today: dt.date) -> Finding:
    """An expired waiver is itself a finding, located at its line in the register."""
    return _register_finding(
        waiver,
        EXPIRED_RULE_ID,
        EXPIRED_SEVERITY,
        "Waiver expired",
        f"waiver {waiver.ticket} for {waiver.rule} (owner {waiver.owner}, approver "
        f"{waiver.approver}) expired on {waiver.expires.isoformat()} "
        f"({(today - waiver.expires).days} day(s) ago); it no longer applies: renew "
        "it with a new approval or fix the findings it covered",
    )


def apply_waivers(
    findings: Iterable[Finding], register: WaiverRegister | None, today: dt.date | None = None
) -> list[Finding]:
    """Waive matching ``fail`` findings; report expired, stale and under-approved waivers.

    ``error`` is never waived; a critical finding only by a waiver with two approvers
    besides the owner.
    """
    found = list(findings)
    if register is None or not register.waivers:
        return found
    day = today or today_utc()
    active = [w for w in register.waivers if not w.expired(day)]
    used: set[int] = set()
    short: dict[int, list[str]] = {}
    out: list[Finding] = []
    for f in found:
        if f.status is Status.FAIL:
            for i, waiver in enumerate(active):
                if not waiver.matches(f):
                    continue
                if f.severity is Severity.CRITICAL and (
                    waiver.distinct_approvers() < CRITICAL_APPROVERS
                ):
                    short.setdefault(i, []).append(f.rule_id)
                    continue
                used.add(i)
                f = replace(f, status=Status.WAIVED, waiver=waiver.record())
                break
        out.append(f)
    out.extend(expired_finding(w, day) for w in register.waivers if w.expired(day))
    for i, waiver in enumerate(active):
        if i in short:
            out.append(
                _register_finding(
                    waiver,
                    UNDER_APPROVED_RULE_ID,
                    Severity.MEDIUM,
                    "Waiver lacks approvals for a critical finding",
                    f"waiver {waiver.ticket} does not cover critical "
                    f"{', '.join(sorted(set(short[i])))}: "
                    f"a critical finding needs {CRITICAL_APPROVERS} approvers besides the owner, "
                    f"this waiver has {waiver.distinct_approvers()}",
                )
            )
        elif i not in used:
            out.append(
                _register_finding(
                    waiver,
                    STALE_RULE_ID,
                    Severity.LOW,
                    "Waiver matches nothing",
                    f"waiver {waiver.ticket} for {waiver.rule} matches no failing finding: "
                    "the risk it accepted is gone (or the selector is wrong); remove it",
                )
            )
    return out
