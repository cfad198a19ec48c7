"""``ledgergate.yaml``: parameters, rule selection, severity overrides, exclusions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from scanner import shipped, yamlutil
from scanner.errors import ConfigError
from scanner.model import Severity

CONFIG_NAMES = ("ledgergate.yaml", "ledgergate.yml")
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Config:
    """The validated configuration of one scan."""

    params: Mapping[str, Any]
    include: tuple[str, ...] = ("*",)
    exclude_rules: tuple[str, ...] = ()
    severity_overrides: Mapping[str, Severity] = field(default_factory=dict)
    rule_paths: tuple[Path, ...] = ()
    exclude_paths: tuple[str, ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    fail_on: Severity = Severity.HIGH
    path: Path | None = None
    #: ``controls.map``: rule id or glob -> the organisation's RCM control ids.
    control_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    control_map_name: str = ""
    #: ``evidence``: TSA and retention settings for evidence bundles (as written).
    evidence: Mapping[str, Any] = field(default_factory=dict)


@cache
def default_params() -> Mapping[str, Any]:
    """The shipped parameter defaults (``rules/params.yaml``)."""
    data, _ = yamlutil.load_file(shipped.rules_dir() / "params.yaml")
    return dict(data or {})


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shipped.schema_path("config.schema.json").read_text())
    return loaded


def find_config(root: Path, explicit: Path | None) -> Path | None:
    """``--config`` if given, else ``ledgergate.yaml`` at the scanned root."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return explicit
    base = root if root.is_dir() else root.parent
    for name in CONFIG_NAMES:
        candidate = base / name
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None) -> Config:
    """Read, validate and resolve a config file; None gives the defaults."""
    if path is None:
        return Config(params=default_params())
    try:
        data, text = yamlutil.load_file(path)
    except yamlutil.YamlLoadError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    data = data or {}
    _validate(path, text, data)
    rules = data.get("rules", {})
    base = path.parent
    return Config(
        params={**default_params(), **data.get("params", {})},
        include=tuple(rules.get("include", ["*"])),
        exclude_rules=tuple(rules.get("exclude", [])),
        severity_overrides={k: Severity(v) for k, v in rules.get("severity", {}).items()},
        rule_paths=tuple((base / p).resolve() for p in rules.get("paths", [])),
        exclude_paths=tuple(data.get("exclude", [])),
        max_file_size=int(data.get("maxFileSize", DEFAULT_MAX_FILE_SIZE)),
        fail_on=Severity(data.get("failOn", "high")),
        path=path,
        control_map=_control_map(data.get("controls", {}).get("map", {})),
        control_map_name=str(data.get("controls", {}).get("name", "")),
        evidence=dict(data.get("evidence", {})),
    )


def _control_map(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    return {str(k): (v,) if isinstance(v, str) else tuple(v) for k, v in raw.items()}


def _validate(path: Path, text: str, data: Any) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors:
            where = list(err.absolute_path)
            dotted = ".".join(str(p) for p in where) or "(top level)"
            lines.append(f"{path}:{yamlutil.line_of(text, where)}: {dotted}: {err.message}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
