"""Precision and recall per rule family on real public manifests (``tests/realworld/``).

Each case is an excerpt of a public manifest, labelled by hand with the rule ids a finance
auditor expects when it is deployed to a production namespace (``labels.yaml``). A case is
one file, or a folder holding a kustomization and its excerpts. Every case is scanned
alone with the shipped rules, every namespace counting as production; a
``fail`` or ``error`` of a rule whose family the case is labelled for is a prediction.

Not scored, because an excerpt cannot answer them: rules about the whole estate
(``LG-BAK-002`` namespace coverage, ``LG-WKL-012`` default-deny policies, ``LG-RBAC-100``
separation of duties), the organisation's registry list (``LG-IMG-003``) and the rules that
read registries (``LG-IMG-05x``). A case labelled ``estate: true`` holds everything its
namespace runs (its Namespace and every backup object of it), so the estate rules are
scored on it too.

    python -m bench.accuracy [--cases tests/realworld]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scanner.analyzers import default_analyzers
from scanner.config import default_params
from scanner.engine import Engine
from scanner.inventory import Inventory
from scanner.model import Status
from scanner.rules import RuleSet, load_rules
from scanner.sources.repo import RepoSource

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = ROOT / "tests" / "realworld"
ESTATE_RULES = ("LG-BAK-002", "LG-WKL-012", "LG-RBAC-100")
NOT_SCORED = (*ESTATE_RULES, "LG-IMG-003", "LG-IMG-05*")


@dataclass
class Score:
    """True positives, false positives and false negatives of one family."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 when nothing was expected."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _predicted(rules: RuleSet, params: Mapping[str, Any], case: Path) -> set[str]:
    # A folder case is a Kustomize build (its kustomization sets what the excerpt omits,
    # such as the namespace it lands in); a file case is scanned alone.
    source = RepoSource(case) if case.is_dir() else RepoSource(case.parent, only=[case.name])
    inventory = Inventory.from_items(source.collect())
    findings, _ = Engine(rules, params, default_analyzers()).run(inventory)
    return {f.rule_id for f in findings if f.status in (Status.FAIL, Status.ERROR)}


def evaluate(cases_dir: Path = DEFAULT_CASES) -> dict[str, Score]:
    """Score every labelled case; returns one Score per family."""
    labels = yaml.safe_load((cases_dir / "labels.yaml").read_text())["cases"]
    rules = load_rules(exclude=NOT_SCORED)
    estate_rules = load_rules(exclude=[r for r in NOT_SCORED if r not in ESTATE_RULES])
    family_of = {r.id: r.family for r in estate_rules}
    params = {**default_params(), "productionNamespaces": ["*"]}
    scores: dict[str, Score] = {}
    for case in labels:
        families = set(case["families"])
        expected = set() if case["expect"] == "clean" else set(case["expect"])
        unknown = sorted(r for r in expected if r not in family_of)
        if unknown:  # a label naming no shipped rule would silently drop out of the score
            raise ValueError(f"{case['case']}: labelled with unknown rule(s) {unknown}")
        if case.get("estate") is not True and expected & set(ESTATE_RULES):
            raise ValueError(f"{case['case']}: estate rules are scored on estate cases only")
        mine_rules = estate_rules if case.get("estate") is True else rules
        got = _predicted(mine_rules, params, cases_dir / "cases" / case["case"])
        got = {r for r in got if family_of.get(r) in families}
        for family in families:
            score = scores.setdefault(family, Score())
            mine = {r for r in expected if family_of.get(r) == family}
            found = {r for r in got if family_of.get(r) == family}
            score.tp += len(mine & found)
            score.fp += len(found - mine)
            score.fn += len(mine - found)
            score.misses += [f"FP {case['case']} {r}" for r in sorted(found - mine)]
            score.misses += [f"FN {case['case']} {r}" for r in sorted(mine - found)]
    return dict(sorted(scores.items()))


def table(scores: Mapping[str, Score]) -> str:
    """A Markdown table of the scores."""
    lines = ["| family | TP | FP | FN | precision | recall |", "|---|---|---|---|---|---|"]
    for family, s in scores.items():
        lines.append(
            f"| {family} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Print the table (and, with --misses, every false positive and negative)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--misses", action="store_true", help="list each FP and FN")
    args = parser.parse_args()
    scores = evaluate(args.cases)
    cases = len(yaml.safe_load((args.cases / "labels.yaml").read_text())["cases"])
    print(f"{cases} cases")
    print(table(scores))
    if args.misses:
        for s in scores.values():
            print("\n".join(s.misses))


if __name__ == "__main__":
    main()
