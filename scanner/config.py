"""``ledgergate.yaml``: parameters, rule selection, severity overrides, exclusions."""

from __future__ import annotations

import json
import os
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
DEFAULT_WAIVER_MAX_DAYS = 90
#: Parameters that name a program to run: never from a configuration inside the scanned tree.
EXECUTABLE_PARAMS: tuple[tuple[str, ...], ...] = (("imageScan", "trivy"),)
#: Parameters that name files or folders: a repo-local configuration keeps them inside the repo.
FILE_PARAMS: tuple[tuple[str, ...], ...] = (
    ("imageScan", "trivyCacheDir"),
    ("imageScan", "evidenceDir"),
    ("imageTrust", "keys"),
    ("imageTrust", "trustedRoot"),
    ("imageTrust", "registries", "ca"),
    ("imageTrust", "registries", "dockerConfig"),
)


@dataclass(frozen=True)
class HelmChartConfig:
    """Extra values for one chart folder: value files relative to the chart."""

    values: tuple[str, ...] = ()
    release_name: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class RenderOptions:
    """How the repo source renders Kustomize roots and Helm charts (``render:``, ``helm:``)."""

    enabled: bool = True
    timeout_s: float = 60.0
    max_output_bytes: int = 64 * 1024 * 1024
    allow_remote: bool = False
    charts: Mapping[str, HelmChartConfig] = field(default_factory=dict)


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
    #: Waiver limits: wildcards in rule ids and selectors, and the longest waiver in days.
    waiver_wildcards: bool = False
    waiver_max_days: int = DEFAULT_WAIVER_MAX_DAYS
    #: The document as written (before defaults), for comparing two configurations.
    raw: Mapping[str, Any] = field(default_factory=dict)
    render: RenderOptions = field(default_factory=RenderOptions)
    #: ``controls.map``: rule id or glob -> the organisation's RCM control ids.
    control_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    control_map_name: str = ""
    #: ``evidence``: TSA and retention settings for evidence bundles (as written).
    evidence: Mapping[str, Any] = field(default_factory=dict)
    #: ``requireInputs``: optional inputs (``images``) whose absence makes the scan
    #: incomplete (exit 4) instead of leaving their rules ``not-evaluated``.
    require_inputs: tuple[str, ...] = ()


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
        if candidate.is_file() or candidate.is_symlink():
            return candidate
    return None


def inside(root: Path, candidate: Path) -> bool:
    """``candidate`` lies under ``root`` and no part of it below ``root`` is a symlink."""
    root = root.resolve()
    full = Path(os.path.abspath(candidate))
    return full.is_relative_to(root) and full.resolve() == full


def confined_file(root: Path, path: Path, what: str) -> Path:
    """A file the scanned tree provides: refused when it is a symlink or leads outside."""
    if not inside(root, path):
        raise ConfigError(
            f"{what} {path}: a symlink or outside the scanned repository; a repository's "
            "own files may not lead elsewhere (give the file on the command line instead)"
        )
    return path


def load_config(path: Path | None, confine: Path | None = None) -> Config:
    """Read, validate and resolve a config file; None gives the defaults.

    ``confine`` is the scanned root when the file comes from the scanned tree: then the
    file, its rule folders and any file it names must stay inside that root (symlinks
    refused), and it may not name a program to run.
    """
    if path is None:
        return Config(params=default_params())
    if confine is not None:
        confined_file(confine, path, "configuration")
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
    if confine is not None:
        _check_confined(path, text, data, confine)
    waivers = data.get("waivers", {})
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
        waiver_wildcards=bool(waivers.get("allowWildcards", False)),
        waiver_max_days=int(waivers.get("maxDays", DEFAULT_WAIVER_MAX_DAYS)),
        raw=data,
        render=_render_options(data.get("render", {}), data.get("helm", {})),
        control_map=_control_map(data.get("controls", {}).get("map", {})),
        control_map_name=str(data.get("controls", {}).get("name", "")),
        evidence=dict(data.get("evidence", {})),
        require_inputs=tuple(data.get("requireInputs", [])),
    )


def _render_options(render: Mapping[str, Any], helm: Mapping[str, Any]) -> RenderOptions:
    charts = {
        str(path).strip("/") or ".": HelmChartConfig(
            values=tuple(spec.get("values", [])),
            release_name=str(spec.get("releaseName", "")),
            namespace=str(spec.get("namespace", "")),
        )
        for path, spec in helm.get("charts", {}).items()
    }
    defaults = RenderOptions()
    return RenderOptions(
        enabled=bool(render.get("enabled", True)),
        timeout_s=float(render.get("timeoutSeconds", defaults.timeout_s)),
        max_output_bytes=int(render.get("maxOutputBytes", defaults.max_output_bytes)),
        allow_remote=bool(render.get("allowRemote", False)),
        charts=charts,
    )


def _check_confined(path: Path, text: str, data: Mapping[str, Any], root: Path) -> None:
    """Repo-local configuration is data about the scan, never a way to run or read elsewhere."""
    problems: list[str] = []

    def at(where: list[str | int], message: str) -> None:
        dotted = ".".join(str(p) for p in where)
        problems.append(f"{path}:{yamlutil.line_of(text, where)}: {dotted}: {message}")

    params = data.get("params") or {}
    for keys in EXECUTABLE_PARAMS:
        if _dig(params, keys) is not None:
            at(
                ["params", *keys],
                "a repository's own configuration may not name a program to run; give it "
                "with --trivy or LEDGERGATE_TRIVY in the CI job",
            )
    for keys in FILE_PARAMS:
        value = _dig(params, keys)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, str) and not inside(root, Path(item)):
                where: list[str | int] = ["params", *keys]
                at(
                    [*where, index] if isinstance(value, list) else where,
                    "leads outside the repository",
                )
    for index, folder in enumerate((data.get("rules") or {}).get("paths", [])):
        if not inside(root, path.parent / folder):
            at(["rules", "paths", index], "rule folder is a symlink or outside the repository")
    if problems:
        raise ConfigError("configuration refused:\n  " + "\n  ".join(problems))


def _dig(node: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


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
