"""Non-Kubernetes configuration of the finance estate, read as synthetic resources.

Each parser turns one file into a plain mapping (``spec``) plus the line of every
key, so rules judge ``odoo.conf`` or ``redis.conf`` with the same CEL as manifests.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from scanner.errors import SourceError
from scanner.model import SYNTHETIC_GROUP


class ConfigParseError(SourceError, ValueError):
    """A configuration file that does not parse; carries the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ParsedConfig:
    """A parsed configuration file: its synthetic kind, settings and key lines."""

    kind: str
    spec: dict[str, Any]
    key_lines: dict[str, int]


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
    return ParsedConfig("PostgresqlConfig", spec, key_lines)


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
    return ParsedConfig("TraefikStaticConfig", spec, {})


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
