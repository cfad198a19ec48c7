"""The engine: (rule, resource) -> Finding. Anything that goes wrong becomes ``error``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from scanner import celrt, kinds, parallel
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.celcost import Extent
from scanner.environment import Environment
from scanner.inventory import (
    Inventory,
    containers_memo,
    containers_of_resource,
    environment_of,
    namespace_scope,
    pod_spec_of,
    unreadable_containers,
)
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
from scanner.verdicts import Verdicts

INPUT_SEVERITY = Severity.HIGH
#: Start of the message of a workload rule on an object without a pod spec: about the input.
NO_POD_SPEC = "workload has no pod spec to judge"


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


def _with_environment_note(finding: Finding, rule: Rule, env: Environment) -> Finding:
    """A production-only rule that failed on an object judged production by default says so."""
    if not rule.match.production_only or not env.fail_closed or finding.status is Status.PASS:
        return finding
    return replace(finding, message=f"{finding.message} ({env.note()})")


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


def unread_context(inventory: Inventory, analyzers: Sequence[Analyzer]) -> dict[str, str]:
    """Facts of analyzers whose inputs (``Analyzer.reads``) hit a coverage gap, with why.

    A route's TLS options or a namespace's schedules that could not be listed would
    otherwise look absent, and the rule would judge a world that is not there.
    """
    gaps = {key: entry for entry in inventory.coverage if entry.is_gap for key in entry.kinds}
    found: dict[str, str] = {}
    for analyzer in analyzers:
        for fact in analyzer.provides:
            keys = [f"{g}/{k}" if g else k for g, k in analyzer.reads_for(fact)]
            unread = sorted(k for k in keys if k in gaps)
            if unread:
                why = gaps[unread[0]].reason
                found.setdefault(fact, f"context {', '.join(unread)} could not be read ({why})")
    return found


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


def _skip_reason(resource: Resource) -> str:
    """Why an unknown kind was not judged; one that carries containers is a warning."""
    ref = resource.ref
    if kinds.carries_containers(resource.body):
        return (
            f"warning: unknown kind {ref.kind} ({ref.api_version}) carries containers, "
            "but no workload rule judged it (add its pod template to the kinds table)"
        )
    return f"unknown kind {ref.kind} ({ref.api_version}): no rule applies"


@dataclass(frozen=True)
class _Context:
    """What one run's judging reads besides the resource: built once, never mutated."""

    ns_labels: Mapping[str, Mapping[str, str]]
    failures: tuple[AnalyzerFailure, ...] = ()
    #: Fact name -> why it rests on context the source could not read.
    unread: Mapping[str, str] = field(default_factory=dict)
    #: Findings stored by earlier runs with the same inputs (None: no content cache).
    verdicts: Verdicts | None = None


@dataclass(frozen=True)
class Judgement:
    """What one engine run produced: the findings (a stream, in inventory order), the
    resources no rule could judge and the analyzers that failed."""

    findings: Iterator[Finding]
    skipped: tuple[Skipped, ...]
    failures: tuple[AnalyzerFailure, ...]


class Engine:
    """Runs analyzers once, then judges every resource against the rules indexed for its kind."""

    def __init__(
        self,
        rules: RuleSet,
        params: Mapping[str, Any],
        analyzers: Sequence[Analyzer],
        *,
        observed: bool = False,
    ) -> None:
        """``observed``: the inventory is a live cluster's, so observed-state rules run."""
        self.rules = rules
        self.observed = observed
        self.params = dict(params)
        self.analyzers = analyzers
        #: The parameters are the same for every resource and the pod spec lies inside the
        #: object: their part of the CEL cost estimate is measured once, not per resource.
        self._shared_extent = celrt.SharedExtent(
            Extent.of({"params": self.params}), frozenset({"params", "podSpec"})
        )

    def run(self, inventory: Inventory) -> tuple[list[Finding], list[Skipped]]:
        """Every finding for the inventory as a list, plus resources no rule could judge
        (tests and ``ledgergate test``; a scan streams :meth:`judge`)."""
        judgement = self.judge(inventory)
        return list(judgement.findings), list(judgement.skipped)

    def judge(
        self, inventory: Inventory, shown: Callable[[Resource], bool] | None = None
    ) -> Judgement:
        """Run the analyzers, then judge: findings are yielded share by share, so a caller
        that keeps only what it needs (a scan keeps no passes) never holds them all.

        ``shown`` admits the resources whose findings the scan can report (a pre-commit
        hook's staged files): the analyzers still read every resource as context, but no
        other resource is judged, since its findings would be dropped unseen."""
        unread = unread_context(inventory, self.analyzers)
        failures = self._apply_analyzers(inventory, shown)
        verdicts = Verdicts.for_run(
            self.rules,
            self.params,
            observed=self.observed,
            unread=unread,
            failures=[(f.analyzer, f.provides, f.message) for f in failures],
        )
        context = _Context(inventory.namespace_labels(), failures, unread, verdicts)
        skipped: list[Skipped] = []
        judged: list[int] = []
        for index, resource in enumerate(inventory.resources):
            if self.rules.for_kind(resource.ref.api_version, resource.ref.kind):
                if shown is None or shown(resource):
                    judged.append(index)
            elif self._is_unknown(resource):
                skipped.append(Skipped(resource.origin, _skip_reason(resource)))
        shares = parallel.shares_of(judged, parallel.worker_count(len(judged)))
        return Judgement(self._findings(inventory, shares, context), tuple(skipped), failures)

    def _findings(
        self, inventory: Inventory, shares: Sequence[Sequence[int]], context: _Context
    ) -> Iterator[Finding]:
        yield from (input_finding(p) for p in inventory.problems)
        if len(shares) < 2:  # one process: a pure stream, nothing held
            yield from self._judge_indexes(inventory, shares[0] if shares else (), context)
            return
        # streamed back a batch at a time: no worker holds its whole share's findings
        yield from parallel.stream_shares(
            lambda share: self._judge_indexes(inventory, share, context), shares
        )

    def _judge_indexes(
        self, inventory: Inventory, indexes: Sequence[int], context: _Context
    ) -> Iterator[Finding]:
        """Findings for the resources at ``indexes`` (one worker's share of the inventory)."""
        verdicts = context.verdicts
        for index in indexes:
            resource = inventory.resources[index]
            rules = self.rules.for_kind(resource.ref.api_version, resource.ref.kind)
            secrets = [s for h in inventory.secrets.get(index, []) for s in h.spellings()]
            env = environment_of(resource, self.params, context.ns_labels)
            if verdicts is None:
                yield from self._judge(resource, rules, context, secrets, env)
                continue
            scope = namespace_scope(resource)
            key = verdicts.key(
                resource,
                rules,
                scope=scope,
                env=env,
                ns_labels=context.ns_labels.get(scope),
                secrets=secrets,
            )
            stored = verdicts.get(key, resource) if key is not None else None
            if stored is not None:
                yield from stored
                continue
            raised: list[str] = []
            judged = list(self._judge(resource, rules, context, secrets, env, raised))
            if key is not None and not raised:  # an exception may not recur: judge again
                verdicts.put(key, judged)
            yield from judged

    def _is_unknown(self, resource: Resource) -> bool:
        ref = resource.ref
        return kinds.lookup(ref.api_version, ref.kind) is None and ref.group != SYNTHETIC_GROUP

    def _apply_analyzers(
        self, inventory: Inventory, shown: Callable[[Resource], bool] | None = None
    ) -> tuple[AnalyzerFailure, ...]:
        """Attach every needed analyzer's facts; the analyzers that raised, in order."""
        from scanner.analyzers.secrets import secret_hits

        with containers_memo():
            failures = self._run_analyzers(inventory, shown)
        # Outputs are redacted per resource: objects synthesised after the secrets analyzer
        # ran (or when it failed) are searched too; with ``shown``, those that are judged
        # (a bundle searches the rest: analyzers.secrets.complete_secrets).
        unsearched = [
            i
            for i, resource in enumerate(inventory.resources)
            if i not in inventory.secrets and (shown is None or shown(resource))
        ]
        inventory.secrets.update(secret_hits(inventory, unsearched))
        return tuple(failures)

    def _run_analyzers(
        self, inventory: Inventory, shown: Callable[[Resource], bool] | None = None
    ) -> list[AnalyzerFailure]:
        failures: list[AnalyzerFailure] = []
        needed = self.rules.facts_read()
        for analyzer in self.analyzers:
            if not analyzer.needed_by(needed):
                continue  # no selected rule reads its facts: the work would be thrown away
            try:
                result = self._analyze(analyzer, inventory, shown)
            except Exception as exc:  # noqa: BLE001 - fail closed: dependent rules become error
                failures.append(
                    AnalyzerFailure(
                        analyzer.name, analyzer.provides, f"{type(exc).__name__}: {exc}"
                    )
                )
                continue
            inventory.secrets.update(result.secrets)
            for index, facts in result.facts.items():
                inventory.resources[index] = inventory.resources[index].with_facts(facts)
            for extra in result.resources:
                inventory.add(extra)
        return failures

    def _analyze(
        self, analyzer: Analyzer, inventory: Inventory, shown: Callable[[Resource], bool] | None
    ) -> AnalyzerResult:
        """The analyzer's result; a per-object one's only for the resources ``shown`` admits
        (no other is judged), unless it makes resources, which then need the whole."""
        if shown is None or not analyzer.per_object:
            return analyzer.analyze(inventory, self.params)
        indexes = [i for i, r in enumerate(inventory.resources) if shown(r)]
        part = Inventory()
        for index in indexes:
            part.add(inventory.resources[index])
        found = analyzer.analyze(part, self.params)
        if found.resources:
            return analyzer.analyze(inventory, self.params)
        return AnalyzerResult(
            facts={indexes[i]: facts for i, facts in found.facts.items()},
            secrets={indexes[i]: hits for i, hits in found.secrets.items()},
        )

    def _variables(
        self,
        resource: Resource,
        ns_labels: Mapping[str, Mapping[str, str]],
        env: Environment,
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
                "production": env.production,
                "environment": str(env.status),
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
        context: _Context,
        secrets: list[str],
        env: Environment,
        raised: list[str] | None = None,
    ) -> Iterator[Finding]:
        """Every finding of one object; ``env`` is its environment classification. Rules
        whose evaluation raised (a CEL error, a cost or time budget, a crash) are added to
        ``raised``: their ``error`` may not recur, so the verdicts are not stored."""
        raised = [] if raised is None else raised
        meta = resource.body.get("metadata")
        labels = (meta.get("labels") if isinstance(meta, Mapping) else None) or {}
        scope = namespace_scope(resource)
        ns_labels = context.ns_labels
        activation: Any = None
        no_pod = kinds.is_workload(resource.ref.api_version, resource.ref.kind) and (
            pod_spec_of(resource) is None
        )
        delegated = no_pod and kinds.delegates_pod_template(resource.body)
        unreadable = [] if no_pod else unreadable_containers(pod_spec_of(resource))
        for rule in rules:
            if rule.match.observed_state and not self.observed:
                continue
            if not rule.match.selects(scope, env.production, labels):
                continue
            if no_pod and rule.match.workloads:
                if not delegated:
                    yield self._no_pod_spec(rule, resource)
                continue
            if unreadable and rule.match.workloads:
                yield self._unreadable_items(rule, resource, unreadable)
                continue
            if activation is None:
                try:
                    activation = celrt.activation(
                        self._variables(resource, ns_labels, env), self._shared_extent
                    )
                except Exception as exc:  # noqa: BLE001 - fail closed: the rules become error
                    activation = _Unusable(f"{type(exc).__name__}: {exc}")
                    raised.append(rule.id)
            finding = self._evaluate(rule, resource, activation, secrets, context, raised)
            if finding is not None:
                yield _with_environment_note(finding, rule, env)

    @staticmethod
    def _pod_error(
        rule: Rule, resource: Resource, message: str, paths: list[str], shown: Sequence[str]
    ) -> Finding:
        """An ``error`` for a workload whose pod spec cannot be judged at ``paths``."""
        return Finding(
            rule_id=rule.id,
            status=Status.ERROR,
            severity=rule.severity,
            title=rule.title,
            message=message,
            resource=resource.ref,
            origin=resource.origin,
            evidence=tuple(Evidence(p) for p in shown),
            controls=rule.controls,
            fingerprint=fingerprint(rule.id, resource, resource.origin, paths),
        )

    @classmethod
    def _no_pod_spec(cls, rule: Rule, resource: Resource) -> Finding:
        """A workload without a pod spec (a patch, an unrendered fragment) cannot be judged."""
        info = kinds.lookup(resource.ref.api_version, resource.ref.kind)
        where = ".".join(info.pod_spec_path) if info else "the pod template"
        message = f"{NO_POD_SPEC}: {where} is missing (a patch or an incomplete object?)"
        return cls._pod_error(rule, resource, message, [where], shown=())

    @classmethod
    def _unreadable_items(cls, rule: Rule, resource: Resource, items: Sequence[str]) -> Finding:
        """A container list emptied of items that are no objects cannot pass a rule over it."""
        info = kinds.lookup(resource.ref.api_version, resource.ref.kind)
        lead = ".".join(info.pod_spec_path) + "." if info and info.pod_spec_path else ""
        paths = [f"{lead}{item}" for item in items]
        message = f"{', '.join(paths[:3])} is not an object: the containers cannot be judged"
        return cls._pod_error(rule, resource, message, paths, shown=paths[:3])

    @staticmethod
    def _missing_facts(rule: Rule, resource: Resource, context: _Context) -> str | None:
        for name in rule.requires:
            unread = context.unread.get(name.split(".", 1)[0])
            if unread:
                return f"fact {name!r} could not be derived: {unread}"
            found, reason = fact_at(resource.facts, name)
            if found:
                continue
            if reason:
                return f"fact {name!r} could not be derived: {reason}"
            head = name.split(".", 1)[0]
            why = next((f.message for f in context.failures if head in f.provides), "")
            return f"fact {name!r} is not available" + (f": {why}" if why else "")
        return None

    def _evaluate(
        self,
        rule: Rule,
        resource: Resource,
        activation: Any,
        secrets: list[str],
        context: _Context,
        raised: list[str],
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
            if rule.match.condition is not None:
                selected = rule.match.condition.evaluate(activation)
                if not isinstance(selected, bool):  # ``condition: object.spec.replicas``
                    return make(
                        Status.ERROR, f"condition returned {type(selected).__name__}, not bool"
                    )
                if not selected:
                    return None
            missing = self._missing_facts(rule, resource, context)
            if missing:
                return make(Status.ERROR, f"rule could not be evaluated: {missing}")
            verdict = rule.assertion.evaluate(activation)
            if not isinstance(verdict, bool):
                return make(Status.ERROR, f"assert returned {type(verdict).__name__}, not bool")
            if verdict:
                recorded = (
                    self._evidence(rule, activation, secrets) if rule.evidence_on_pass else ()
                )
                return make(Status.PASS, rule.title, recorded)
            message = rule.message
            if rule.message_expression is not None:
                message = str(rule.message_expression.evaluate(activation))
            evidence = self._evidence(rule, activation, secrets)
            return make(Status.FAIL, message, evidence)
        except celrt.CelEvalError as exc:
            raised.append(rule.id)
            return make(Status.ERROR, f"rule could not be evaluated: {exc}")
        except Exception as exc:  # noqa: BLE001 - fail closed: never lose the rest of the scan
            raised.append(rule.id)
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
