"""Findings kept between runs, per object: a warm scan judges only what changed.

A pre-commit hook or a ``--base`` scan judges the same objects with the same rules run
after run. Each object's findings are stored in the content cache (``scanner.cache``:
encrypted, outside the scanned tree) under a digest of *everything* its verdicts are
derived from, so a hit can never be a stale verdict:

- per run: the tool's code (every module's bytes) and version, the CEL runtime's
  version, every rule as written (its source document, effective severity, title and
  controls), the parameters, the observed-state flag, the analyzers that failed and the
  facts resting on unread context, and the organisation's fingerprint key;
- per object: its identity, body, origin (all but its line numbers, which no rule
  reads and which are taken from this run), facts, the namespace it is judged in with
  that namespace's labels and environment classification, and the secret values its
  outputs must hide.

An object on which a rule's evaluation raised (a CEL error, a cost or time budget on a
loaded machine, a crash) is never stored: that ``error`` may not recur, so the object is
judged again next time. Errors the engine decides from the object alone (no pod spec, a
fact that could not be derived) are stored like any verdict. A value that
has no single JSON spelling (a date, an integer beyond 64 bits, a non-string key) makes
its object uncacheable rather than risk two inputs sharing a key. A damaged or foreign
entry fails to decrypt or to decode and counts as a miss: the object is judged again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner import cache as content_cache
from scanner.environment import Environment
from scanner.model import Control, Evidence, Finding, Origin, Resource, Severity, Status
from scanner.rules import Rule

#: Bump when a stored record's shape changes.
FORMAT = 1


def rules_digest(rules: Iterable[Rule]) -> str | None:
    """Every rule as written and as overridden; None when a rule has no source document
    (built in code, its expressions cannot be told apart by id)."""
    h = hashlib.sha256()
    for rule in rules:
        if not rule.source:
            return None
        controls = [[c.framework, c.id] for c in rule.controls]
        written = [rule.id, rule.severity.value, rule.title, controls, rule.source]
        h.update(json.dumps(written, sort_keys=True, default=repr).encode() + b"\0")
    return h.hexdigest()


def _encode(finding: Finding) -> list[Any]:
    evidence = [[e.path, e.value, e.line, e.column, e.end_column] for e in finding.evidence]
    controls = [[c.framework, c.id] for c in finding.controls]
    return [
        finding.rule_id,
        finding.status.value,
        finding.severity.value,
        finding.title,
        finding.message,
        evidence,
        controls,
        finding.fingerprint,
    ]


def _decode(record: Any, resource: Resource) -> Finding:
    """A stored finding on this run's ``resource`` (its origin carries this run's lines)."""
    rule_id, status, severity, title, message, evidence, controls, fingerprint = record
    return Finding(
        rule_id=str(rule_id),
        status=Status(status),
        severity=Severity(severity),
        title=str(title),
        message=str(message),
        resource=resource.ref,
        origin=resource.origin,
        evidence=tuple(
            Evidence(str(p), str(v), int(ln), int(c), int(e)) for p, v, ln, c, e in evidence
        ),
        controls=tuple(Control(str(f), str(i)) for f, i in controls),
        fingerprint=str(fingerprint),
    )


def _origin_without_lines(origin: Origin) -> list[str]:
    return [
        origin.path,
        origin.cluster,
        origin.context,
        origin.uid,
        origin.resource_version,
        origin.image_digest,
        origin.git_source,
        origin.rendered_from,
    ]


class Verdicts:
    """One run's view of the stored findings: the run's part of every key, and the store."""

    def __init__(self, store: content_cache.Cache, run: str) -> None:
        self.store = store
        self.run = run
        #: Objects answered from the store / judged afresh in this process.
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_run(
        cls,
        rules: Iterable[Rule],
        params: Mapping[str, Any],
        *,
        observed: bool,
        unread: Mapping[str, str],
        failures: Sequence[tuple[str, Sequence[str], str]],
    ) -> Verdicts | None:
        """The stored findings for a run with these inputs; None without a content cache or
        when an input has no single spelling (then every object is judged)."""
        from scanner.redaction import fingerprint_key

        store = content_cache.active()
        if store is None:
            return None
        key = fingerprint_key()
        parts = [
            content_cache.code_digest(),
            rules_digest(rules),
            content_cache.canonical(dict(params)),
            content_cache.canonical(dict(unread)),
            content_cache.canonical(
                [[name, list(provides), why] for name, provides, why in failures]
            ),
            "observed" if observed else "desired",
            hashlib.sha256(b"fingerprint-key\0" + key).hexdigest() if key else "no key",
        ]
        if any(p is None for p in parts):
            return None
        run = content_cache.digest(f"verdicts-run/{FORMAT}", [p for p in parts if p is not None])
        return cls(store, run.hex())

    def key(
        self,
        resource: Resource,
        rules: Sequence[Rule],
        *,
        scope: str,
        env: Environment,
        ns_labels: Mapping[str, str] | None,
        secrets: Sequence[str],
    ) -> bytes | None:
        """The digest of everything this object's findings rest on; None: uncacheable."""
        ref = resource.ref
        described = content_cache.canonical(
            [
                [ref.api_version, ref.group, ref.kind, ref.namespace, ref.name],
                _origin_without_lines(resource.origin),
                scope,
                [env.production, str(env.status), env.reason],
                dict(ns_labels or {}),
                [r.id for r in rules],
                list(secrets),
            ]
        )
        body = content_cache.canonical(dict(resource.body))
        facts = content_cache.canonical(dict(resource.facts))
        if described is None or body is None or facts is None:
            return None
        return content_cache.digest(f"verdicts/{FORMAT}", [self.run, described, body, facts])

    def get(self, key: bytes, resource: Resource) -> list[Finding] | None:
        """The stored findings for ``key``, on this run's resource; None when absent or
        undecodable (the object is then judged again)."""
        stored = self.store.get(key)
        if not isinstance(stored, list):
            self.misses += 1
            return None
        try:
            found = [_decode(record, resource) for record in stored]
        except (TypeError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put(self, key: bytes, findings: Sequence[Finding]) -> None:
        """Store an object's findings (the engine stores none whose judging raised)."""
        self.store.put(key, [_encode(f) for f in findings])
