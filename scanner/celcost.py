"""A CEL cost budget that cannot hang the scan: estimated before each evaluation, and a
time budget per rule.

``cel-expr-python`` evaluates in C++ and cannot be interrupted once started. Its runtime
stops a single evaluation after :data:`RUNTIME_ITERATIONS` comprehension iterations
(measured; reported here as a cost-limit error), but not what each iteration costs: a
``split``, ``replace``, ``lowerAscii`` or ``+`` inside a comprehension allocates the size
of its input on every iteration (5,000 iterations splitting a 1 MB annotation were killed
by the kernel for memory). So, as Kubernetes estimates a ValidatingAdmissionPolicy's
cost from the expression and the sizes of its inputs, each evaluation is estimated
before it runs: iterations ``min(L ** D, RUNTIME_ITERATIONS)`` (``D`` the deepest
nesting of comprehension macros, from a tokenizer that skips string literals; ``L`` the
largest collection in the activation), times ``max(L, longest string)`` when a
comprehension body allocates. An evaluation over :data:`MAX_COST` is refused unrun and
the finding is ``error``.

Each rule expression also has a wall-clock budget for the whole scan
(:data:`RULE_BUDGET_S`): every evaluation is timed, and once the budget is spent the
remaining evaluations are ``error`` without running.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

#: Comprehension iterations after which the CEL runtime stops one evaluation (measured).
RUNTIME_ITERATIONS = 10_000
#: Largest estimated cost (iterations times elements allocated per iteration).
MAX_COST = 1_000_000_000
#: Seconds of evaluation one rule may spend over a whole scan (``LEDGERGATE_CEL_RULE_BUDGET_S``).
RULE_BUDGET_S = float(os.environ.get("LEDGERGATE_CEL_RULE_BUDGET_S", "20"))
MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})
#: Calls that allocate the size of their input (``ext_strings`` and conversions).
ALLOCATING = frozenset(
    {"split", "replace", "lowerAscii", "upperAscii", "join", "substring", "trim", "format"}
    | {"quote", "reverse", "string", "bytes"}
)
_TOKEN = re.compile(
    r"""(?P<str>[rRbB]*(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))"""
    r"|(?P<macro>\.\s*(?P<name>[A-Za-z_]\w*)\s*\()"
    r"|(?P<call>\b(?P<fn>[A-Za-z_]\w*)\s*\()"
    r"|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<plus>\+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Shape:
    """What bounds an expression's cost: comprehension nesting, and whether a
    comprehension body allocates (``split``, ``replace``, ``+`` ...)."""

    depth: int
    allocates: bool

    @classmethod
    def of(cls, source: str) -> Shape:
        """The deepest nesting of comprehension macros in a CEL source text.

        A macro over a list literal (``[x].all(a, ...)``, the let-binding idiom) iterates a
        fixed number of elements, so it does not multiply the cost.
        """
        stack: list[tuple[bool, bool]] = []  # (counts as a level, is a list literal)
        depth = deepest = 0
        allocates = False
        literal_end = -1  # where the last list literal closed
        for match in _TOKEN.finditer(source):
            if match.group("str"):
                continue
            if match.group("plus"):
                allocates = allocates or depth > 0
            elif match.group("macro") or match.group("call"):
                name = match.group("name") or match.group("fn")
                over_literal = literal_end >= 0 and not source[literal_end : match.start()].strip()
                level = bool(match.group("macro")) and name in MACROS and not over_literal
                allocates = allocates or (depth > 0 and name in ALLOCATING)
                stack.append((level, False))
                depth += level
                deepest = max(deepest, depth)
            elif match.group("open"):
                text = match.group("open")
                before = source[: match.start()].rstrip()
                indexing = (
                    text == "[" and bool(before) and (before[-1].isalnum() or before[-1] in "_)]")
                )
                stack.append((False, text == "[" and not indexing))
            elif stack:
                level, literal = stack.pop()
                depth -= level
                literal_end = match.end() if literal else -1
        return cls(deepest, allocates)


def _extent_of(value: Any, items: int, chars: int) -> tuple[int, int]:
    """The largest collection length and longest string in ``value`` (and ``items``,
    ``chars``), iteratively (inputs are deep).

    Runs once per judged object over every variable, so the plain JSON types are told
    apart by ``type`` first: ``isinstance`` against the ABCs cost more than the walk.
    """
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is str:
            if len(node) > chars:
                chars = len(node)
        elif kind is dict:
            if len(node) > items:
                items = len(node)
            push(node)
            push(node.values())
        elif kind is list or kind is tuple:
            if len(node) > items:
                items = len(node)
            push(node)
        elif kind is int or kind is float or kind is bool or node is None:
            continue
        elif isinstance(node, Mapping):
            items = max(items, len(node))
            push(node.keys())
            push(node.values())
        elif isinstance(node, list | tuple):
            items = max(items, len(node))
            push(node)
        elif isinstance(node, str | bytes):
            chars = max(chars, len(node))
    return items, chars


@dataclass(frozen=True)
class Extent:
    """The largest collection and the longest string an activation holds."""

    items: int
    chars: int

    @classmethod
    def of(cls, variables: Mapping[str, Any], *, skip: Collection[str] = ()) -> Extent:
        """Measured once per resource, shared by every rule that judges it; ``skip`` names
        variables measured elsewhere (the parameters, the same for every resource) or that
        are parts of another (the pod spec is inside the object)."""
        items, chars = len(variables), 0
        for name, value in variables.items():
            if name not in skip:
                items, chars = _extent_of(value, items, chars)
        return cls(items, chars)

    def join(self, other: Extent) -> Extent:
        """The extent of two inputs together."""
        return Extent(max(self.items, other.items), max(self.chars, other.chars))


def estimate(shape: Shape, extent: Extent) -> int:
    """Upper bound on the work of one evaluation: iterations times allocation per iteration."""
    if shape.depth == 0:
        return 0
    width = max(extent.items, 1)
    iterations = min(width**shape.depth, RUNTIME_ITERATIONS)
    per_iteration = max(width, extent.chars) if shape.allocates else 1
    return int(iterations * per_iteration)


class Budget:
    """One rule's spent evaluation time (per process: forked workers each hold their own)."""

    def __init__(self, limit_s: float | None = None) -> None:
        self.limit_s = RULE_BUDGET_S if limit_s is None else limit_s
        self.spent_s = 0.0

    def refusal(self, shape: Shape, extent: Extent | None) -> str | None:
        """Why the next evaluation must not run, if it must not."""
        if self.spent_s > self.limit_s:
            return (
                f"rule exceeded its CEL evaluation budget ({self.spent_s:.1f} s of "
                f"{self.limit_s:g} s); not evaluated further"
            )
        if extent is not None:
            cost = estimate(shape, extent)
            if cost > MAX_COST:
                return (
                    f"expression exceeds the CEL cost limit: estimated cost {cost:.2g} "
                    f"(comprehensions over {max(extent.items, 1):,} items allocating up to "
                    f"{max(extent.items, extent.chars):,} each), at most {MAX_COST:.0g}"
                )
        return None

    def timed(self) -> _Timer:
        """Context manager that adds the evaluation's wall time to the budget."""
        return _Timer(self)


class _Timer:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.start = 0.0

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.budget.spent_s += time.perf_counter() - self.start
