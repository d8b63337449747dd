"""Elaboration of ``neuron`` definitions: a call ``sn: Izh(a=0.2)`` becomes an
:class:`~snndsl.ir.ops.ProgramNeuron` holding the :class:`NeuronProgram` of one step.

Two stages, each reporting located errors:

* :func:`check_definition`, once per definition (used or not): the body's structure and
  its names, on every branch of every ``if``: one ``input``, one ``return`` and nothing
  after it, no name declared twice, no header parameter, ``let``, input or ``param``
  assigned, every state assigned somewhere, every name defined before it is read, every
  function known and given its number of arguments.
* :func:`neuron_op`, at each call: the header arguments bound (positional and keyword,
  types checked, ``defaults`` lines, then the header's defaults, each seeing the
  parameters before it), then the body evaluated in order. Compile-time values
  (header parameters, ``let``s, numbers, the branch an ``if`` picks) stay values;
  everything that depends on the input, a state or a param becomes an instruction.

Semantics are sequential, as in Python: a name is bound to its latest assignment, so a
read of a state after its assignment sees the new value, and a state's next value
(its ``update``) is its last assignment. Instructions are emitted operation by
operation in the order the equations are written; only operations whose operands are
all compile-time are folded.

    h = v + (x - v) / tau ; s = spike(h - 1.0) ; v = h - s * 1.0      (tau = 2.0)
    ==>  0 STATE v; 1 INPUT x; 2 SUB 1 0; 3 CONST 2.0; 4 DIV 2 3; 5 ADD 0 4; 6 CONST 1.0;
         7 SUB 5 6; 8 SPIKE 7; 9 MUL 8 6; 10 SUB 5 9     updates v <- 10; output 8
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ..diagnostics import (
    SnnError,
    SnnLimitError,
    SnnNameError,
    SnnTypeError,
    SourceSpan,
    did_you_mean,
)
from ..ir import ops, registry
from ..ir.neuron_program import Code, Instr, NeuronProgram
from . import ast
from .evaluate import (
    BOOLEAN_OPS,
    COMPARISONS,
    Evaluator,
    as_number,
    bind_arguments,
    binop,
    bounded,
    compare,
    describe,
    shown,
    truth,
)

#: the functions of a neuron body: name -> (code, number of arguments)
FUNCTIONS: dict[str, tuple[Code, int]] = {
    "exp": (Code.EXP, 1), "log": (Code.LOG, 1), "sqrt": (Code.SQRT, 1), "abs": (Code.ABS, 1),
    "tanh": (Code.TANH, 1), "sigmoid": (Code.SIGMOID, 1), "relu": (Code.RELU, 1),
    "min": (Code.MIN, 2), "max": (Code.MAX, 2), "clamp": (Code.CLAMP, 3),
    "spike": (Code.SPIKE, 1), "detach": (Code.DETACH, 1),
}
_ARITH = {"+": Code.ADD, "-": Code.SUB, "*": Code.MUL, "/": Code.DIV, "**": Code.POW}
#: header types -> registry argument types
HEADER_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str", "int?": "optint",
                "float?": "optfloat", "bool?": "optbool", "surrogate": "surrogate"}
DEFAULT_SURROGATE = ops.SurrogateValue("Sigmoid")
MAX_INSTRUCTIONS = 100_000
_FUNCTIONS_HINT = "the functions are " + ", ".join(FUNCTIONS)
_COMPILE_TIME_HINT = ("conditions pick an equation when the model is compiled: they may use header parameters "
                      "and constants, not the input, states, params or values computed from them")


@dataclass(frozen=True)
class NeuronDecl:
    """A neuron definition and where it comes from (``prelude``: the standard prelude)."""

    node: ast.NeuronDef
    prelude: bool = False

    @property
    def name(self) -> str:
        return self.node.name


def header_type(p: ast.Param) -> str:
    return f"{p.type}?" if p.optional else p.type


def header_specs(decl: ast.NeuronDef) -> tuple[registry.ParamSpec, ...]:
    """The parameters a call of ``decl`` takes: its header, then ``surrogate`` unless the
    header declares it."""
    specs = [registry.ParamSpec(p.name, HEADER_TYPES[header_type(p)], None, required=p.default is None,
                                float32=True) for p in decl.params]
    if not any(p.name == "surrogate" for p in decl.params):
        specs.append(registry.ParamSpec("surrogate", "surrogate", DEFAULT_SURROGATE))
    return tuple(specs)


# --------------------------------------------------------------------------- structure


_KIND_WORDS = {"header": "a header parameter", "let": "a `let` constant", "input": "the input",
               "state": "a state variable", "param": "a learnable param", "local": "a local value"}


def check_definition(decl: ast.NeuronDef, constants: Iterable[str], callables: Iterable[str] = ()) -> None:
    """The checks of a definition that hold for every call of it (see the module docstring).
    ``constants``: the file's constants, visible in the body; ``callables``: the names of
    layers, blocks and neurons, for a better message when the body calls one."""
    kinds: dict[str, tuple[str, SourceSpan]] = {}
    file_constants = set(constants)
    callable_names = set(callables)
    later = {st.name: st.name_span for st in decl.body
             if isinstance(st, (ast.StateStmt, ast.LearnableStmt, ast.LetStmt, ast.InputStmt))}

    def declare(name: str, span: SourceSpan, kind: str) -> None:
        if name in kinds:
            was, at = kinds[name]
            raise SnnNameError(f"'{name}' is already defined in neuron {decl.name}, as {_KIND_WORDS[was]} at {at}",
                               span, "choose another name")
        kinds[name] = (kind, span)

    def known(name: str) -> bool:
        return name in kinds or name in file_constants

    for p in decl.params:
        declare(p.name, p.span, "header")
    if "surrogate" not in kinds:
        kinds["surrogate"] = ("header", decl.name_span)
    inputs: list[ast.InputStmt] = []
    states: dict[str, ast.StateStmt] = {}
    assigned: set[str] = set()
    returned: ast.NeuronReturn | None = None
    for st in decl.body:
        if returned is not None:
            raise SnnNameError("statement after `return`", st.span,
                               "`return` ends the neuron's body (it has one `return`); move this statement before it")
        if isinstance(st, ast.InputStmt):
            if st.shape is not None or st.static:
                raise SnnTypeError("a neuron's input takes its shape from the layer before it", st.span,
                                   f"write `input {st.name}`")
            if inputs:
                raise SnnTypeError(f"neuron {decl.name} declares a second input", st.span,
                                   f"a neuron has exactly one input (the first is at {inputs[0].span})")
            inputs.append(st)
            declare(st.name, st.name_span, "input")
            continue
        if isinstance(st, ast.NeuronReturn):
            _check_expr(st.value, decl, known, kinds, later, callable_names)
            returned = st
            continue
        _check_expr(st.value, decl, known, kinds, later, callable_names)
        if isinstance(st, ast.LetStmt):
            declare(st.name, st.name_span, "let")
        elif isinstance(st, ast.StateStmt):
            declare(st.name, st.name_span, "state")
            states[st.name] = st
        elif isinstance(st, ast.LearnableStmt):
            declare(st.name, st.name_span, "param")
        else:
            kind = kinds.get(st.target, ("local", st.target_span))[0]
            if kind == "state":
                assigned.add(st.target)
            elif kind != "local":
                hint = {"header": "header parameters are compile-time values; compute a new name: "
                                  f"{st.target}2 = ...",
                        "let": "constants cannot be rebound; compute a new name",
                        "input": "the input is the value given at this step; compute a new name",
                        "param": "a param is learned by the optimizer, not computed; use a local name"}[kind]
                raise SnnNameError(f"{_KIND_WORDS[kind]} cannot be assigned: '{st.target}'", st.target_span, hint)
            else:
                kinds[st.target] = ("local", st.target_span)
    if not inputs:
        raise SnnNameError(f"neuron {decl.name} has no `input`", decl.name_span,
                           "declare its input first: input x")
    if returned is None:
        raise SnnNameError(f"neuron {decl.name} has no `return`", decl.name_span,
                           "end the body with `return s` (the spikes, or a potential for a readout)")
    for name, st in states.items():
        if name not in assigned:
            raise SnnNameError(f"state '{name}' is never updated", st.name_span,
                               f"assign its next value in the body ({name} = ...), or make it a `let` "
                               "if it is a constant")


def _check_expr(expr: ast.Expr, decl: ast.NeuronDef, known: Callable[[str], bool],
                kinds: Mapping[str, object], later: Mapping[str, SourceSpan], callables: set[str]) -> None:
    """Every name defined, every function known with its number of arguments, no ``_``
    (on every branch: without recursion, expressions nest up to the parser's limit)."""
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name):
            if not known(node.id):
                if node.id in later:
                    hint = (f"'{node.id}' is declared later, at {later[node.id]}: declare inputs, states and "
                            "params before the equations that read them")
                else:
                    hint = "define it: a header parameter, `input`, `state`, `param`, `let` or an equation"
                raise SnnNameError(f"undefined name '{node.id}' in neuron {decl.name}" + did_you_mean(node.id, kinds),
                                   node.span, hint)
        elif isinstance(node, ast.Infer):
            raise SnnTypeError("'_' is not allowed in a neuron", node.span,
                               "'_' stands for an input size in a layer call")
        elif isinstance(node, ast.CallExpr):
            _check_call(node, decl, callables)
            todo.extend(node.args)
        elif isinstance(node, ast.BinOp):
            todo += [node.left, node.right]
        elif isinstance(node, ast.UnaryOp):
            todo.append(node.operand)
        elif isinstance(node, ast.IfExpr):
            todo += [node.then, node.cond, node.orelse]
        elif isinstance(node, ast.TupleExpr):
            todo.extend(node.items)


def _check_call(node: ast.CallExpr, decl: ast.NeuronDef, callables: set[str]) -> None:
    if node.func not in FUNCTIONS:
        if node.func in callables or node.func == decl.name:
            raise SnnNameError(f"neuron {decl.name} calls '{node.func}': a neuron's body cannot call a neuron, "
                               "block or layer", node.span,
                               "neurons are stages of a chain; write the equations here, or chain the layers: "
                               f"x -> {decl.name}() -> {node.func}()")
        if node.func in registry.SURROGATES:
            raise SnnNameError(f"'{node.func}' is a surrogate function, not a function of a neuron body", node.span,
                               f"give it to the neuron's call: surrogate={node.func}(); spike(e) uses it")
        raise SnnNameError(f"unknown function '{node.func}'" + did_you_mean(node.func, FUNCTIONS), node.span,
                           _FUNCTIONS_HINT)
    if node.kwargs:
        raise SnnTypeError(f"{node.func} takes no keyword arguments", node.kwargs[0].span,
                           f"write {_signature(node.func)}")
    n = FUNCTIONS[node.func][1]
    if len(node.args) != n:
        raise SnnTypeError(f"{node.func} takes {n} argument{'s' if n != 1 else ''}, got {len(node.args)}",
                           node.span, f"write {_signature(node.func)}")


def _signature(func: str) -> str:
    return {1: f"{func}(e)", 2: f"{func}(a, b)", 3: "clamp(e, lo, hi)"}[FUNCTIONS[func][1]]


# --------------------------------------------------------------------------- calls


def bind_header(decl: NeuronDecl, stage: ast.OpStage, ev: Evaluator,
                defaults: Mapping[str, Mapping[str, ops.Value]], constants: Mapping[str, ops.Value],
                ) -> tuple[tuple[ops.Value, ...], tuple[tuple[str, ops.Value], ...], dict[str, ops.Value]]:
    """The call's arguments as written (``args``; ``kwargs``, then those of ``defaults``
    lines) and every header parameter's value (the header's defaults filled in, each
    evaluated with ``constants`` and the parameters before it)."""
    node = decl.node
    specs = header_specs(node)
    given = dict(bind_arguments(node.name, specs, stage.args, stage.kwargs, ev, stage.span))
    for k, v in defaults.get(node.name, {}).items():
        given.setdefault(k, v)
    types = {s.name: s.type for s in specs}
    written = {s.name for s in specs[: len(stage.args)]} | {kw.name for kw in stage.kwargs}
    given = {k: _as_float(v) if types[k] in ("float", "optfloat") else v for k, v in given.items()}
    args = tuple(given[s.name] for s in specs[: len(stage.args)])
    kwargs = tuple((kw.name, given[kw.name]) for kw in stage.kwargs) + tuple(
        (k, v) for k, v in defaults.get(node.name, {}).items() if k not in written)
    return args, kwargs, header_values(node, given, constants)


def header_values(node: ast.NeuronDef, given: Mapping[str, ops.Value],
                  constants: Mapping[str, ops.Value] = {}) -> dict[str, ops.Value]:
    """Every header parameter's value (``surrogate`` included): ``given`` (checked
    arguments), else the header's default, evaluated with ``constants`` and the
    parameters before it."""
    values: dict[str, ops.Value] = {}
    scope = dict(constants)  # grows: each default sees the parameters before it
    header_eval = Evaluator(scope)
    for p in node.params:
        if p.name in given:
            values[p.name] = given[p.name]
        else:
            assert p.default is not None  # bind_arguments requires the parameters without one
            value = header_eval(p.default)
            typ = HEADER_TYPES[header_type(p)]
            value = _as_float(value) if typ in ("float", "optfloat") else value
            expected = registry.check_type(typ, value)
            if expected is not None:
                raise SnnTypeError(f"parameter '{p.name}' of neuron {node.name} is declared {header_type(p)} "
                                   f"but its default is {describe(value)}", p.span, f"give it {expected}")
            values[p.name] = value
        scope[p.name] = values[p.name]
    if "surrogate" not in values:
        values["surrogate"] = given.get("surrogate", DEFAULT_SURROGATE)
    return values


def _as_float(v: ops.Value) -> ops.Value:
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def neuron_op(decl: NeuronDecl, stage: ast.OpStage, ev: Evaluator,
              defaults: Mapping[str, Mapping[str, ops.Value]], constants: Mapping[str, ops.Value],
              ) -> ops.ProgramNeuron:
    """The op of a call of ``decl``: arguments bound where written, the program built."""
    args, kwargs, values = bind_header(decl, stage, ev, defaults, constants)
    return ops.ProgramNeuron(decl.name, args, kwargs, program=build_program(decl.node, values, constants))


@dataclass(frozen=True, slots=True)
class Run:
    """A run-time value: the index of the instruction that computes it."""

    index: int


class Const(NamedTuple):
    """A compile-time value."""

    value: ops.Value


class _Leaf(NamedTuple):
    """An input, state or param not read yet: its instruction is emitted at the first read."""

    code: Code
    name: str


Val = Run | Const


def build_program(decl: ast.NeuronDef, values: Mapping[str, ops.Value],
                  constants: Mapping[str, ops.Value] = {}) -> NeuronProgram:
    """The program of ``decl`` with its header parameters bound to ``values`` (every one,
    ``surrogate`` included); ``constants``: the file's constants."""
    return _Builder(decl, values, constants).run()


class _Builder:
    def __init__(self, decl: ast.NeuronDef, values: Mapping[str, ops.Value], constants: Mapping[str, ops.Value]):
        self.decl = decl
        self.env: dict[str, Val | _Leaf] = {k: Const(v) for k, v in {**constants, **values}.items()}
        self.surrogate = values["surrogate"]
        self.instrs: list[Instr] = []
        self.consts: dict[bytes, int] = {}
        self.spikes: dict[int, SourceSpan] = {}  # SPIKE instruction -> its call

    # -- instructions
    def emit(self, code: Code, args: tuple[int, ...] = (), value: float | str | None = None) -> Run:
        if len(self.instrs) >= MAX_INSTRUCTIONS:
            raise SnnLimitError(f"neuron {self.decl.name} has more than {MAX_INSTRUCTIONS:,} operations",
                                self.decl.name_span, "a neuron's step is a few equations")
        self.instrs.append(Instr(code, args, value))
        return Run(len(self.instrs) - 1)

    def const(self, value: ops.Value, node: ast.Expr, op: str) -> int:
        x = float(as_number(value, node, op))
        if abs(x) > registry.FLOAT32_MAX:
            raise SnnTypeError(f"the constant {shown(value)} does not fit in float32", node.span,
                               "neuron state is float32: its constants must stay below about 3.4e38")
        key = struct.pack("<d", x)
        if key not in self.consts:
            self.consts[key] = self.emit(Code.CONST, (), x).index
        return self.consts[key]

    def operand(self, v: Val, node: ast.Expr, op: str) -> int:
        return v.index if isinstance(v, Run) else self.const(v.value, node, op)

    # -- the body
    def run(self) -> NeuronProgram:
        decl = self.decl
        states: list[tuple[str, float]] = []
        params: list[tuple[str, float]] = []
        input_stmt: ast.InputStmt | None = None
        output: Val | None = None
        ret: ast.NeuronReturn | None = None
        last: dict[str, ast.Expr] = {}  # each name's latest equation
        for st in decl.body:
            if isinstance(st, ast.InputStmt):
                input_stmt = st
                self.env[st.name] = _Leaf(Code.INPUT, st.name)
            elif isinstance(st, ast.StateStmt):
                states.append((st.name, self.initial(st.value, f"the reset value of state '{st.name}'")))
                self.env[st.name] = _Leaf(Code.STATE, st.name)
            elif isinstance(st, ast.LearnableStmt):
                params.append((st.name, self.initial(st.value, f"the initial value of param '{st.name}'")))
                self.env[st.name] = _Leaf(Code.PARAM, st.name)
            elif isinstance(st, ast.LetStmt):
                v = self.eval(st.value)
                if isinstance(v, Run):
                    raise SnnTypeError(f"`let {st.name}` is a compile-time constant, but this value is computed "
                                       "at run time", st.value.span, f"write an equation instead: {st.name} = ...")
                self.env[st.name] = v
            elif isinstance(st, ast.Equation):
                self.env[st.target] = self.eval(st.value)
                last[st.target] = st.value
            else:
                ret, output = st, self.eval(st.value)
        assert input_stmt is not None and ret is not None and output is not None  # check_definition's
        if isinstance(output, Const):
            raise SnnTypeError(f"neuron {decl.name} returns a compile-time constant", ret.value.span,
                               "return a value computed from the input or the states, e.g. the spikes")
        if not any(ins.code is Code.INPUT for ins in self.instrs):
            raise SnnNameError(f"input '{input_stmt.name}' is never used", input_stmt.name_span,
                               "a neuron's equations read its input, e.g. h = v + (x - v) / tau")
        updates = []
        for name, _ in states:
            final = self.env[name]
            assert not isinstance(final, _Leaf)  # every state is assigned (check_definition)
            updates.append((name, self.operand(final, last[name], "=")))
        self.check_gradients(updates)
        surrogate = self.surrogate if isinstance(self.surrogate, ops.SurrogateValue) else DEFAULT_SURROGATE
        return NeuronProgram(decl.name, tuple(self.instrs), tuple(states), tuple(params), tuple(updates),
                             output.index, surrogate)

    def initial(self, expr: ast.Expr, what: str) -> float:
        v = self.eval(expr)
        if isinstance(v, Run):
            raise SnnTypeError(f"{what} must be a compile-time number", expr.span,
                               "it is the value before the first step: a number, or computed from header "
                               "parameters and constants")
        x = v.value
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise SnnTypeError(f"{what} must be a number, got {describe(x)}", expr.span,
                               "e.g. 0.0, or a header parameter such as v_reset")
        if abs(x) > registry.FLOAT32_MAX:
            raise SnnTypeError(f"{what} does not fit in float32", expr.span, "use a smaller number")
        return float(x)

    def check_gradients(self, updates: list[tuple[str, int]]) -> None:
        """``spike(e)``: the surrogate gradient must reach the input, a param, or a state
        that itself carries one (found as a fixed point over the updates)."""
        carrying: set[str] = set()
        while True:
            grad = self.gradient_paths(carrying)
            now = {name for name, i in updates if grad[i]}
            if now == carrying:
                break
            carrying = now
        for i, span in self.spikes.items():
            if not grad[self.instrs[i].args[0]]:
                raise SnnTypeError("spike of a value through which no gradient can flow", span,
                                   "spike's surrogate gradient needs a path to the input, a param or a state "
                                   "fed by them; a detach() (or only constants) stands in the way")

    def gradient_paths(self, carrying: set[str]) -> list[bool]:
        grad: list[bool] = []
        for ins in self.instrs:
            if ins.code in (Code.INPUT, Code.PARAM):
                grad.append(True)
            elif ins.code is Code.STATE:
                grad.append(ins.value in carrying)
            elif ins.code in (Code.CONST, Code.DETACH):
                grad.append(False)
            elif ins.code is Code.CLAMP:
                grad.append(grad[ins.args[0]])
            else:
                grad.append(any(grad[a] for a in ins.args))
        return grad

    # -- expressions
    def eval(self, node: ast.Expr) -> Val:
        # Expressions nest only as deep as the parser allows, so recursion is bounded.
        if isinstance(node, ast.Literal):
            return Const(bounded(node.value, node))
        if isinstance(node, ast.Name):
            return self.read(node.id)
        if isinstance(node, ast.BinOp):
            return self.binops(node)
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand)
            if node.op == "not":
                return Const(not truth(self.compile_time(v, node.operand, "`not`"), node.operand, "`not`"))
            if isinstance(v, Const):
                x = as_number(v.value, node, node.op)
                return Const(bounded(-x if node.op == "-" else x, node))
            return v if node.op == "+" else self.emit(Code.NEG, (v.index,))
        if isinstance(node, ast.IfExpr):
            cond = self.eval(node.cond)
            if isinstance(cond, Run):
                raise SnnTypeError("a run-time value in a compile-time condition", node.cond.span, _COMPILE_TIME_HINT)
            return self.eval(node.then if truth(cond.value, node.cond, "the condition of `if`") else node.orelse)
        if isinstance(node, ast.CallExpr):
            return self.call(node)
        if isinstance(node, ast.TupleExpr):
            items = [self.eval(item) for item in node.items]
            return Const(tuple(self.compile_time(v, item, "a tuple") for v, item in zip(items, node.items)))
        raise SnnTypeError("'_' is not allowed in a neuron", node.span)  # check_definition refuses it

    def read(self, name: str) -> Val:
        v = self.env[name]
        if not isinstance(v, _Leaf):
            return v
        run = self.emit(v.code, (), v.name)
        self.env[name] = run
        return run

    def compile_time(self, v: Val, node: ast.Expr, what: str) -> ops.Value:
        if isinstance(v, Run):
            raise SnnTypeError(f"{what} takes compile-time values, not run-time ones", node.span, _COMPILE_TIME_HINT)
        return v.value

    def binops(self, node: ast.BinOp) -> Val:
        """``a + b - c ...``: the left operands in a loop, as the evaluator does."""
        spine = [node]
        while isinstance(spine[-1].left, ast.BinOp):
            spine.append(spine[-1].left)
        value = self.eval(spine[-1].left)
        for n in reversed(spine):
            if n.op in BOOLEAN_OPS:
                left = truth(self.compile_time(value, n.left, f"`{n.op}`"), n.left, f"`{n.op}`")
                if left == (n.op == "or"):
                    value = Const(left)
                else:
                    rv = self.compile_time(self.eval(n.right), n.right, f"`{n.op}`")
                    value = Const(truth(rv, n.right, f"`{n.op}`"))
                continue
            right = self.eval(n.right)
            if n.op in COMPARISONS:
                what = f"the comparison `{n.op}`"
                value = Const(compare(n.op, self.compile_time(value, n.left, what),
                                      self.compile_time(right, n.right, what), n))
            elif isinstance(value, Const) and isinstance(right, Const):
                value = Const(bounded(binop(n.op, as_number(value.value, n, n.op), as_number(right.value, n, n.op), n),
                                       n))
            elif n.op not in _ARITH:
                raise SnnTypeError(f"`{n.op}` is compile-time only", n.span,
                                   "the run-time operators of a neuron are + - * / ** and unary -")
            else:
                a = self.operand(value, n.left, n.op)
                b = self.operand(right, n.right, n.op)
                value = self.emit(_ARITH[n.op], (a, b))
        return value

    def call(self, node: ast.CallExpr) -> Val:
        code, _ = FUNCTIONS[node.func]
        args = [self.eval(a) for a in node.args]
        if code is Code.CLAMP:
            for bound, expr in zip(args[1:], node.args[1:]):
                if isinstance(bound, Run):
                    raise SnnTypeError("clamp's bounds must be compile-time numbers", expr.span,
                                       "clamp(e, lo, hi) with lo and hi numbers or header parameters; for a "
                                       "run-time bound use min(max(e, lo), hi)")
        if all(isinstance(a, Const) for a in args):
            if code is Code.SPIKE:
                raise SnnTypeError("spike of a compile-time constant: no gradient can flow", node.span,
                                   "spike a value computed from the input, e.g. spike(h - v_threshold)")
            if code is Code.DETACH:
                return args[0]
            return Const(_fold(node, code, [as_number(a.value, e, node.func)  # type: ignore[union-attr]
                                            for a, e in zip(args, node.args)]))
        operands = tuple(self.operand(a, e, node.func) for a, e in zip(args, node.args))
        out = self.emit(code, operands)
        if code is Code.SPIKE:
            self.spikes[out.index] = node.span
        return out


def _fold(node: ast.CallExpr, code: Code, xs: list[int | float]) -> ops.Value:
    """A function of compile-time numbers, computed now."""
    x = xs[0]
    try:
        if code is Code.EXP:
            result: int | float = math.exp(x)
        elif code is Code.LOG:
            result = math.log(x)
        elif code is Code.SQRT:
            result = math.sqrt(x)
        elif code is Code.ABS:
            result = abs(x)
        elif code is Code.TANH:
            result = math.tanh(x)
        elif code is Code.SIGMOID:
            result = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        elif code is Code.RELU:
            result = x if x > 0 else (0.0 if isinstance(x, float) else 0)
        elif code is Code.MIN:
            result = min(xs[0], xs[1])
        elif code is Code.MAX:
            result = max(xs[0], xs[1])
        else:  # CLAMP
            result = min(max(x, xs[1]), xs[2])
    except (ValueError, OverflowError) as e:
        raise SnnTypeError(f"cannot compute {node.func}({', '.join(shown(v) for v in xs)}): {e}", node.span,
                           "check the function's argument") from None
    return bounded(result, node)


def with_prelude_source(err: SnnError, prelude_name: str, text: str) -> SnnError:
    """Attach the prelude's text to an error located in it (before the user's file's)."""
    if err.span is not None and err.span.filename == prelude_name:
        err.with_source(text)
    return err
