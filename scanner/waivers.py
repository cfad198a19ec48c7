"""The waiver register: approved, time-boxed exceptions with owner, approver and expiry.

A waiver turns a matching ``fail`` finding into ``waived`` (still visible in every
output, with who accepted the risk until when). An expired waiver stops applying and
is itself reported, so an exception can never silently become permanent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from scanner import shipped, yamlutil
from scanner.config import Config, confined_file
from scanner.errors import ConfigError
from scanner.model import Evidence, Finding, Origin, Severity, Status

WAIVER_NAMES = ("waivers.yaml", "waivers.yml")
EXPIRED_RULE_ID = "waiver/expired"
EXPIRED_SEVERITY = Severity.MEDIUM


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

    rule: str
    selector: Selector
    justification: str
    ticket: str
    owner: str
    approver: str
    expires: dt.date
    source: str
    line: int
    id: str = ""

    def matches(self, finding: Finding) -> bool:
        """Rule id (or glob) and resource selector both match."""
        return fnmatchcase(finding.rule_id, self.rule) and self.selector.matches(finding)

    def expired(self, today: dt.date) -> bool:
        """``expires`` is the last day the waiver applies."""
        return today > self.expires

    def record(self) -> dict[str, str]:
        """The mapping a waived finding carries (shown in every output)."""
        out = {
            "owner": self.owner,
            "approver": self.approver,
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


def today_utc() -> dt.date:
    """Today (UTC), or the day of ``SOURCE_DATE_EPOCH`` when set (reproducible runs)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.date()


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
    path: Path, display: str | None = None, *, config: Config | None = None
) -> WaiverRegister:
    """Read and validate a register; every error names file, line and field."""
    shown = display or str(path)
    try:
        raw, text = yamlutil.load_file(path)
    except yamlutil.YamlLoadError as exc:
        raise ConfigError(f"{shown}:{exc.line}: waivers YAML does not parse: {exc}") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{shown}: cannot read waivers: {exc}") from exc
    data = _stringify_dates(raw if raw is not None else {"waivers": []})
    _validate(shown, text, data)
    waivers = tuple(_waiver(shown, text, i, entry) for i, entry in enumerate(data["waivers"]))
    return WaiverRegister(waivers, shown)


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


def _waiver(shown: str, text: str, index: int, entry: Mapping[str, Any]) -> Waiver:
    here: list[str | int] = ["waivers", index]
    try:
        expires = dt.date.fromisoformat(entry["expires"])
    except ValueError as exc:
        raise _error(shown, text, [*here, "expires"], f"not a date: {exc}") from exc
    if entry["owner"].strip().casefold() == entry["approver"].strip().casefold():
        raise _error(
            shown,
            text,
            [*here, "approver"],
            "approver must differ from owner (separation of duties applies to exceptions)",
        )
    sel = entry["resource"]
    return Waiver(
        rule=entry["rule"],
        selector=Selector(
            kind=sel.get("kind", "*"),
            namespace=sel.get("namespace", "*"),
            name=sel.get("name", "*"),
            path=sel.get("path", "*"),
        ),
        justification=" ".join(entry["justification"].split()),
        ticket=entry["ticket"],
        owner=entry["owner"],
        approver=entry["approver"],
        expires=expires,
        source=shown,
        line=yamlutil.line_of(text, here),
        id=entry.get("id", ""),
    )


def expired_finding(waiver: Waiver, today: dt.date) -> Finding:
    """An expired waiver is itself a finding, located at its line in the register."""
    key = "\x1f".join(
        (
            EXPIRED_RULE_ID,
            waiver.source,
            waiver.id,
            waiver.rule,
            waiver.ticket,
            repr(waiver.selector),
        )
    )
    return Finding(
        rule_id=EXPIRED_RULE_ID,
        status=Status.FAIL,
        severity=EXPIRED_SEVERITY,
        title="Waiver expired",
        message=(
            f"waiver {waiver.ticket} for {waiver.rule} (owner {waiver.owner}, approver "
            f"{waiver.approver}) expired on {waiver.expires.isoformat()} "
            f"({(today - waiver.expires).days} day(s) ago); it no longer applies: renew "
            "it with a new approval or fix the findings it covered"
        ),
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


def apply_waivers(
    findings: Iterable[Finding], register: WaiverRegister | None, today: dt.date | None = None
) -> list[Finding]:
    """Waive matching ``fail`` findings; report expired waivers. ``error`` is never waived."""
    found = list(findings)
    if register is None or not register.waivers:
        return found
    day = today or today_utc()
    active = [w for w in register.waivers if not w.expired(day)]
    out: list[Finding] = []
    for f in found:
        waiver = next((w for w in active if w.matches(f)), None)
        if f.status is Status.FAIL and waiver is not None:
            f = replace(f, status=Status.WAIVED, waiver=waiver.record())
        out.append(f)
    out.extend(expired_finding(w, day) for w in register.waivers if w.expired(day))
    return out
