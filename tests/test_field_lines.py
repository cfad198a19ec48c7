"""Every rule's fail fixtures: the line a finding reports (table, JSON, SARIF, JUnit and
GitLab all show ``finding_line``) holds the field the finding names.

Two checks, over all fail fixtures at once so that a rule with the same mistake as
LG-WKL-003 once made (evidence naming the ``ports`` list, two lines above ``hostPort``)
shows up:

- the field's own name: the last step of the evidence path (``hostPort``, ``tls.key``'s
  ``key``, a list item's ``-``) is on the reported line whenever the fixture sets that field;
- the ``# expect: RULE-ID`` marker: where a fail fixture marks the offending line, the
  finding reports that line (a marker on the ``kind:`` line marks an object-level finding,
  which reports the object's first lines).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest

from scanner.config import default_params
from scanner.model import Finding, Status
from scanner.reporters import get_reporter
from scanner.reporters.base import finding_line, pinpoint
from scanner.rules import Rule, load_rules
from scanner.ruletest import fixture_findings, fixtures_of
from scanner.sources.configfiles import KeyLines, parse_odoo, parse_traefik_toml

from .conftest import EXPECT_MARK, FIXTURE_REPOS, marker_lines, scanned_fixture_repo

RULES = list(load_rules())
BY_ID = {r.id: r for r in RULES}
FAILS = [(r, f) for r in RULES for f in fixtures_of(r) if f.name.startswith("fail.")]
IDS = [f"{r.id}/{f.name}" for r, f in FAILS]
_INDEX = re.compile(r"\[[^\]]*\]")


def _findings(rule: Rule, fixture: Path) -> tuple[Finding, ...]:
    return _judged(rule.id, fixture)


@cache
def _judged(rule_id: str, fixture: Path) -> tuple[Finding, ...]:
    found = fixture_findings(BY_ID[rule_id], fixture, default_params())
    return tuple(f for f in found if f.rule_id == rule_id and f.status is Status.FAIL)


def _steps(path: str) -> list[tuple[str, bool]]:
    """The key names along an evidence path, each with whether a list item of it is meant
    (``containers[0]``); ``podSpec`` is where the kind keeps its pod spec (a ``spec:``), and
    ``annotation:field`` names a field inside the annotation's value, so it ends there."""
    inner = path.split(":", 1)[0]
    found = []
    for part in inner.split("."):
        name = _INDEX.sub("", part)
        if name:
            found.append(("spec" if name == "podSpec" else name, name != part))
    return found


def _key(name: str) -> re.Pattern[str]:
    """``name:`` as a YAML key (block or flow), or the first part of a dotted key."""
    return re.compile(rf"(?:^|[\s{{,\"'-]){re.escape(name)}[\"']?(?:\s*:|\.)")


#: Fixtures in a configuration file's own syntax (INI, redis.conf, postgresql.conf, TOML).
CONFIG_SYNTAX = (".conf", ".toml")


def _config_key(name: str) -> re.Pattern[str]:
    """``name = value``, ``name value`` (redis.conf), a dotted key ending in ``name``, or a
    ``[section]`` / ``[table.name]`` header."""
    return re.compile(rf"^\s*\[*\s*(?:[\w\"'-]+\.)*[\"']?{re.escape(name)}[\"']?(?:\s*[=\].]|\s|$)")


def _block(lines: list[str], at: int) -> list[str]:
    """The reported line and the lines nested under it (deeper indentation)."""
    indent = len(lines[at]) - len(lines[at].lstrip(" -"))
    block = [lines[at]]
    for text in lines[at + 1 :]:
        if text.strip() and len(text) - len(text.lstrip(" -")) <= indent:
            break
        block.append(text)
    return block


@pytest.mark.parametrize(("rule", "fixture"), FAILS, ids=IDS)
def test_reported_line_holds_the_named_field(rule: Rule, fixture: Path) -> None:
    """The line holds the path's last key, its list entry, or, for a field the object does
    not set, the nearest enclosing key, under which the next key is then indeed absent."""
    lines = fixture.read_text(encoding="utf-8").splitlines()
    key = _config_key if fixture.name.endswith(CONFIG_SYNTAX) else _key
    for f in _findings(rule, fixture):
        placed = pinpoint(f)
        if placed is None or placed.path.startswith(("facts.", "networkPolicy.")):
            continue  # object-level, or a derived fact: no field of this file to point at
        at = finding_line(f) - 1
        held = lines[at]
        steps = _steps(placed.path)
        last = steps[-1][0]
        if placed.path.endswith("]"):
            entry = held.lstrip().startswith("-") or "{" in held or f"{last}:" in held
            assert entry, (placed.path, held)
            continue
        on_entry = bool(placed.value) and held.lstrip().startswith(f"- {placed.value}")
        if on_entry or key(last).search(held):
            continue
        item = held.lstrip().startswith("-")
        found = [
            i
            for i, (step, listed) in enumerate(steps)
            if key(step).search(held) or (listed and item)
        ]
        assert found, (placed.path, at + 1, held)
        missing = steps[found[-1] + 1][0]
        nested = "\n".join(_block(lines, at))
        assert not key(missing).search(nested), (
            f"{placed.path}: line {at + 1} ({held.strip()!r}) stops above {missing!r}"
        )


def _marks(fixture: Path, rule_id: str) -> set[int]:
    """The lines marked for ``rule_id``. INI and redis.conf have no trailing comments, so
    there a marker alone on its comment line marks the next line that is not a comment
    (a setting, or the ``[section]`` an unset setting belongs in)."""
    text = fixture.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: set[int] = set()
    for match in EXPECT_MARK.finditer(text):
        if rule_id in {r.strip() for r in match.group(1).split(",")}:
            line = text.count("\n", 0, match.start()) + 1
            if fixture.name.endswith(".conf") and lines[line - 1].lstrip().startswith("#"):
                below = (n for n in range(line + 1, len(lines) + 1) if _setting(lines[n - 1]))
                line = next(below, line)
            found.add(line)
    return found


def _setting(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith(("#", ";"))


MARKED = [(r, f) for r, f in FAILS if _marks(f, r.id)]


def test_many_fail_fixtures_mark_their_offending_line() -> None:
    """The marker check below is a broad sample, not a handful."""
    assert len(MARKED) >= 40


@pytest.mark.parametrize(("rule", "fixture"), MARKED, ids=[f"{r.id}/{f.name}" for r, f in MARKED])
def test_reported_line_is_the_marked_line(rule: Rule, fixture: Path) -> None:
    lines = fixture.read_text(encoding="utf-8").splitlines()
    marks = _marks(fixture, rule.id)
    findings = _findings(rule, fixture)
    assert findings
    object_level = {n for n in marks if lines[n - 1].lstrip().startswith("kind:")}
    for f in findings:
        line = finding_line(f)
        if line in marks:
            continue
        # a marker on ``kind:`` marks an object-level finding: any line of the object
        inside = object_level and f.origin.start_line <= line <= max(f.origin.end_line, line)
        assert inside, (
            f"{fixture.name}: reports line {line} ({lines[line - 1].strip()!r}), "
            f"marked {sorted(marks)}"
        )


CONFIG_KINDS = {"OdooConfig", "PostgresqlConfig", "RedisConfig", "TraefikStaticConfig"}


def _config_marks() -> dict[tuple[str, str], int]:
    """(file, rule) → the offending line the fixture repo marks in its configuration files
    (odoo.conf, redis.conf, postgresql.conf, traefik.yml)."""
    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    found: dict[tuple[str, str], int] = {}
    for path, rule_id, _ in marker_lines(repo):
        if path.endswith((".conf", "traefik.yml")):
            (line,) = _marks(repo / path, rule_id)
            found[(path, rule_id)] = line
    return found


def test_config_file_findings_point_at_the_setting_in_table_json_and_sarif() -> None:
    """A finding on ``odoo.conf`` or Traefik's static file names the setting's line (and
    SARIF its columns) in every output, not the file's first line."""
    result = scanned_fixture_repo()
    marks = _config_marks()
    on_config = {
        (f.origin.path, f.rule_id): finding_line(f)
        for f in result.findings
        if f.status is Status.FAIL and f.resource is not None and f.resource.kind in CONFIG_KINDS
    }
    assert len(on_config) >= 8 and on_config == {k: v for k, v in marks.items() if k in on_config}
    assert all(line > 1 for line in on_config.values())
    table = get_reporter("table").render(result)
    for (path, rule_id), line in on_config.items():
        rows = [r for r in table.splitlines() if f" {rule_id} " in r and path in r]
        assert rows and all(f"{path}:{line} " in r for r in rows), (rule_id, rows)
    doc = json.loads(get_reporter("json").render(result))
    json_lines = {
        (f["location"]["path"], f["ruleId"]): f["location"]["line"]
        for f in doc["findings"]
        if (f["location"].get("path"), f["ruleId"]) in on_config and f["status"] == "fail"
    }
    assert json_lines == on_config
    log = json.loads(get_reporter("sarif").render(result))
    run = log["runs"][0]
    prefix = run["properties"]["scannedPath"] + "/"
    regions = {}
    for found in run["results"]:
        physical = found["locations"][0]["physicalLocation"]
        key = (physical["artifactLocation"]["uri"].removeprefix(prefix), found["ruleId"])
        if key in on_config:
            regions[key] = physical["region"]
    assert {k: r["startLine"] for k, r in regions.items()} == on_config
    repo = FIXTURE_REPOS / "odoo-finance-noncompliant"
    for (path, _rule), region in regions.items():
        text = (repo / path).read_text(encoding="utf-8").splitlines()[region["startLine"] - 1]
        assert region["startColumn"] == len(text) - len(text.lstrip()) + 1
        shown = text[region["startColumn"] - 1 : region["endColumn"] - 1]
        assert shown.strip() and "# expect" not in shown, (path, shown)


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        ('[entryPoints.web]\n  address = ":80"\n', "entryPoints.web.address", 2),
        ('[entryPoints.web]\n  address = ":80"\n', "entryPoints.web", 1),
        ('[entryPoints.web]\n  address = ":80"\n', "entryPoints.web.http.redirections", 1),
        ("api.insecure = true  # dashboard\n", "api.insecure", 1),
        ('[entryPoints."web"]\naddress = ":80"\n', "entryPoints.web.address", 2),
        ('x = """\n[api]\ninsecure = true\n"""\n[api]\ninsecure = false\n', "api.insecure", 6),
        ("a = [\n  1,\n  2,\n]\n[[certs]]\nf = 1\n[[certs]]\nf = 2\n", "certs[1].f", 8),
        ("[options]\ndb_host = pg\n", "options.db_sslmode", 1),
    ],
)
def test_config_key_lines(text: str, path: str, line: int) -> None:
    """A setting's line, or its enclosing table's for one the file does not set; the inside
    of multi-line strings and arrays names no key."""
    parser = parse_odoo if text.startswith("[options]") else parse_traefik_toml
    where = KeyLines.of("f", text, parser(text)).where(path)
    assert where is not None and where.line == line, where
