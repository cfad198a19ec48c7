"""Load rule YAML, validate it against the rule schema, compile its CEL once.

A pack with one bad rule is rejected whole, with every error named by file, line
and field, so a typo never silently drops a control.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache as cache_once
from pathlib import Path
from typing import Any

from scanner import cache, celrt, shipped, yamlutil
from scanner.errors import RuleError, RulePackError
from scanner.kinds import WORKLOAD_KINDS, group_of
from scanner.model import Control, Severity

NON_RULE_FILES = {"params.yaml", "controls.yaml"}


@dataclass(frozen=True)
class LabelRequirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes label selector semantics."""
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        if self.operator == "In":
            return labels.get(self.key) in self.values
        return labels.get(self.key) not in self.values  # NotIn


@dataclass(frozen=True)
class Match:
    """Which resources a rule judges."""

    kinds: tuple[tuple[str, str], ...]
    namespaces: tuple[str, ...] = ()
    exclude_namespaces: tuple[str, ...] = ()
    production_only: bool = False
    #: Judges observed state (status, run history) that only a live cluster has.
    observed_state: bool = False
    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[LabelRequirement, ...] = ()
    condition: celrt.Program | None = None
    #: Selected through ``match.workloads`` (every kind with a pod template).
    workloads: bool = False

    def selects(self, namespace: str, production: bool, labels: Mapping[str, str]) -> bool:
        """Namespace globs, production flag and labels (kind is matched by the index)."""
        if self.production_only and not production:
            return False
        if self.namespaces and not any(fnmatchcase(namespace, p) for p in self.namespaces):
            return False
        if any(fnmatchcase(namespace, p) for p in self.exclude_namespaces):
            return False
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        return all(req.matches(labels) for req in self.match_expressions)


@dataclass(frozen=True)
class Rule:
    """A validated, compiled rule. Holds no run state."""

    id: str
    title: str
    severity: Severity
    family: str
    controls: tuple[Control, ...]
    match: Match
    assertion: celrt.Program
    message: str
    remediation: str
    path: Path
    rationale: str = ""
    #: The test procedure in plain words (what is inspected, what passes), for auditors.
    procedure: str = ""
    help_url: str = ""
    message_expression: celrt.Program | None = None
    evidence: celrt.Program | None = None
    sensitive: bool = False
    requires: tuple[str, ...] = ()
    #: Evidence is recorded on ``pass`` too (provenance: which revision is running).
    evidence_on_pass: bool = False
    source: Mapping[str, Any] = field(default_factory=dict)


@cache_once
def _rule_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(shipped.schema_path("rule.schema.json").read_text())
    return loaded


def _is_rule_file(path: Path) -> bool:
    """Rule files are ``<ID>.yaml``; fixtures sit in a folder named after their rule."""
    if path.name in NON_RULE_FILES or path.parent.name == "schema":
        return False
    if path.name.startswith(("pass.", "fail.")):
        return False
    return not path.parent.with_suffix(".yaml").is_file()


def rule_files(folders: Iterable[Path]) -> list[Path]:
    """Every rule file below the given folders (a packs root, one pack, or a file), sorted."""
    found: set[Path] = set()
    for folder in folders:
        if folder.is_file():
            found.add(folder)
            continue
        candidates = [*folder.glob("*.yaml"), *folder.glob("*/*.yaml")]
        found.update(p for p in candidates if _is_rule_file(p))
    return sorted(found)


def _compile(
    path: Path,
    text: str,
    rule_id: str,
    key: Sequence[str | int],
    src: str,
    variables: Sequence[tuple[str, str]] = (),
    deferred: bool = False,
) -> Any:
    """Compile one expression with the rule's variables bound around it; the program keeps
    the text as written (``explain`` shows it). ``deferred``: it compiled before, so the
    compile waits for the first evaluation."""
    try:
        expanded = celrt.expand_variables(src, variables)
        program = celrt.compile_expression(expanded, deferred=deferred)
        return dataclasses.replace(program, source=src, expanded=expanded)
    except celrt.UnknownVariableError as exc:
        line = yamlutil.line_of(text, list(key))
        where = ".".join(str(k) for k in key)
        raise RuleError(str(path), f"{where}: {exc}", rule_id=rule_id, line=line) from exc
    except celrt.CelCompileError as exc:
        line = yamlutil.line_of(text, list(key))
        where = ".".join(str(k) for k in key)
        raise RuleError(
            str(path), f"{where}: CEL does not compile: {exc}", rule_id=rule_id, line=line
        ) from exc


def _kinds(resources: list[dict[str, Any]], workloads: bool) -> tuple[tuple[str, str], ...]:
    """(group, kind) pairs a rule matches; ``workloads`` adds every kind with a pod template."""
    pairs: list[tuple[str, str]] = list(WORKLOAD_KINDS) if workloads else []
    for entry in resources:
        groups = entry.get("apiGroups") or ["*"]
        pairs.extend((g, k) for g in groups for k in entry["kinds"])
    return tuple(pairs)


def _variables(
    path: Path,
    text: str,
    rule_id: str,
    declared: Sequence[Mapping[str, Any]],
    checked: bool = False,
) -> tuple[tuple[str, str], ...]:
    """The rule's ``variables`` as (name, expression), each checked to compile on its own
    (with the variables before it) so an error names the variable, not its readers;
    ``checked``: the text compiled before, the check is skipped."""
    found: list[tuple[str, str]] = []
    for i, entry in enumerate(declared):
        name, expression = str(entry["name"]), str(entry["expression"])
        if name in dict(found):
            raise RuleError(
                str(path),
                f"variables.{i}.name: {name} is declared twice",
                rule_id=rule_id,
                line=yamlutil.line_of(text, ["variables", i, "name"]),
            )
        if not checked:
            _compile(path, text, rule_id, ["variables", i, "expression"], expression, found)
        found.append((name, expression))
    return tuple(found)


def _schema_checked(path: Path) -> tuple[dict[str, Any], str]:
    """The rule file's data and text once it parses and fits the rule schema; raises
    :class:`RuleError` naming file, line and field otherwise.

    With the content cache on, a file that passed before is answered from an entry keyed
    by its text, the schema's bytes, this tool's code and the validator's version (YAML
    parsing and schema validation were a fifth of a warm hook run's rule loading); a
    failure is never kept, so its message and line always come from a fresh check.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(str(path), f"cannot read: {exc}") from exc
    store = cache.active()
    key = _checked_key(text) if store is not None else None
    if store is not None and key is not None:
        hit = store.get(key)
        if isinstance(hit, dict):
            return hit, text
    try:
        data = yamlutil.load(text, unique_keys=True)
    except yamlutil.YamlLoadError as exc:
        raise RuleError(str(path), f"YAML does not parse: {exc}", line=exc.line) from exc
    import jsonschema

    errors = sorted(
        jsonschema.Draft202012Validator(_rule_schema()).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        rule_id = data.get("id", "") if isinstance(data, dict) else ""
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise RuleError(
            str(path),
            f"{where}: {err.message}",
            rule_id=str(rule_id),
            line=yamlutil.line_of(text, list(err.absolute_path)),
        )
    assert isinstance(data, dict)  # the schema's top level is an object
    if store is not None and key is not None and cache.canonical(data) is not None:
        store.put(key, data)  # only plain JSON values: the entry reads back equal
    return data, text


def _checked_key(text: str) -> bytes:
    """The cache key of a rule text's schema check: the text and :func:`_check_context`."""
    return cache.digest("rule-checked", [text, *_check_context()])


@cache_once
def _check_context() -> tuple[bytes, str, str]:
    """What a schema check rests on besides the text: the schema, the code, the validator."""
    schema = shipped.schema_path("rule.schema.json").read_bytes()
    return schema, cache.code_digest(), _package_version("jsonschema")


def _compiled_key(text: str) -> bytes:
    """The cache key of "every expression of this rule text compiled": the text, what
    the schema check rests on, and the CEL compiler's version."""
    return cache.digest("rule-compiled", [text, *_check_context(), _compiler_version()])


def _compiler_version() -> str:
    return _package_version("cel-expr-python")


@cache_once
def _package_version(name: str) -> str:
    """An installed distribution's version ("unknown" when it has no metadata)."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def load_rule(path: Path) -> Rule:
    """Load one rule file; raises :class:`RuleError` naming file, line and field.

    With the content cache on, a text whose expressions all compiled before (same code,
    same compiler) has them compiled at their first evaluation instead (compiling every
    rule was 0.24 s of a warm 3.4 s hook run, most of whose rules then judge nothing);
    only a fully loaded rule is recorded, so an error always comes from a fresh compile.
    """
    data, text = _schema_checked(path)
    rule_id = data.get("id", "")
    if path.stem != rule_id:
        raise RuleError(str(path), f"file name must be {rule_id}.yaml", rule_id=rule_id, line=1)
    store = cache.active()
    compiled_key = _compiled_key(text) if store is not None else None
    deferred = store is not None and compiled_key is not None and store.get(compiled_key) is True
    rule = _built_rule(path, text, rule_id, data, deferred)
    if store is not None and compiled_key is not None and not deferred:
        store.put(compiled_key, True)
    return rule


def _built_rule(path: Path, text: str, rule_id: str, data: dict[str, Any], deferred: bool) -> Rule:
    variables = _variables(path, text, rule_id, data.get("variables") or [], deferred)
    m = data["match"]
    condition = m.get("condition")
    match = Match(
        kinds=_kinds(m.get("resources", []), bool(m.get("workloads", False))),
        namespaces=tuple(m.get("namespaces", ())),
        exclude_namespaces=tuple(m.get("excludeNamespaces", ())),
        production_only=bool(m.get("production", False)),
        observed_state=bool(m.get("observedState", False)),
        match_labels=dict(m.get("labelSelector", {}).get("matchLabels", {})),
        match_expressions=tuple(
            LabelRequirement(e["key"], e["operator"], tuple(e.get("values", ())))
            for e in m.get("labelSelector", {}).get("matchExpressions", ())
        ),
        condition=_compile(
            path, text, rule_id, ["match", "condition"], condition, variables, deferred
        )
        if condition
        else None,
        workloads=bool(m.get("workloads", False)),
    )
    optional = {
        key: _compile(path, text, rule_id, [key], data[key], variables, deferred)
        if data.get(key)
        else None
        for key in ("messageExpression", "evidence")
    }
    return Rule(
        id=rule_id,
        title=data["title"],
        severity=Severity(data["severity"]),
        family=data["family"],
        controls=tuple(Control(c["framework"], str(c["id"])) for c in data["controls"]),
        match=match,
        assertion=_compile(path, text, rule_id, ["assert"], data["assert"], variables, deferred),
        message=data["message"].strip(),
        remediation=data["remediation"].strip(),
        path=path,
        rationale=data.get("rationale", "").strip(),
        procedure=" ".join(str(data.get("procedure", "")).split()),
        help_url=data.get("helpUrl", ""),
        message_expression=optional["messageExpression"],
        evidence=optional["evidence"],
        sensitive=bool(data.get("sensitive", False)),
        requires=tuple(data.get("requires", ())),
        evidence_on_pass=bool(data.get("evidenceOnPass", False)),
        source=data,
    )


#: ``facts.<name>`` in a rule's expressions.
_FACT_NAME = re.compile(r"\bfacts\.([A-Za-z_][A-Za-z0-9_]*)")


class RuleSet:
    """The rules of one scan, indexed by (API group, kind) so each object meets only its rules."""

    def __init__(self, rules: Iterable[Rule], excluded: Iterable[Rule] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: r.id))
        #: Rules loaded but left out by the selection (recorded in the scan's scope).
        self.excluded: tuple[Rule, ...] = tuple(sorted(excluded, key=lambda r: r.id))
        self._exact: dict[tuple[str, str], list[Rule]] = {}
        self._by_kind_any_group: dict[str, list[Rule]] = {}
        self._any: list[Rule] = []
        for rule in self.rules:
            for group, kind in rule.match.kinds:
                if kind == "*":
                    self._any.append(rule)
                elif group == "*":
                    self._by_kind_any_group.setdefault(kind, []).append(rule)
                else:
                    self._exact.setdefault((group, kind), []).append(rule)
        self._cache: dict[tuple[str, str], tuple[Rule, ...]] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def facts_read(self) -> frozenset[str]:
        """Top-level fact names the rules require or mention (``facts.<name>`` in any
        expression); ``*`` when a rule's text is unknown, so every analyzer runs."""
        names: set[str] = set()
        for rule in self.rules:
            names.update(name.split(".", 1)[0] for name in rule.requires)
            if not rule.source:
                names.add("*")
                continue
            names.update(_FACT_NAME.findall(json.dumps(rule.source, default=str)))
        return frozenset(names)

    def get(self, rule_id: str) -> Rule | None:
        """The rule with this id, if loaded."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def for_kind(self, api_version: str, kind: str) -> tuple[Rule, ...]:
        """Rules that can apply to a kind, in id order (memoised per kind)."""
        key = (group_of(api_version), kind)
        cached = self._cache.get(key)
        if cached is None:
            found = {
                r.id: r
                for r in (
                    *self._exact.get(key, ()),
                    *self._by_kind_any_group.get(kind, ()),
                    *self._any,
                )
            }
            cached = tuple(found[i] for i in sorted(found))
            self._cache[key] = cached
        return cached


def load_rules(
    folders: Iterable[Path] | None = None,
    *,
    include: Sequence[str] = ("*",),
    exclude: Sequence[str] = (),
    severity_overrides: Mapping[str, Severity] | None = None,
    control_map: Mapping[str, Sequence[str]] | None = None,
) -> RuleSet:
    """Load, validate and compile every rule; reject the pack if any rule is bad.

    ``control_map`` (rule id or glob -> RCM ids) adds the organisation's own control
    ids to the rules it names, as controls of the ``rcm`` framework.
    """
    paths = rule_files(folders if folders is not None else [shipped.rules_dir()])
    loaded: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            rule = load_rule(path)
        except RuleError as exc:
            errors.append(exc)
            continue
        if rule.id in seen:
            errors.append(
                RuleError(
                    str(path), f"duplicate id, also in {seen[rule.id]}", rule_id=rule.id, line=1
                )
            )
            continue
        seen[rule.id] = path
        loaded.append(rule)
    if errors:
        raise RulePackError(errors)
    overrides = severity_overrides or {}
    selected = []
    left_out = []
    for rule in loaded:
        if not any(fnmatchcase(rule.id, p) for p in include) or any(
            fnmatchcase(rule.id, p) for p in exclude
        ):
            left_out.append(rule)
            continue
        if rule.id in overrides:
            from dataclasses import replace

            rule = replace(rule, severity=overrides[rule.id])
        rule = _with_rcm(rule, control_map or {})
        selected.append(rule)
    return RuleSet(selected, left_out)


def _with_rcm(rule: Rule, control_map: Mapping[str, Sequence[str]]) -> Rule:
    """The rule with the RCM ids that ``controls.map`` assigns to it appended."""
    ids = sorted(
        {i for p, mapped in control_map.items() if fnmatchcase(rule.id, p) for i in mapped}
    )
    if not ids:
        return rule
    from dataclasses import replace

    return replace(rule, controls=(*rule.controls, *(Control("rcm", i) for i in ids)))
