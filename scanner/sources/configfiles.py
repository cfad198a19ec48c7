"""Non-Kubernetes configuration of the finance estate, read as synthetic resources.

Each parser turns one file into a plain mapping (``spec``) plus the line of every
key, so rules judge ``odoo.conf`` or ``redis.conf`` with the same CEL as manifests.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from scanner.errors import SourceError
from scanner.model import SYNTHETIC_GROUP
from scanner.sources.render.base import FieldMap, Location


class ConfigParseError(SourceError, ValueError):
    """A configuration file that does not parse; carries the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ParsedConfig:
    """A parsed configuration file: its synthetic kind, settings and key lines.

    ``key_lines`` is keyed as rules name evidence: the path under ``spec`` (``ssl``,
    ``options.db_sslmode``, ``entryPoints.web.address``); a section or table header counts
    as the line of its name, so an unset setting points at the section it belongs in.
    """

    kind: str
    spec: dict[str, Any]
    key_lines: dict[str, int]
    #: Whether ``value  # comment`` is a comment in this syntax (not in INI or redis.conf).
    trailing_comments: bool = False


#: A trailing ``.key`` or ``[index]`` of an evidence path: dropped to find the enclosing key.
_LAST_STEP = re.compile(r"(?:\.[^.\[\]]+|\[[^\]]*\])$")


@dataclass(frozen=True)
class KeyLines(FieldMap):
    """Where each setting of one configuration file is, so a finding on the synthetic
    resource points at the line to change, as one on a manifest does (table, JSON, SARIF)."""

    path: str
    #: evidence path -> (line, first column, column just past the setting; 1-based)
    spans: Mapping[str, tuple[int, int, int]]
    end_line: int

    @classmethod
    def of(cls, path: str, text: str, parsed: ParsedConfig) -> KeyLines:
        """The spans of every key ``parsed`` found in ``text``."""
        lines = text.splitlines()
        spans: dict[str, tuple[int, int, int]] = {}
        for key, number in parsed.key_lines.items():
            raw = lines[number - 1] if 0 < number <= len(lines) else ""
            shown = _strip_comment(raw) if parsed.trailing_comments else raw
            column = len(raw) - len(raw.lstrip()) + 1
            end = len(shown.rstrip()) + 1
            spans[key] = (number, column, end if end > column else 0)
        return cls(path, spans, max(len(lines), 1))

    def where(self, path: str) -> Location | None:
        """The setting's line; for one the file does not set, its section's (else None)."""
        probe = path
        while probe:
            span = self.spans.get(probe)
            if span is not None:
                line, column, end = span
                return Location(self.path, line, 1, self.end_line, column=column, end_column=end)
            probe = _LAST_STEP.sub("", probe) if _LAST_STEP.search(probe) else ""
        return None

    def files(self) -> frozenset[str]:
        """The configuration file itself."""
        return frozenset({self.path})


def _strip_comment(value: str) -> str:
    """Drop a trailing ``# comment`` outside quotes."""
    quote = ""
    for i, ch in enumerate(value):
        if ch in "'\"" and not quote:
            quote = ch
        elif ch == quote:
            quote = ""
        elif ch == "#" and not quote:
            return value[:i]
    return value


def _ini_error(exc: configparser.Error) -> ConfigParseError:
    """The line and the kind of problem; never the line's text (it may hold a password)."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return ConfigParseError(exc.lineno, "INI error: setting before the first [section] header")
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        line = exc.errors[0][0]
        return ConfigParseError(line, "INI error: line is not `name = value` (is the `=` missing?)")
    line = getattr(exc, "lineno", 0) or 0
    return ConfigParseError(line, f"INI error: {type(exc).__name__}")


def parse_odoo(text: str) -> ParsedConfig:
    """``odoo.conf``: INI with an ``[options]`` section."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise _ini_error(exc) from exc
    spec = {section: dict(parser.items(section)) for section in parser.sections()}
    key_lines: dict[str, int] = {}
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            key_lines.setdefault(section, number)
        elif "=" in line and not line.startswith(("#", ";")):
            key = line.split("=", 1)[0].strip().lower()
            key_lines.setdefault(f"{section}.{key}", number)
    return ParsedConfig("OdooConfig", spec, key_lines)


def parse_postgresql(text: str) -> ParsedConfig:
    """``postgresql.conf``: ``name = value`` with optional quotes and comments."""
    spec: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
        else:
            parts = line.split(None, 1)
            if len(parts) != 2:
                # the line is not quoted: a bare token may be a password
                raise ConfigParseError(number, "expected 'name = value' (a name without a value)")
            key, value = parts
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        spec[key.lower()] = value
        key_lines[key.lower()] = number
    return ParsedConfig("PostgresqlConfig", spec, key_lines, trailing_comments=True)


def parse_redis(text: str) -> ParsedConfig:
    """``redis.conf``: ``directive arg ...``; the last occurrence of a directive wins."""
    spec: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        key = parts[0].lower()
        spec[key] = parts[1].strip().strip('"') if len(parts) > 1 else ""
        key_lines[key] = number
    return ParsedConfig("RedisConfig", spec, key_lines)


def parse_traefik_toml(text: str) -> ParsedConfig:
    """Traefik static configuration in TOML."""
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib names the problem and position only; keep just the problem
        problem, _, where = str(exc).partition(" (at ")
        line = re.search(r"line (\d+)", where)
        raise ConfigParseError(int(line.group(1)) if line else 0, f"TOML error: {problem}") from exc
    return ParsedConfig("TraefikStaticConfig", spec, toml_key_lines(text), trailing_comments=True)


#: A TOML key part: bare, or a basic / literal quoted string.
_TOML_PART = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)""")


def _toml_key(text: str) -> list[str] | None:
    """``a."b.c".d`` as its parts (None when it is not a key)."""
    parts: list[str] = []
    at = 0
    while at < len(text):
        match = _TOML_PART.match(text, at)
        if match is None:
            return None
        basic, literal, bare, _dot = match.groups()
        parts.append(basic if basic is not None else literal if literal is not None else bare)
        at = match.end()
    return parts or None


def toml_key_lines(text: str) -> dict[str, int]:
    """The first line of every table and key of a TOML document, as dotted paths.

    tomllib keeps no positions; this reads the lines that name keys (``[table]``,
    ``[[array]]`` as ``array[n]``, ``key = value``), the prefixes of each included, and
    skips the inside of multi-line strings and arrays. A key it cannot read only loses
    its line: the finding then names the enclosing table's.
    """
    found: dict[str, int] = {}
    table: list[str] = []
    arrays: dict[str, int] = {}
    in_string = ""
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in raw:
                in_string = ""
            continue
        line = _strip_comment(raw).strip()
        if depth:
            depth += line.count("[") - line.count("]")
            continue
        if line.startswith("[["):
            name = _toml_key(line[2:].rstrip("]").rstrip()) if line.endswith("]]") else None
            if name is None:
                continue
            joined = ".".join(name)
            arrays[joined] = arrays.get(joined, -1) + 1
            table = name = [*name[:-1], f"{name[-1]}[{arrays[joined]}]"]
        elif line.startswith("["):
            name = _toml_key(line[1:-1]) if line.endswith("]") else None
            if name is None:
                continue
            table = name
        elif "=" in line:
            head, value = (part.strip() for part in line.split("=", 1))
            name = _toml_key(head)
            if name is None:
                continue
            for quote in ('"""', "'''"):
                if value.startswith(quote) and value.count(quote) == 1:
                    in_string = quote
            if value.startswith("["):
                depth = max(value.count("[") - value.count("]"), 0)
            name = [*table, *name]
        else:
            continue
        for end in range(1, len(name) + 1):
            found.setdefault(".".join(name[:end]), number)
    return found


#: ``include``-style directives: the settings they pull in are not part of this file.
_INCLUDE = re.compile(
    r"^[ \t]*(include|include_if_exists|include_dir)[ \t]*=?[ \t]*['\"]?([^'\"#\n]*)",
    re.MULTILINE | re.IGNORECASE,
)


def includes(kind: str, text: str) -> list[tuple[int, str, str]]:
    """(line, directive, target) of every include in a postgresql.conf or redis.conf."""
    if kind not in ("PostgresqlConfig", "RedisConfig"):
        return []
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2).strip())
        for m in _INCLUDE.finditer(text)
    ]


ParserFn = Callable[[str], ParsedConfig]

#: File names (or suffixes after '.' or '-') and their parsers.
_PARSERS: tuple[tuple[str, ParserFn], ...] = (
    ("odoo.conf", parse_odoo),
    ("postgresql.conf", parse_postgresql),
    ("redis.conf", parse_redis),
    ("traefik.toml", parse_traefik_toml),
)


def parser_for(path: str) -> ParserFn | None:
    """The parser for a non-YAML configuration file, by its name."""
    name = PurePosixPath(path).name.lower()
    for suffix, parser in _PARSERS:
        if name == suffix or name.endswith("." + suffix) or name.endswith("-" + suffix):
            return parser
    return None


def is_traefik_static_yaml(path: str) -> bool:
    """``traefik.yml`` / ``traefik.yaml`` hold Traefik's static configuration."""
    name = PurePosixPath(path).name.lower()
    return any(
        name == n or name.endswith(("." + n, "-" + n)) for n in ("traefik.yml", "traefik.yaml")
    )


def synthetic_body(kind: str, path: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Wrap parsed settings as a Kubernetes-shaped object of a synthetic kind."""
    return {
        "apiVersion": f"{SYNTHETIC_GROUP}/v1",
        "kind": kind,
        "metadata": {"name": path},
        "spec": spec,
    }
