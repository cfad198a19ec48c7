"""Verify a series of bundles: each one alone, then the chain their manifests form.

Every bundle must verify (hashes, signature, timestamp). Per target, the manifests
must form one unbroken chain: each names the digest of the one before. A bundle
whose predecessor is missing, a second start, a long pause between two scans (a
missing night), two bundles claiming the same predecessor (a fork, or a re-run when
they scanned the same input) are each reported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from scanner.evidence import signing
from scanner.evidence.manifest import MANIFEST, sha256
from scanner.evidence.verify import SignerIdentity, verify_files


@dataclass(frozen=True)
class Link:
    """One bundle of a series, as its manifest describes it."""

    name: str
    digest: str
    key: str
    target: str
    previous: str | None
    finished: str
    content: str
    signature: str
    timestamp: str


@dataclass
class SeriesReport:
    """Bundles in chain order per series, and every problem found."""

    chains: dict[str, list[Link]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every bundle verified and every chain is whole."""
        return not self.problems


def _when(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _link(name: str, files: Mapping[str, bytes], signature: str, timestamp: str) -> Link | None:
    try:
        manifest: dict[str, Any] = json.loads(files[MANIFEST])
    except (KeyError, UnicodeDecodeError, ValueError):
        return None
    series = manifest.get("series") or {}
    previous = series.get("previous") if isinstance(series, Mapping) else None
    target = manifest.get("target") or {}
    # What was scanned, beyond the target's name: a re-run scans the same input again.
    content = sha256(
        json.dumps([target, manifest.get("ruleSet", {}).get("sha256")], sort_keys=True).encode()
    )
    return Link(
        name=name,
        digest=sha256(files[MANIFEST]),
        key=str(series.get("key", "")) if isinstance(series, Mapping) else "",
        target=str(series.get("target", "")) if isinstance(series, Mapping) else "",
        previous=str(previous["manifestSha256"]) if isinstance(previous, Mapping) else None,
        finished=str((manifest.get("scan") or {}).get("finished", "")),
        content=content,
        signature=signature,
        timestamp=timestamp,
    )


def verify_series(
    bundles: Mapping[str, Mapping[str, bytes]],
    key: signing.PublicKey | None = None,
    signer: SignerIdentity | None = None,
    tsa_roots: list[Any] | None = None,
    max_interval: timedelta = timedelta(hours=26),
) -> SeriesReport:
    """Check every bundle (name -> files) and the chains they form."""
    report = SeriesReport()
    links: list[Link] = []
    for name in sorted(bundles):
        outcome = verify_files(bundles[name], key, signer, tsa_roots)
        report.problems.extend(f"{name}: {p}" for p in outcome.problems)
        link = _link(name, bundles[name], outcome.signature, outcome.timestamp)
        if link is None:
            report.problems.append(f"{name}: no readable manifest; left out of the chain")
            continue
        if not link.key:
            report.problems.append(f"{name}: manifest names no series (written before 0.2?)")
        links.append(link)
    by_key: dict[str, list[Link]] = {}
    for link in links:
        by_key.setdefault(link.key, []).append(link)
    for series_key in sorted(by_key):
        chain, problems = _chain(by_key[series_key], max_interval)
        report.chains[series_key] = chain
        report.problems.extend(problems)
    return report


def _chain(links: list[Link], max_interval: timedelta) -> tuple[list[Link], list[str]]:
    """Order one series' links along the chain; name every gap, fork and re-run."""
    problems: list[str] = []
    by_digest = {link.digest: link for link in links}
    children: dict[str | None, list[Link]] = {}
    for link in links:
        parent = link.previous if link.previous in by_digest else None
        children.setdefault(parent, []).append(link)
        if link.previous is not None and link.previous not in by_digest:
            problems.append(
                f"gap: {link.name} follows manifest {link.previous[:16]}…, which is not in the "
                "series (deleted, or never kept)"
            )
    starts = sorted(children.get(None, []), key=lambda x: (x.finished, x.name))
    for extra in starts[1:]:
        if extra.previous is None:
            problems.append(f"gap: {extra.name} starts the chain again after {starts[0].name}")
    for parent, kids in sorted(children.items(), key=lambda kv: kv[0] or ""):
        if parent is None or len(kids) < 2:
            continue
        names = ", ".join(k.name for k in sorted(kids, key=lambda k: k.name))
        same = len({k.content for k in kids}) == 1
        kind = "re-run" if same else "fork"
        problems.append(f"{kind}: {names} all follow {by_digest[parent].name}")
    ordered: list[Link] = []
    pending = list(starts)
    while pending:
        link = pending.pop(0)
        ordered.append(link)
        pending[:0] = sorted(children.get(link.digest, []), key=lambda x: (x.finished, x.name))
    for before, after in pairwise(ordered):
        t0, t1 = _when(before.finished), _when(after.finished)
        if after.previous == before.digest and t0 and t1:
            if t1 - t0 > max_interval:
                problems.append(
                    f"gap: {t1 - t0} between {before.name} ({before.finished}) and "
                    f"{after.name} ({after.finished}), more than {max_interval}"
                )
            elif t1 < t0:
                problems.append(f"order: {after.name} finished before {before.name}, its parent")
    return ordered, problems
