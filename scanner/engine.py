"""The engine: (rule, resource) -> Finding. Anything that goes wrong becomes ``error``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner import celrt, kinds, parallel
from scanner.analyzers.base import Analyzer
from scanner.inventory import Inventory, containers_of_resource, is_production, pod_spec_of
from scanner.model import (
    SYNTHETIC_GROUP,
    Evidence,
    Finding,
    Origin,
    Resource,
    Severity,
    Status,
)
from scanner.redaction import redact_value, scrub
from scanner.rules import Rule, RuleSet
from scanner.sources.base import InputProblem, Skipped

INPUT_SEVERITY = Severity.HIGH


def fingerprint(
    rule_id: str, resource: Resource | None, origin: Origin, paths: Sequence[str]
) -> str:
    """Stable across unrelated edits: no line numbers, only identity and field paths."""
    ref = resource.ref if resource else None
    parts = [
        rule_id,
        ref.group if ref else "",
        ref.kind if ref else "",
        ref.namespace if ref else "",
        ref.name if ref else "",
        origin.path or origin.cluster or origin.image_digest,
        *sorted(paths),
    ]
    if origin.rendered_from:  # the same base rendered by two overlays is two findings
        parts.append(f"rendered:{origin.rendered_from}")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def namespace_scope(resource: Resource) -> str:
    """The namespace a resource lives in; a Namespace object is judged as its own namespace."""
    ref = resource.ref
    return ref.name if ref.kind == "Namespace" and not ref.group else ref.namespace


def input_finding(problem: InputProblem) -> Finding:
    """An unreadable input is an error finding, never a silent pass."""
    return Finding(
        rule_id=problem.rule_id,
        status=Status.ERROR,
        severity=INPUT_SEVERITY,
        title="Input could not be evaluated",
        message=problem.message,
        resource=None,
        origin=problem.origin,
        fingerprint=fingerprint(problem.rule_id, None, problem.origin, [problem.code]),
    )


def fact_at(facts: Mapping[str, Any], name: str) -> tuple[bool, str]:
    """Whether a (dotted) fact exists; an ``_error`` on the way says why it could not be derived.

    Analyzers mark a fact they could not derive for one resource as ``{"_error": reason}``,
    so rules that require it report ``error`` with that reason instead of judging.
    """
    node: Any = facts
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, ""
        node = node[part]
        if isinstance(node, Mapping) and node.get("_error"):
            return False, str(node["_error"])
    return True, ""


@dataclass(frozen=True)
class _Unusable:
    """Stands in for an activation that could not be built from an object."""

    reason: str


@dataclass(frozen=True)
class AnalyzerFailure:
    """An analyzer that raised; rules that need its facts report ``error``."""

    analyzer: str
    provides: tuple[str, ...]
    message: str


class Engine:
    """Runs analyzers once, then judges every resource against the rules indexed for its kind."""

    def __init__(
        self, rules: RuleSet, params: Mapping[str, Any], analyzers: Sequence[Analyzer]
    ) -> None:
        self.rules = rules
        self.params = dict(params)
        self.analyzers = analyzers
        self.failures: list[AnalyzerFailure] = []

    def run(self, inventory: Inventory) -> tuple[list[Finding], list[Skipped]]:
        """Every finding for the inventory, plus resources no rule could judge."""
        self._apply_analyzers(inventory)
        findings = [input_finding(p) for p in inventory.problems]
        skipped: list[Skipped] = []
        ns_labels = inventory.namespace_labels()
        judged: list[int] = []
        for index, resource in enumerate(inventory.resources):
            if self.rules.for_kind(resource.ref.api_version, resource.ref.kind):
                judged.append(index)
            elif self._is_unknown(resource):
                skipped.append(
                    Skipped(
                        resource.origin,
                        f"unknown kind {resource.ref.kind} "
                        f"({resource.ref.api_version}): no rule applies",
                    )
                )
        findings.extend(parallel.judge_all(self, inventory, judged, ns_labels))
        return findings, skipped

    def judge_indexes(
        self,
        inventory: Inventory,
        indexes: Sequence[int],
        ns_labels: Mapping[str, Mapping[str, str]],
    ) -> list[Finding]:
        """Findings for the resources at ``indexes`` (one worker's share of the inventory)."""
        found: list[Finding] = []
        for index in indexes:
            resource = inventory.resources[index]
            rules = self.rules.for_kind(resource.ref.api_version, resource.ref.kind)
            secrets = [h.value for h in inventory.secrets.get(index, [])]
            found.extend(self._judge(resource, rules, ns_labels, secrets))
        return found

    def _is_unknown(self, resource: Resource) -> bool:
        ref = resource.ref
        return kinds.lookup(ref.api_version, ref.kind) is None and ref.group != SYNTHETIC_GROUP

    def _apply_analyzers(self, inventory: Inventory) -> None:
        for analyzer in self.analyzers:
            try:
                result = analyzer.analyze(inventory, self.params)
            except Exception as exc:  # noqa: BLE001 - fail closed: dependent rules become error
                self.failures.append(
                    AnalyzerFailure(
                        analyzer.name, analyzer.provides, f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            for index, facts in result.facts.items():
                inventory.resources[index] = inventory.resources[index].with_facts(facts)
            for extra in result.resources:
                inventory.add(extra)

    def _variables(
        self, resource: Resource, ns_labels: Mapping[str, Mapping[str, str]]
    ) -> dict[str, Any]:
        ref = resource.ref
        pod = pod_spec_of(resource)
        scope = namespace_scope(resource)
        return {
            "object": resource.body,
            "params": self.params,
            "namespaceObject": {
                "name": scope,
                "labels": dict(ns_labels.get(scope, {})),
                "production": is_production(scope, self.params),
            },
            "facts": dict(resource.facts),
            "podSpec": pod,
            "containers": containers_of_resource(resource),
            "resource": {
                "apiVersion": ref.api_version,
                "group": ref.group,
                "kind": ref.kind,
                "namespace": ref.namespace,
                "name": ref.name,
                "path": resource.origin.path,
            },
        }

    def _judge(
        self,
        resource: Resource,
        rules: Iterable[Rule],
        ns_labels: Mapping[str, Mapping[str, str]],
        secrets: list[str],
    ) -> Iterator[Finding]:
        meta = resource.body.get("metadata")
        labels = (meta.get("labels") if isinstance(meta, Mapping) else None) or {}
        scope = namespace_scope(resource)
        production = is_production(scope, self.params)
        activation: Any = None
        for rule in rules:
            if not rule.match.selects(scope, production, labels):
                continue
            if activation is None:
                try:
                    activation = celrt.activation(self._variables(resource, ns_labels))
                except Exception as exc:  # noqa: BLE001 - fail closed: the rules become error
                    activation = _Unusable(f"{type(exc).__name__}: {exc}")
            finding = self._evaluate(rule, resource, activation, secrets)
            if finding is not None:
                yield finding

    def _missing_facts(self, rule: Rule, resource: Resource) -> str | None:
        for name in rule.requires:
            found, reason = fact_at(resource.facts, name)
            if found:
                continue
            if reason:
                return f"fact {name!r} could not be derived: {reason}"
            head = name.split(".", 1)[0]
            why = next((f.message for f in self.failures if head in f.provides), "")
            return f"fact {name!r} is not available" + (f": {why}" if why else "")
        return None

    def _evaluate(
        self, rule: Rule, resource: Resource, activation: Any, secrets: list[str]
    ) -> Finding | None:
        def make(status: Status, message: str, evidence: tuple[Evidence, ...] = ()) -> Finding:
            return Finding(
                rule_id=rule.id,
                status=status,
                severity=rule.severity,
                title=rule.title,
                message=scrub(message, secrets) if secrets else message,
                resource=resource.ref,
                origin=resource.origin,
                evidence=evidence,
                controls=rule.controls,
                fingerprint=fingerprint(
                    rule.id, resource, resource.origin, [e.path for e in evidence]
                ),
            )

        if isinstance(activation, _Unusable):
            return make(Status.ERROR, f"object cannot be evaluated: {activation.reason}")
        try:
            if rule.match.condition is not None and not rule.match.condition.evaluate(activation):
                return None
            missing = self._missing_facts(rule, resource)
            if missing:
                return make(Status.ERROR, f"rule could not be evaluated: {missing}")
            verdict = rule.assertion.evaluate(activation)
            if not isinstance(verdict, bool):
                return make(Status.ERROR, f"assert returned {type(verdict).__name__}, not bool")
            if verdict:
                return make(Status.PASS, rule.title)
            message = rule.message
            if rule.message_expression is not None:
                message = str(rule.message_expression.evaluate(activation))
            evidence = self._evidence(rule, activation, secrets)
            return make(Status.FAIL, message, evidence)
        except celrt.CelEvalError as exc:
            return make(Status.ERROR, f"rule could not be evaluated: {exc}")
        except Exception as exc:  # noqa: BLE001 - fail closed: never lose the rest of the scan
            return make(Status.ERROR, f"rule crashed: {type(exc).__name__}: {exc}")

    @staticmethod
    def _evidence(rule: Rule, activation: Any, secrets: list[str]) -> tuple[Evidence, ...]:
        if rule.evidence is None:
            return ()
        raw = rule.evidence.evaluate(activation)
        items = raw if isinstance(raw, list) else [raw]
        found: list[Evidence] = []
        for item in items:
            if isinstance(item, Mapping):
                path = scrub(str(item.get("path", "")), secrets)
                value = item.get("value")
                shown = "" if value is None else redact_value(str(value), secrets, rule.sensitive)
                found.append(Evidence(path, shown))
            else:
                found.append(Evidence(scrub(str(item), secrets)))
        return tuple(found)
