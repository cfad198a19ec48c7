"""CEL runtimes on our own rules: cel-expr-python (chosen) versus the alternatives.

Run: ``python bench/bench_cel.py``. For every shipped rule whose assertion compiles
in a runtime, evaluates it against the rule's own fixtures and reports the mean
microseconds per evaluation. Alternatives are optional imports:
``pip install common-expression-language cel-python``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = 2000


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    from scanner.analyzers import default_analyzers
    from scanner.config import default_params
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.rules import RuleSet, load_rules
    from scanner.ruletest import fixture_facts, fixtures_of
    from scanner.sources.repo import RepoSource

    cases = []
    for rule in load_rules():
        for fixture in fixtures_of(rule):
            inv = Inventory.from_items(RepoSource(fixture.parent, only=[fixture.name]).collect())
            facts = fixture_facts(fixture)
            analyzers = default_analyzers()
            if facts is not None:
                analyzers = [a.for_fixture(facts) for a in analyzers]
            engine = Engine(RuleSet([rule]), default_params(), analyzers)
            engine.run(inv)  # attaches the analyzers' facts, as in a scan
            for resource in inv.resources:
                if not rule.match.kinds or resource.ref.kind not in {
                    k for _, k in rule.match.kinds
                }:
                    continue
                variables = engine._variables(resource, {})
                cases.append((rule.id, rule.assertion.source, variables))
    return cases


def _cel_expr_python() -> Callable[[str], Callable[[dict[str, Any]], Any]]:
    from scanner import celrt

    def compile_(src: str) -> Callable[[dict[str, Any]], Any]:
        program = celrt.compile_expression(src)
        return lambda variables: program.evaluate(celrt.activation(variables))

    return compile_


def _common_expression_language() -> Callable[[str], Callable[[dict[str, Any]], Any]]:
    import cel  # type: ignore[import-not-found]

    def compile_(src: str) -> Callable[[dict[str, Any]], Any]:
        program = cel.compile(src)
        return lambda variables: program.execute(variables)

    return compile_


def _cel_python() -> Callable[[str], Callable[[dict[str, Any]], Any]]:
    import celpy  # type: ignore[import-not-found]

    env = celpy.Environment()

    def compile_(src: str) -> Callable[[dict[str, Any]], Any]:
        program = env.program(env.compile(src))
        return lambda variables: program.evaluate(
            {k: celpy.json_to_cel(v) for k, v in variables.items()}
        )

    return compile_


def main() -> None:
    """Mean time per evaluation, over the cases every installed runtime can run."""
    cases = _cases()
    factories = {
        "cel-expr-python": _cel_expr_python,
        "common-expression-language": _common_expression_language,
        "cel-python": _cel_python,
    }
    runnable: dict[str, dict[int, Callable[[], Any]]] = {}
    for name, factory in factories.items():
        try:
            compile_ = factory()
        except ImportError:
            print(f"{name:<28} not installed")
            continue
        runnable[name] = {}
        for i, (_rule_id, source, variables) in enumerate(cases):
            try:
                run = compile_(source)
                run(variables)
            except Exception:  # noqa: BLE001 - a case a runtime cannot run is left out
                continue
            runnable[name][i] = lambda run=run, variables=variables: run(variables)
    common = set.intersection(*(set(r) for r in runnable.values())) if runnable else set()
    print(f"{len(cases)} (rule, object) cases; timing the {len(common)} every runtime can run")
    for name, runs in runnable.items():
        rounds = 50 if name == "cel-python" else ROUNDS
        start = time.perf_counter()
        for i in sorted(common):
            for _ in range(rounds):
                runs[i]()
        mean = (time.perf_counter() - start) / max(1, len(common) * rounds) * 1e6
        print(f"{name:<28} {mean:8.1f} us/eval  (runs {len(runs)} of {len(cases)} cases)")


if __name__ == "__main__":
    main()
