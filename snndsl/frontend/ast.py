"""The syntax tree of a `.snn` file: frozen dataclasses, each with a source span.

The parser (``parse.py``) builds these from the Lark tree; the ``build`` pass reads them.
Nothing here is evaluated: expressions stay expressions until ``build`` evaluates them
with the parameters and constants in scope.

Shape of a file::

    File(items=(LetStmt | DefaultsStmt | UseDecl | NeuronDef | BlockDef | ModelDef, ...))
    BlockDef/ModelDef(name, params=(Param, ...), body=(statement, ...))
    NeuronDef(name, params, body=(InputStmt | LetStmt | StateStmt | LearnableStmt
                                  | Equation | NeuronReturn, ...), overrides)
    statement = InputStmt | LetStmt | DefaultsStmt | AssignStmt | ReturnStmt
    AssignStmt(target="h", value=Chain)        # h = x -> a: Op() -> b: Op()
    Chain(head=Value, stages=(Stage, ...))
    Value = NameRef | MergeCall | Chain             # a parenthesised chain is a Chain
    Stage = OpStage | GroupStage                    # each may carry `label` and `repeat`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..diagnostics import SourceSpan

# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string, bool or ``none``: ``value`` is the Python value (int, float, str, bool, None)."""

    value: int | float | str | bool | None
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class Name:
    """A reference to a parameter or a ``let`` constant inside an expression."""

    id: str
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class Infer:
    """``_``: infer this argument from the incoming shape."""

    span: SourceSpan


@dataclass(frozen=True, slots=True)
class BinOp:
    """``left op right`` with op one of ``+ - * / // % **``, a comparison
    ``== != < <= > >=`` or ``and``/``or`` (compile-time only)."""

    op: str
    left: Expr
    right: Expr
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class UnaryOp:
    """``-operand``, ``+operand`` or ``not operand``."""

    op: str
    operand: Expr
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class TupleExpr:
    """``(a, b)`` (``(a,)`` for one item); ``is_list`` for ``[a, b]``."""

    items: tuple[Expr, ...]
    span: SourceSpan
    is_list: bool = False


@dataclass(frozen=True, slots=True)
class Keyword:
    """``name=value`` in an argument list."""

    name: str
    value: Expr
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class CallExpr:
    """An object value written as a call inside an expression, e.g. ``ATan(alpha=2.0)``."""

    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class IfExpr:
    """``then if cond else orelse``: ``cond`` is a compile-time boolean; only the branch
    it picks is evaluated."""

    then: Expr
    cond: Expr
    orelse: Expr
    span: SourceSpan


Expr = Union[Literal, Name, Infer, BinOp, UnaryOp, TupleExpr, CallExpr, IfExpr]

# --------------------------------------------------------------------------- chains


@dataclass(frozen=True, slots=True)
class OpStage:
    """``label: Op(args) * repeat``. ``op`` is the name as written: ``Conv2d``,
    ``nn.PixelShuffle``, a block name or a ``use`` alias; ``label`` and ``repeat`` may be None."""

    label: str | None
    op: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    repeat: Expr | None
    span: SourceSpan
    op_span: SourceSpan
    label_span: SourceSpan | None = None


@dataclass(frozen=True, slots=True)
class GroupStage:
    """``label: (stage -> stage ...) * repeat``."""

    label: str | None
    stages: tuple[Stage, ...]
    repeat: Expr | None
    span: SourceSpan
    label_span: SourceSpan | None = None


Stage = Union[OpStage, GroupStage]


@dataclass(frozen=True, slots=True)
class NameRef:
    """A value by name (an input or a bound name) at the head of a chain or as a merge operand."""

    id: str
    span: SourceSpan


@dataclass(frozen=True, slots=True)
class MergeCall:
    """``add(a, b)``, ``cat(a, b, dim=0)``: operands are values (chains)."""

    op: str
    args: tuple[Value, ...]
    kwargs: tuple[Keyword, ...]
    span: SourceSpan
    op_span: SourceSpan


@dataclass(frozen=True, slots=True)
class Chain:
    """``head -> stage -> stage``; a chain with no stages is just its head."""

    head: Value
    stages: tuple[Stage, ...]
    span: SourceSpan


Value = Union[NameRef, MergeCall, Chain]

# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class InputStmt:
    """``input x: [1, 28, 28] static``; ``shape`` is None for a block input without a shape."""

    name: str
    shape: tuple[Expr, ...] | None
    static: bool
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class LetStmt:
    """``let name = expr`` (file level or in a body)."""

    name: str
    value: Expr
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class DefaultsStmt:
    """``defaults LIF(tau=2.0)``: default keyword arguments for every ``op`` in scope."""

    op: str
    kwargs: tuple[Keyword, ...]
    span: SourceSpan
    op_span: SourceSpan
    args: tuple[Expr, ...] = ()  # positional arguments are a (reported) mistake


@dataclass(frozen=True, slots=True)
class AssignStmt:
    """``h = chain``, or ``a, b, c = chain`` (``target`` is ``a``; ``more`` the other names
    with their spans)."""

    target: str
    value: Value
    span: SourceSpan
    target_span: SourceSpan
    more: tuple[tuple[str, SourceSpan], ...] = ()


@dataclass(frozen=True, slots=True)
class ReturnStmt:
    """``return a`` or ``return a, b``."""

    values: tuple[Value, ...]
    span: SourceSpan


Statement = Union[InputStmt, LetStmt, DefaultsStmt, AssignStmt, ReturnStmt]

# --------------------------------------------------------------------------- top level


@dataclass(frozen=True, slots=True)
class Param:
    """``name: type = default`` in a block, model or neuron header; ``type`` is
    int/float/bool/str, and in a neuron header also ``surrogate``; ``optional`` for
    ``float?`` (the type or ``none``, neuron headers only)."""

    name: str
    type: str
    default: Expr | None
    span: SourceSpan
    optional: bool = False


# --------------------------------------------------------------------------- neurons


@dataclass(frozen=True, slots=True)
class StateStmt:
    """``state v = expr`` in a neuron: a state variable and its (compile-time) value after reset."""

    name: str
    value: Expr
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class LearnableStmt:
    """``param k = expr`` in a neuron: a learnable scalar initialised to ``expr``."""

    name: str
    value: Expr
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class Equation:
    """``name = expr`` in a neuron: a local value, or a state variable's next value."""

    target: str
    value: Expr
    span: SourceSpan
    target_span: SourceSpan


@dataclass(frozen=True, slots=True)
class NeuronReturn:
    """``return expr`` in a neuron: its output at this step."""

    value: Expr
    span: SourceSpan


NeuronStatement = Union[InputStmt, LetStmt, StateStmt, LearnableStmt, Equation, NeuronReturn]


@dataclass(frozen=True, slots=True)
class NeuronDef:
    """``neuron Name(params) [overrides] { body }``: one time step of a neuron model."""

    name: str
    params: tuple[Param, ...]
    body: tuple[NeuronStatement, ...]
    span: SourceSpan
    name_span: SourceSpan
    overrides: bool = False


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class ModelDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Statement, ...]
    span: SourceSpan
    name_span: SourceSpan


@dataclass(frozen=True, slots=True)
class UseDecl:
    """``use mypkg.mod.Class as Alias stateful``; ``kind`` is "stateful" or "stateless"."""

    path: str
    alias: str
    kind: str
    span: SourceSpan
    alias_span: SourceSpan | None = None


TopItem = Union[LetStmt, DefaultsStmt, UseDecl, NeuronDef, BlockDef, ModelDef]


@dataclass(frozen=True, slots=True)
class File:
    items: tuple[TopItem, ...]
    filename: str
    source: str
