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
    from scanner.config import default_params
    from scanner.engine import Engine
    from scanner.inventory import Inventory
    from scanner.rules import RuleSet, load_rules
    from scanner.ruletest import fixtures_of
    from scanner.sources.repo import RepoSource

    cases = []
    for rule in load_rules():
        for fixture in fixtures_of(rule):
            inv = Inventory.from_items(RepoSource(fixture.parent, only=[fixture.name]).collect())
            engine = Engine(RuleSet([rule]), default_params(), [])
            for resource in inv.resources:
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
    """Print per-runtime mean time per evaluation over the rules each can compile."""
    cases = _cases()
    runtimes = {
        "cel-expr-python": _cel_expr_python,
        "common-expression-language": _common_expression_language,
        "cel-python": _cel_python,
    }
    print(f"{len(cases)} (rule, fixture object) cases, {ROUNDS} rounds each where fast enough")
    for name, factory in runtimes.items():
        try:
            compile_ = factory()
        except ImportError:
            print(f"{name:<28} not installed")
            continue
        total, evaluations, skipped = 0.0, 0, 0
        for _rule_id, source, variables in cases:
            try:
                run = compile_(source)
                run(variables)
            except Exception:  # noqa: BLE001 - a runtime lacking a feature is counted as unsupported
                skipped += 1
                continue
            rounds = ROUNDS if name != "cel-python" else 50
            start = time.perf_counter()
            for _ in range(rounds):
                run(variables)
            total += time.perf_counter() - start
            evaluations += rounds
        mean = total / evaluations * 1e6 if evaluations else float("nan")
        print(f"{name:<28} {mean:8.1f} us/eval  ({skipped} rule cases not supported)")


if __name__ == "__main__":
    main()
