"""The CEL runtime: one environment, compiled programs, errors as values.

Backed by ``cel-expr-python`` (the CEL-C++ runtime); it measured about six
times faster than ``common-expression-language`` on our rules (see bench/).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from scanner.celcost import RUNTIME_ITERATIONS, Budget, Extent, Shape
from scanner.errors import ExpressionError
from scanner.redaction import entropy

#: Variables every rule expression may read. ``namespace`` is a reserved word in CEL, so
#: the namespace is ``namespaceObject``, as in Kubernetes ValidatingAdmissionPolicy.
VARIABLES = (
    "object",
    "params",
    "namespaceObject",
    "facts",
    "podSpec",
    "containers",
    "resource",
)


class CelCompileError(ExpressionError, ValueError):
    """An expression that does not compile; the message carries CEL's column marker."""


class CelEvalError(ExpressionError, RuntimeError):
    """An expression that failed while evaluating (missing field, wrong type, ...)."""


def _glob_match(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(value, str(p)) for p in patterns)


def _raise(message: str) -> Any:
    """``error('why')``: a rule states that it cannot judge, so the result is ``error``."""
    raise ValueError(message)


@cache
def _env() -> Any:
    from cel_expr_python import cel
    from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

    dyn = cel.Type.DYN
    functions = [
        cel.FunctionDecl(
            "globMatch",
            [
                cel.Overload(
                    "globMatch_string_list",
                    cel.Type.BOOL,
                    [cel.Type.STRING, cel.Type.List(cel.Type.STRING)],
                    impl=_glob_match,
                )
            ],
        ),
        cel.FunctionDecl(
            "error", [cel.Overload("error_string", dyn, [cel.Type.STRING], impl=_raise)]
        ),
        cel.FunctionDecl(
            "entropy",
            [cel.Overload("entropy_string", cel.Type.DOUBLE, [cel.Type.STRING], impl=entropy)],
        ),
    ]
    return cel.NewEnv(
        variables=dict.fromkeys(VARIABLES, dyn),
        # optional syntax (``object.?spec.?x.orValue(1)``) and ``cel.bind``, which carries
        # rule-level ``variables:`` (see :func:`expand_variables`)
        extensions=[
            ext_strings.ExtStrings(),
            ext_optional.ExtOptional(),
            ext_bindings.ExtBindings(),
        ],
        functions=functions,
    )


#: The CEL runtime has no cost limit of its own (cel-expr-python 0.1 exposes none), so
#: the budget is enforced here: string-growing calls per expression (a ``replace`` chain
#: grows a string geometrically: 27 s and 1.1 GB per object was measured), and the size
#: of any string result.
MAX_GROWING_CALLS = 2
MAX_RESULT_CHARS = 1_000_000
_GROWING_CALL = re.compile(r"\.\s*(?:replace|repeat)\s*\(")


def cost_problem(source: str) -> str | None:
    """Why an expression exceeds the static CEL cost limit, if it does."""
    calls = len(_GROWING_CALL.findall(source))
    if calls > MAX_GROWING_CALLS:
        return (
            f"expression exceeds the CEL cost limit: {calls} string-growing calls "
            f"(replace), at most {MAX_GROWING_CALLS}"
        )
    return None


class Bound:
    """An activation and the variables behind it; their extent (for the cost estimate) is
    measured once, and only when an expression could cost more than its input's size."""

    def __init__(
        self, native: Any, variables: Mapping[str, Any], shared: SharedExtent | None = None
    ) -> None:
        self.native, self.variables = native, variables
        self.shared = shared
        self._extent: Extent | None = None

    def extent(self) -> Extent:
        """The largest collection and longest string in the variables."""
        if self._extent is None:
            if self.shared is None:
                self._extent = Extent.of(self.variables)
            else:
                own = Extent.of(self.variables, skip=self.shared.skip)
                self._extent = own.join(self.shared.extent)
        return self._extent


@dataclass(frozen=True)
class SharedExtent:
    """The part of every resource's extent measured once per scan: ``extent`` covers the
    variables in ``skip`` that are the same for every resource (the parameters) or lie
    inside another variable (the pod spec inside the object)."""

    extent: Extent
    skip: frozenset[str]


@dataclass(frozen=True)
class Program:
    """A compiled CEL expression."""

    source: str
    #: The compiled program; None until the first evaluation when compiling was deferred.
    compiled: Any = field(compare=False)
    #: Set when the expression is over the static cost limit: every evaluation is an error.
    over_budget: str | None = None
    shape: Shape = field(default_factory=lambda: Shape(0, False), compare=False)
    budget: Budget = field(default_factory=Budget, compare=False, repr=False)
    #: The text the compiler sees (variables expanded) when it differs from ``source``.
    expanded: str | None = field(default=None, compare=False, repr=False)

    def _program(self) -> Any:
        """The compiled program, compiling a deferred one now (a rule file whose every
        expression compiled before: most of a warm scan's rules judge nothing new)."""
        if self.compiled is None:
            try:
                compiled = _env().compile(self.expanded or self.source)
            except RuntimeError as exc:  # compiled before; fail closed if it no longer does
                raise CelEvalError(f"expression does not compile: {_compile_text(exc)}") from exc
            object.__setattr__(self, "compiled", compiled)
        return self.compiled

    def evaluate(self, activation: Any) -> Any:
        """Run against an activation; raises :class:`CelEvalError` for CEL error values,
        an expression over the cost limit (static, or estimated for this input), a rule
        past its time budget, or a string result over the size budget."""
        if self.over_budget:
            raise CelEvalError(self.over_budget)
        native = activation
        extent = None
        if isinstance(activation, Bound):
            native = activation.native
            if self.shape.depth > 1 or self.shape.allocates:
                extent = activation.extent()  # one plain loop costs its input's size
        refusal = self.budget.refusal(self.shape, extent)
        if refusal:
            raise CelEvalError(refusal)
        try:
            with self.budget.timed():
                value = self._program().eval(native)
        except RuntimeError as exc:
            if "Iteration budget exceeded" not in str(exc):
                raise
            raise CelEvalError(
                "expression exceeds the CEL cost limit: more than "
                f"{RUNTIME_ITERATIONS:,} comprehension iterations"
            ) from exc
        if value.type().name() == "ERROR":
            raise CelEvalError(str(value.value()).removeprefix("OUT_OF_RANGE: "))
        plain = value.plain_value()
        if isinstance(plain, str) and len(plain) > MAX_RESULT_CHARS:
            raise CelEvalError(
                f"expression result exceeds the evaluation budget ({len(plain):,} characters, "
                f"at most {MAX_RESULT_CHARS:,})"
            )
        return plain


def compile_expression(source: str, *, deferred: bool = False) -> Program:
    """Parse and type-check once; reuse the program for every resource.

    ``deferred``: the caller knows ``source`` compiled before (same text, same code and
    compiler); the compile waits for the first evaluation.
    """
    if deferred:
        return Program(source, None, cost_problem(source), Shape.of(source))
    try:
        compiled = _env().compile(source)
        return Program(source, compiled, cost_problem(source), Shape.of(source))
    except RuntimeError as exc:
        raise CelCompileError(_compile_text(exc)) from exc


def _compile_text(exc: RuntimeError) -> str:
    return str(exc).replace("INVALID_ARGUMENT: ", "").replace(" [INVALID_ARGUMENT]", "").strip()


#: A string literal of CEL (raw or not, single or triple quoted): never rewritten.
_STRING = re.compile(
    r"[rR]?(?:'{3}.*?'{3}|\"{3}.*?\"{3}|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\")",
    re.DOTALL,
)
_VARIABLE_REF = re.compile(r"(?<![\w.])variables\.([A-Za-z_][A-Za-z0-9_]*)\b")
_BOUND_PREFIX = "lgvar_"


class UnknownVariableError(ExpressionError, ValueError):
    """An expression reads ``variables.x`` that the rule does not declare (before it)."""


def _rewrite(source: str, known: Sequence[str]) -> tuple[str, list[str]]:
    """``variables.x`` -> the bound identifier, outside string literals; and the names read."""
    used: list[str] = []

    def code(segment: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in known:
                raise UnknownVariableError(f"variables.{name} is not declared before it is read")
            if name not in used:
                used.append(name)
            return _BOUND_PREFIX + name

        return _VARIABLE_REF.sub(one, segment)

    out, last = [], 0
    for literal in _STRING.finditer(source):
        out += [code(source[last : literal.start()]), literal.group(0)]
        last = literal.end()
    out.append(code(source[last:]))
    return "".join(out), used


def expand_variables(source: str, variables: Sequence[tuple[str, str]]) -> str:
    """An expression with the rule's ``variables`` it reads bound around it (``cel.bind``).

    Like ValidatingAdmissionPolicy's ``variables``: each is written once, read as
    ``variables.name``, may read the variables declared before it, and is evaluated lazily
    (only when read, at most once per expression): a variable that cannot be evaluated
    makes only the expressions that read it ``error``.
    """
    names = [name for name, _ in variables]
    body, used = _rewrite(source, names)
    rewritten: dict[str, str] = {}
    needed: set[str] = set()
    pending = list(used)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        position = names.index(name)
        text, reads = _rewrite(dict(variables)[name], names[:position])
        rewritten[name] = text
        pending += reads
    for name in reversed(names):
        if name in needed:
            body = f"cel.bind({_BOUND_PREFIX}{name}, {rewritten[name]}, {body})"
    return body


def activation(variables: Mapping[str, Any], shared: SharedExtent | None = None) -> Bound:
    """Bind the variables for one resource; shared by every rule that judges it."""
    data = dict.fromkeys(VARIABLES)
    data.update(variables)
    return Bound(_env().Activation(data=data), data, shared)
