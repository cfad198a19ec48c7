"""Per-object analyzer results kept between runs (the secret detector's, above all).

Some analyzers derive each resource's facts and secret values from that resource alone;
on a warm scan most resources are the ones the last run saw, so their results come from
the content cache (``scanner.cache``: encrypted under a key derived from the resource's
own content, outside the scanned tree) and only the rest are analyzed. The key is a
digest of the resource (identity, body, origin, the facts earlier analyzers gave it), the
parameters, the analyzer's name, the tool's code and the organisation's fingerprint key:
anything else makes it a miss. A damaged entry is a miss too; a failure of the analyzer
propagates exactly as without the cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from scanner import cache
from scanner.analyzers.base import Analyzer, AnalyzerResult
from scanner.inventory import Inventory
from scanner.model import Resource
from scanner.redaction import SecretHit

#: Bump when a stored record's shape changes.
FORMAT = 1


def _resource_key(run: bytes, resource: Resource) -> bytes | None:
    ref, o = resource.ref, resource.origin
    described = cache.canonical(
        [
            [ref.api_version, ref.group, ref.kind, ref.namespace, ref.name],
            [o.path, o.start_line, o.end_line, o.cluster, o.context, o.uid],
            [o.resource_version, o.image_digest, o.git_source, o.rendered_from],
        ]
    )
    body = cache.canonical(dict(resource.body))
    facts = cache.canonical(dict(resource.facts))
    if described is None or body is None or facts is None:
        return None
    return cache.digest(f"analysis/{FORMAT}", [run, described, body, facts])


def _decode(stored: Any) -> tuple[dict[str, Any] | None, list[SecretHit] | None]:
    """(facts, secret hits) from an entry, each None when the analyzer gave none; raises
    on a foreign shape."""
    facts, hits = stored["facts"], stored["secrets"]
    if facts is not None and not isinstance(facts, dict):
        raise ValueError("facts")
    if hits is None:
        return facts, None
    found = [SecretHit(str(p), str(k), str(v), tuple(map(str, forms))) for p, k, v, forms in hits]
    return facts, found


def _encode(facts: dict[str, Any] | None, hits: list[SecretHit] | None) -> dict[str, Any]:
    record = None if hits is None else [[h.path, h.kind, h.value, list(h.forms)] for h in hits]
    return {"facts": facts, "secrets": record}


class PerObjectCached(Analyzer):
    """``inner``, whose results for a resource depend on that resource alone, run only on
    the resources the content cache has no result for."""

    def __init__(self, inner: Analyzer) -> None:
        self.inner = inner
        self.name = inner.name
        self.provides = inner.provides
        self.reads = inner.reads
        self.synthesises = inner.synthesises
        self.always_runs = inner.always_runs
        self.per_object = inner.per_object
        #: Resources answered from the cache / analyzed in the last run.
        self.hits = 0
        self.misses = 0

    def reads_for(self, fact: str) -> tuple[tuple[str, str], ...]:
        return self.inner.reads_for(fact)

    def for_fixture(self, facts: Mapping[str, Any]) -> Analyzer:
        return PerObjectCached(self.inner.for_fixture(facts))

    def _run_digest(self, params: Mapping[str, Any]) -> bytes | None:
        from scanner.redaction import fingerprint_key

        settings = cache.canonical(dict(params))
        if settings is None:
            return None
        key = fingerprint_key()
        org = hashlib.sha256(b"fingerprint-key\0" + key).hexdigest() if key else "no key"
        inner = f"{type(self.inner).__module__}.{type(self.inner).__qualname__}"
        return cache.digest("analysis-run", [cache.code_digest(), inner, self.name, settings, org])

    def analyze(self, inventory: Inventory, params: Mapping[str, Any]) -> AnalyzerResult:
        """Cached results where the cache has them; the inner analyzer on the rest."""
        store = cache.active()
        run = self._run_digest(params) if store is not None else None
        if store is None or run is None:
            return self.inner.analyze(inventory, params)
        result = AnalyzerResult()
        missed: list[tuple[int, bytes | None]] = []
        for index, resource in enumerate(inventory.resources):
            key = _resource_key(run, resource)
            stored = store.get(key) if key is not None else None
            try:
                facts, hits = _decode(stored)
            except (KeyError, TypeError, ValueError):
                missed.append((index, key))
                continue
            if facts is not None:
                result.facts[index] = facts
            if hits is not None:
                result.secrets[index] = hits
        self.hits, self.misses = len(inventory.resources) - len(missed), len(missed)
        if not missed:
            return result
        part = Inventory()
        for index, _ in missed:
            part.add(inventory.resources[index])
        fresh = self.inner.analyze(part, params)
        if fresh.resources:  # not per object after all: its objects need the whole inventory
            return self.inner.analyze(inventory, params)
        for position, (index, key) in enumerate(missed):
            facts = fresh.facts.get(position)
            hits = fresh.secrets.get(position)
            if facts is not None:
                result.facts[index] = facts
            if hits is not None:
                result.secrets[index] = hits
            if key is not None:
                store.put(key, _encode(facts, hits))
        return result
