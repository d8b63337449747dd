"""Compile-time evaluation of `.snn` expressions, with bounds.

Arithmetic runs on Python ints and floats but never unboundedly: integers stay below
2**63 in magnitude, ``**`` checks the size of its result before computing it, and
floats must stay finite. Every failure is an :class:`SnnError` at the expression.
Nothing is ever passed to ``eval``: the evaluator is a small interpreter over the AST.

Conditions are compile-time wherever expressions are (layer arguments, ``let``s,
neuron bodies): ``a if cond else b`` evaluates only the branch ``cond`` picks;
comparisons give a bool (``==``/``!=`` compare any two values, a bool equal only to a
bool; ``< <= > >=`` compare numbers); ``and``/``or``/``not`` take bools and
short-circuit, as in Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, overload

from ..diagnostics import (
    SnnLimitError,
    SnnNameError,
    SnnTypeError,
    SourceSpan,
    did_you_mean,
    shown_items,
    shown_value,
)
from ..ir import ops, registry
from ..ir.ops import INFER, InferMarker
from . import ast

MAX_INT = 2**63 - 1




def bounded(value: ops.Value, node: ast.Expr) -> ops.Value:
    """``value``, checked to be a finite number within the language's bounds (an error at
    ``node`` otherwise); booleans and other values pass."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise SnnLimitError(
            "integer result is too large", node.span,
            f"compile-time integers must stay below 2**63 (about {MAX_INT:.2e})",
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise SnnLimitError("arithmetic overflowed to infinity or NaN", node.span,
                            "check the expression's operands")
    return value


def as_number(v: ops.Value, node: ast.Expr, op: str) -> int | float:
    """``v`` as an int or float operand of ``op`` (an error at ``node`` otherwise)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SnnTypeError(
            f"operator '{op}' needs numbers, got {shown(v) if not isinstance(v, InferMarker) else '_'}",
            node.span, "arithmetic works on integers and floats only",
        )
    return v


def _power(a: int | float, b: int | float, node: ast.BinOp) -> int | float:
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        # bits of the result, estimated before computing it
        if a not in (0, 1, -1) and b * math.log2(abs(a)) > 64:
            raise SnnLimitError(
                f"{a} ** {b} is too large to compute", node.span,
                "compile-time integers must stay below 2**63",
            )
        return a**b
    try:
        result = float(a) ** float(b)
    except (OverflowError, ZeroDivisionError) as e:
        raise SnnLimitError(f"cannot compute {a} ** {b}: {e}", node.span, "check the operands") from None
    if isinstance(result, complex):
        raise SnnTypeError(f"{a} ** {b} is not a real number", node.span, "use a non-negative base")
    return result


COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
BOOLEAN_OPS = ("and", "or")


def truth(v: ops.Value, node: ast.Expr, what: str) -> bool:
    """``v`` as the operand of ``and``/``or``/``not`` or an ``if`` condition: a bool."""
    if not isinstance(v, bool):
        raise SnnTypeError(f"{what} needs true or false, got {describe(v)}", node.span,
                           "write a comparison, e.g. `v_reset == none` or `tau > 1.0`")
    return v


def compare(op: str, a: ops.Value, b: ops.Value, node: ast.BinOp) -> bool:
    """``a op b`` for a comparison operator, on compile-time values."""
    if op in ("==", "!="):
        same = isinstance(a, bool) == isinstance(b, bool) and a == b
        return same if op == "==" else not same
    x, y = as_number(a, node, op), as_number(b, node, op)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def binop(op: str, a: int | float, b: int | float, node: ast.BinOp) -> ops.Value:
    """``a op b`` of two compile-time numbers, as the language defines the operator."""
    if op in ("/", "//", "%") and b == 0:
        raise SnnTypeError("division by zero", node.span, "the right operand evaluates to 0")
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "//":
            return a // b
        if op == "%":
            return a % b
        if op == "**":
            return _power(a, b, node)
    except OverflowError:
        raise SnnLimitError("arithmetic overflowed", node.span, "use smaller operands") from None
    raise SnnTypeError(f"unknown operator '{op}'", node.span)  # the grammar makes this unreachable


class Evaluator:
    """Evaluates expressions against a mapping of constants (parameters and ``let``s)."""

    def __init__(self, constants: Mapping[str, ops.Value], values: Mapping[str, object] = {}):
        self.constants = constants
        self.values = values  # names of values, for a better error when one is misused

    @overload
    def __call__(self, node: ast.Expr, allow_infer: Literal[False] = False) -> ops.Value: ...

    @overload
    def __call__(self, node: ast.Expr, allow_infer: bool) -> ops.ArgValue: ...

    def __call__(self, node: ast.Expr, allow_infer: bool = False) -> ops.ArgValue:
        if isinstance(node, ast.Infer):
            if not allow_infer:
                raise SnnTypeError(
                    "'_' is not allowed here", node.span,
                    "'_' stands only for an input size argument, e.g. Linear(_, 10) or Conv2d(_, 64, 3)",
                )
            return INFER
        return self._eval(node)

    def _eval(self, node: ast.Expr) -> ops.Value:
        # Expressions nest only as deep as the parser allows, so recursion is bounded.
        if isinstance(node, ast.Literal):
            return bounded(node.value, node)
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            if node.id in self.values:
                raise SnnTypeError(
                    f"'{node.id}' is a value (a tensor), not a compile-time constant", node.span,
                    "arguments must be numbers, strings or constants from `let` and parameters",
                )
            raise SnnNameError(
                f"undefined constant '{node.id}'" + did_you_mean(node.id, self.constants), node.span,
                _PYTHON_HABITS.get(node.id)
                or (f"a surrogate function is a call: write {node.id}()" if node.id in registry.SURROGATES
                    else "define it with `let` or as a parameter of the block or model"),
            )
        if isinstance(node, ast.Infer):
            raise SnnTypeError("'_' is not allowed inside an expression", node.span,
                               "write '_' alone as the argument, e.g. Linear(_, 10)")
        if isinstance(node, ast.UnaryOp):
            if node.op == "not":
                return not truth(self._eval(node.operand), node.operand, "`not`")
            v = as_number(self._eval(node.operand), node, node.op)
            return bounded(-v if node.op == "-" else v, node)
        if isinstance(node, ast.BinOp):
            return self._binops(node)
        if isinstance(node, ast.IfExpr):
            picked = truth(self._eval(node.cond), node.cond, "the condition of `if`")
            return self._eval(node.then if picked else node.orelse)
        if isinstance(node, ast.TupleExpr):
            return tuple(self._eval(item) for item in node.items)
        if isinstance(node, ast.CallExpr):
            return self.surrogate(node)
        raise SnnTypeError("this expression is not supported", node.span)  # pragma: no cover

    def _binops(self, node: ast.BinOp) -> ops.Value:
        """``a + b - c ...``: the left operands in a loop, so a long flat sum needs no deep recursion."""
        spine = [node]
        while isinstance(spine[-1].left, ast.BinOp):
            spine.append(spine[-1].left)
        value = self._eval(spine[-1].left)
        for n in reversed(spine):
            if n.op in BOOLEAN_OPS:
                left = truth(value, n.left, f"`{n.op}`")
                if left == (n.op == "or"):  # decided: the right operand is not evaluated
                    value = left
                else:
                    value = truth(self._eval(n.right), n.right, f"`{n.op}`")
            elif n.op in COMPARISONS:
                value = compare(n.op, value, self._eval(n.right), n)
            else:
                a = as_number(value, n, n.op)
                b = as_number(self._eval(n.right), n, n.op)
                value = bounded(binop(n.op, a, b, n), n)
        return value

    def surrogate(self, node: ast.CallExpr) -> ops.SurrogateValue:
        params = registry.SURROGATES.get(node.func)
        if params is None:
            raise SnnNameError(
                f"unknown surrogate function '{node.func}'" + did_you_mean(node.func, registry.SURROGATES),
                node.span, "surrogates: " + ", ".join(registry.SURROGATES),
            )
        hints = {p.name: registry.SURROGATE_HINTS[p.name].format(op=node.func, default=p.default)
                 for p in params if p.name in registry.SURROGATE_HINTS}
        given = bind_arguments(node.func, params, node.args, node.kwargs, self, node.span, hints=hints)
        return ops.SurrogateValue(node.func, tuple(given.items()))


@overload
def bind_arguments(
    what: str, params: tuple[registry.ParamSpec, ...], args: tuple[ast.Expr, ...],
    kwargs: tuple[ast.Keyword, ...], evaluate: Evaluator, span: SourceSpan,
    inferable: None = None, require: bool = True, hints: Mapping[str, str] | None = None,
) -> Mapping[str, ops.Value]: ...


@overload
def bind_arguments(
    what: str, params: tuple[registry.ParamSpec, ...], args: tuple[ast.Expr, ...],
    kwargs: tuple[ast.Keyword, ...], evaluate: Evaluator, span: SourceSpan,
    inferable: str | None, require: bool = True, hints: Mapping[str, str] | None = None,
) -> Mapping[str, ops.ArgValue]: ...


def bind_arguments(
    what: str,
    params: tuple[registry.ParamSpec, ...],
    args: tuple[ast.Expr, ...],
    kwargs: tuple[ast.Keyword, ...],
    evaluate: Evaluator,
    span: SourceSpan,
    inferable: str | None = None,
    require: bool = True,
    hints: Mapping[str, str] | None = None,
) -> Mapping[str, ops.ArgValue]:
    """Match call arguments to ``params``: evaluated, type-checked, in parameter order.

    Returns only the arguments that were given. Errors: too many positional
    arguments, unknown or duplicate keywords, missing required ones, wrong types,
    ``_`` anywhere but ``inferable``. ``hints``: the hint for a wrong value of a
    parameter, by name (default: the signature).
    """
    names = [p.name for p in params]
    given: dict[str, tuple[ops.ArgValue, ast.Expr]] = {}
    if len(args) > len(params):
        extra = args[len(params)]
        raise SnnTypeError(
            f"{what} takes at most {len(params)} positional argument{'s' if len(params) != 1 else ''}, got {len(args)}",
            extra.span, f"{what}({shown_items(names)})" if names else f"{what}() takes no arguments",
        )
    for p, expr in zip(params, args):
        given[p.name] = (evaluate(expr, allow_infer=p.name == inferable), expr)
    for kw in kwargs:
        if kw.name not in names:
            raise SnnTypeError(
                f"{what} has no argument '{kw.name}'" + did_you_mean(kw.name, names), kw.span,
                f"{what} takes: {shown_items(names) if names else 'no arguments'}",
            )
        if kw.name in given:
            raise SnnTypeError(
                f"argument '{kw.name}' of {what} is given twice", kw.span,
                "give each argument once, either by position or by keyword",
            )
        given[kw.name] = (evaluate(kw.value, allow_infer=kw.name == inferable), kw.value)
    for p in params:
        if p.name in given:
            value, expr = given[p.name]
            if value is INFER:
                continue
            expected = registry.check_type(p.type, value) or registry.check_value(p, value)
            if expected is not None:
                raise SnnTypeError(
                    f"argument '{p.name}' of {what} must be {expected}, got {describe(value)}",
                    expr.span, (hints or {}).get(p.name) or f"{what}({shown_items(names)})",
                )
        elif p.required and require:
            hint = f"{what}({shown_items(names)})"
            if inferable is not None and len(args) == 1 and names[:2] == [inferable, p.name] and not kwargs:
                hint = (f"the one size given is {inferable}; to give {p.name} and infer {inferable} from "
                        f"the input, write {what}(_, {_source_text(args[0])})")
            raise SnnTypeError(f"{what} is missing its argument '{p.name}'", span, hint)
    return {p.name: given[p.name][0] for p in params if p.name in given}


#: names a Python programmer writes for `.snn` literals
_PYTHON_HABITS = {"True": "write `true` (lower case) in .snn files", "False": "write `false` (lower case) in .snn files",
                  "None": "write `none` (lower case) in .snn files"}


def _source_text(expr: ast.Expr) -> str:
    """A short expression as written (literals and names), else ``...``."""
    if isinstance(expr, ast.Literal) and isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool):
        return repr(expr.value)
    if isinstance(expr, ast.Name):
        return expr.id
    return "..."


def shown(value: object) -> str:
    """A compile-time value as written in a `.snn` file, bounded for a message (a long
    tuple shows its first items and "... (N more)", see :func:`shown_value`)."""
    return shown_value(value, ops.format_value)  # type: ignore[arg-type]


def describe(value: object) -> str:
    if isinstance(value, bool):
        return f"the bool {shown(value)}"
    if isinstance(value, int):
        return f"the integer {shown(value)}"
    if isinstance(value, float):
        return f"the float {value}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return f"the tuple {shown(value)}"
    return shown(value)
