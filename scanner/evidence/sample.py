"""Reproducible audit samples from a bundle's tested population.

Selection needs no particular random-number generator, so an auditor can redo it with
any sha256 tool: rank the control's population rows by
``sha256("<seed>:<evidence pointer>")`` and take the first N.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.errors import ReportError
from scanner.evidence.population import FINDINGS, read_population

METHOD = "rank rows by sha256('<seed>:<evidence>') ascending (hex), take the first N"


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
    return hashlib.sha256(f"{seed}:{row['evidence']}".encode()).hexdigest()


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


def _finding(findings: Sequence[Any], pointer: str) -> Mapping[str, Any]:
    prefix = f"{FINDINGS}#/findings/"
    if pointer.startswith(prefix) and pointer[len(prefix) :].isdigit():
        index = int(pointer[len(prefix) :])
        found = findings[index] if index < len(findings) else None
        if isinstance(found, Mapping):
            return found
    raise ReportError(f"population row points at missing evidence {pointer}")


def draw(
    files: Mapping[str, bytes], control: str, size: int, seed: str, framework: str | None = None
) -> Sample:
    """Draw ``size`` rows (all when fewer) of one control's population, with their findings."""
    rows = read_population(files)
    framework = _resolve(rows, control, framework)
    control = control.split(":", 1)[1] if control.startswith(f"{framework}:") else control
    population = [r for r in rows if r["framework"] == framework and r["control"] == control]
    try:
        findings = json.loads(files[FINDINGS]).get("findings", [])
    except (KeyError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise ReportError(f"{FINDINGS}: missing or unreadable: {exc}") from exc
    chosen = sorted(population, key=lambda r: _rank(seed, r))[:size]
    items = tuple(
        {**row, "rank": _rank(seed, row), "finding": _finding(findings, row["evidence"])}
        for row in chosen
    )
    return Sample(framework, control, seed, len(population), items)
