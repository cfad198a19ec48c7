"""Reproducible audit samples from a bundle's tested population.

Selection needs no particular random-number generator, so an auditor can redo it with
any sha256 tool: rank the control's population rows by
``sha256("<seed>:<evidence pointer>")`` and take the first N. A pass that
``findings.json`` only counts points at the object it judged, which every rule on that
object shares, so its row is ranked by ``sha256("<seed>:<evidence>:<fingerprint>")``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.errors import ReportError
from scanner.evidence.population import FINDINGS, Resolver, iter_population

METHOD = (
    "rank rows by sha256('<seed>:<evidence>') ascending (hex), "
    "sha256('<seed>:<evidence>:<fingerprint>') for rows whose evidence is not in "
    f"{FINDINGS}, take the first N"
)
_LISTED = f"{FINDINGS}#/findings/"


@dataclass(frozen=True)
class Sample:
    """A drawn sample and everything needed to redraw it."""

    framework: str
    control: str
    seed: str
    population_size: int
    items: tuple[Mapping[str, Any], ...]

    def record(self, manifest_sha256: str) -> dict[str, Any]:
        """The sample as a working-paper record (written with ``--output``)."""
        return {
            "kind": "ledgergate-audit-sample",
            "schemaVersion": "1.0",
            "manifestSha256": manifest_sha256,
            "framework": self.framework,
            "control": self.control,
            "seed": self.seed,
            "size": len(self.items),
            "populationSize": self.population_size,
            "method": METHOD,
            "selection": list(self.items),
        }


def _rank(seed: str, row: Mapping[str, str]) -> str:
    key = f"{seed}:{row['evidence']}"
    if not row["evidence"].startswith(_LISTED):
        key += f":{row['fingerprint']}"
    return hashlib.sha256(key.encode()).hexdigest()


def _resolve(rows: Sequence[Mapping[str, str]], control: str, framework: str | None) -> str:
    if ":" in control and framework is None and not control.startswith("Art"):
        framework, control = control.split(":", 1)
    found = sorted({r["framework"] for r in rows if r["control"] == control})
    if framework is not None:
        if framework not in found:
            raise ReportError(f"no tested population for {framework} {control}")
        return framework
    if not found:
        raise ReportError(f"no tested population for control {control!r}")
    if len(found) > 1:
        raise ReportError(f"control {control!r} exists in {', '.join(found)}: add --framework")
    return found[0]


def _finding(resolve: Resolver, row: Mapping[str, str]) -> dict[str, Any]:
    """The sampled item's evidence: its finding, or for a counted pass the pass as the
    row records it plus the object (or rule) it points at."""
    pointer = row["evidence"]
    found = resolve(pointer)
    if pointer.startswith(_LISTED) and pointer[len(_LISTED) :].isdigit():
        if isinstance(found, Mapping):
            return {"finding": found}
        raise ReportError(f"population row points at missing evidence {pointer}")
    judged = {
        "ruleId": row["rule"],
        "status": row["result"],
        "resource": {"kind": row["kind"], "namespace": row["namespace"], "name": row["name"]},
        "location": row["location"],
        "fingerprint": row["fingerprint"],
    }
    return {"finding": judged, "judged": found}


def draw(
    files: Mapping[str, bytes], control: str, size: int, seed: str, framework: str | None = None
) -> Sample:
    """Draw ``size`` rows (all when fewer) of one control's population, with their findings.

    Only the rows of that control id are kept while the population is read."""
    ids = {control, control.split(":", 1)[-1]}  # ``framework:control`` names it too
    rows = [r for r in iter_population(files) if r["control"] in ids]
    framework = _resolve(rows, control, framework)
    control = control.split(":", 1)[1] if control.startswith(f"{framework}:") else control
    population = [r for r in rows if r["framework"] == framework and r["control"] == control]
    resolve = Resolver(files)
    resolve(f"{FINDINGS}#")  # a bundle without its findings is refused, sampled or not
    chosen = sorted(population, key=lambda r: _rank(seed, r))[:size]
    items = tuple({**row, "rank": _rank(seed, row), **_finding(resolve, row)} for row in chosen)
    return Sample(framework, control, seed, len(population), items)
