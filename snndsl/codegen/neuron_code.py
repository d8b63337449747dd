"""A neuron program printed as a runtime class: the single step and the fused BPTT.

:func:`neuron_class_source` prints one subclass of :class:`snndsl.runtime.program.ProgramNode`
per :class:`~snndsl.ir.neuron_program.NeuronProgram`:

* ``step``: one step, one line per instruction, in the program's order, torch ops with
  autograd (``'s'`` mode, and the reference);
* ``Fused``: a ``torch.autograd.Function`` over the ``T`` steps. Its forward runs the same
  operations without autograd into preallocated buffers (``out=``; a temporary reuses a
  dead one's buffer, so most operations are in place), saving per step only what the
  derived backward reads (:mod:`snndsl.ir.neuron_grad`); its backward runs BPTT with the
  derived instructions, also ``out=`` into reused buffers.

Each operation is the same torch call in both, so spikes and states are bit for bit the
single-step loop's. Where Python would dispatch a constant operand on the left to another
kernel, the fused form calls that kernel: ``c / a`` is ``a.reciprocal() * c`` (torch's
``Tensor.__rdiv__``), ``c - a`` is ``-a + c``. A ``min``/``max`` with a constant is
``clamp_max``/``clamp_min``; ``relu`` is ``clamp_min(a, 0.0)`` (what ``torch.relu`` runs).
Operations on constants only are folded in Python floats (as SpikingJelly's
``1.0 / tau_w`` is evaluated).

The generated class refers to the module globals ``torch``, ``program`` and
``surrogate`` (``snndsl.runtime.program``/``.surrogate``); :func:`neuron_module_source`
adds those imports. Numbers are printed only through ``repr`` of floats, names only
after :func:`snndsl.codegen.names.is_identifier` (locals through a
:class:`~snndsl.codegen.names.Namespace`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import cast

from ..ir.neuron_grad import GradCode, GradInstr, Ref, Space, StepGradient, derive
from ..ir.neuron_program import Code, NeuronProgram
from ..runtime import surrogate as _sg
from ..runtime.program import RESERVED_NAMES, ProgramNode
from .names import Namespace, is_identifier
from .writer import Writer

__all__ = ["neuron_class_source", "neuron_module_source"]

#: module-level and fixed local names of the generated code
_FIXED = {
    "torch", "program", "surrogate", "math", "self", "ctx", "sg", "spike_fn", "store", "x_seq", "out_seq",
    "t", "T", "scale", "v_seq", "g_out_seq", "g_v_seq", "grad_x_seq", "staticmethod", "zero",
}

_UNARY = {
    Code.NEG: "torch.neg", Code.EXP: "torch.exp", Code.LOG: "torch.log", Code.SQRT: "torch.sqrt",
    Code.ABS: "torch.abs", Code.TANH: "torch.tanh", Code.SIGMOID: "torch.sigmoid",
}
_BINARY = {Code.ADD: "+", Code.SUB: "-", Code.MUL: "*", Code.DIV: "/", Code.POW: "**"}
_CMP = {GradCode.GT: "gt", GradCode.GE: "ge", GradCode.LT: "lt", GradCode.LE: "le", GradCode.EQ: "eq"}
_FLIP = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge", "eq": "eq"}
_GRAD_AS_CODE = {
    GradCode.ADD: Code.ADD, GradCode.SUB: Code.SUB, GradCode.MUL: Code.MUL, GradCode.DIV: Code.DIV,
    GradCode.POW: Code.POW, GradCode.NEG: Code.NEG, GradCode.LOG: Code.LOG,
}


def lit(value: float) -> str:
    """A float as a Python literal (parenthesised when negative; ``float('inf')``...)."""
    v = float(value)
    if math.isnan(v):
        return "float('nan')"
    if math.isinf(v):
        return "float('inf')" if v > 0 else "(-float('inf'))"
    text = repr(v)
    return f"({text})" if text.startswith("-") else text


def _fold(program: NeuronProgram) -> dict[int, float]:
    """The value of every instruction that depends on constants only (Python floats)."""
    out: dict[int, float] = {}
    for i, ins in enumerate(program.instrs):
        if ins.code is Code.CONST:
            out[i] = float(ins.value)  # type: ignore[arg-type]
        elif ins.args and all(a in out for a in ins.args) and ins.code not in (Code.INPUT, Code.STATE, Code.PARAM):
            out[i] = _eval(ins.code, [out[a] for a in ins.args])
    return out


def _eval(code: Code, a: list[float]) -> float:
    try:
        if code in _BINARY:
            x, y = a
            return {Code.ADD: x + y, Code.SUB: x - y, Code.MUL: x * y}[code] if code in (
                Code.ADD, Code.SUB, Code.MUL) else (x / y if code is Code.DIV else float(x**y))
        x = a[0]
        table = {
            Code.NEG: lambda: -x, Code.EXP: lambda: math.exp(x), Code.LOG: lambda: math.log(x),
            Code.SQRT: lambda: math.sqrt(x), Code.ABS: lambda: abs(x), Code.TANH: lambda: math.tanh(x),
            Code.SIGMOID: lambda: 1.0 / (1.0 + math.exp(-x)), Code.RELU: lambda: max(x, 0.0),
            Code.MIN: lambda: min(a[0], a[1]), Code.MAX: lambda: max(a[0], a[1]),
            Code.CLAMP: lambda: min(max(a[0], a[1]), a[2]), Code.SPIKE: lambda: 1.0 if x >= 0 else 0.0,
            Code.DETACH: lambda: x,
        }
        return float(table[code]())
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError):
        return math.nan


def _check_names(program: NeuronProgram) -> None:
    names = [n for n, _ in program.states] + [n for n, _ in program.params]
    for n in names:
        if not is_identifier(n) or n.startswith("_") or n in RESERVED_NAMES or hasattr(ProgramNode, n):
            raise ValueError(f"neuron {program.name!r}: {n!r} cannot be a state or param name here")
    if len(set(names)) != len(names):
        raise ValueError(f"neuron {program.name!r}: a state and a param share a name")
    for ins in program.instrs:
        if ins.code is Code.INPUT and not is_identifier(str(ins.value)):
            raise ValueError(f"neuron {program.name!r}: the input name {ins.value!r} is not an identifier")
    if program.surrogate.name not in _sg.__all__ or not program.surrogate.name[0].isupper():
        raise ValueError(f"neuron {program.name!r}: unknown surrogate {program.surrogate.name!r}")
    for k, v in program.surrogate.kwargs:
        if not is_identifier(k) or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"neuron {program.name!r}: surrogate argument {k}={v!r}")


class _Printer:
    """Names and operand strings shared by every part of one class."""

    def __init__(self, program: NeuronProgram, grad: StepGradient, names: Mapping[int, str]):
        self.p = program
        self.grad = grad
        self.instrs = program.instrs
        self.folded = _fold(program)
        self.ns = Namespace(_FIXED)
        self.name: dict[int, str] = {}
        for i, ins in enumerate(program.instrs):
            if i in self.folded:
                continue
            if ins.code in (Code.INPUT, Code.STATE, Code.PARAM):
                base = str(ins.value)
                already = [j for j in self.name if self.instrs[j].code is ins.code and self.instrs[j].value == ins.value]
                if already:
                    self.name[i] = self.name[already[0]]
                    continue
            else:
                base = names.get(i, f"t{i}")
            self.name[i] = self.ns.name(base)
        self.invariant = set(grad.invariant)
        self.unread: dict[str, str] = {}
        live = {program.output, *(u for _, u in program.updates)}
        for i in range(len(self.instrs) - 1, -1, -1):  # what the step's results depend on
            if i in live:
                live |= set(self.instrs[i].args)
        self.live = live

    def fwd(self, i: int) -> str:
        return lit(self.folded[i]) if i in self.folded else self.name[i]

    def is_lit(self, i: int) -> bool:
        return i in self.folded

    # -- autograd expressions (the single step, the invariant block) ----------------------
    def expr(self, i: int, spike: str = "spike_fn") -> str:
        ins = self.instrs[i]
        a = [self.fwd(j) for j in ins.args]
        c = ins.code
        if c in _BINARY:
            return f"{a[0]} {_BINARY[c]} {a[1]}"
        if c in _UNARY:
            return f"-{a[0]}" if c is Code.NEG else f"{_UNARY[c]}({a[0]})"
        if c is Code.RELU:
            return f"torch.relu({a[0]})"
        if c in (Code.MIN, Code.MAX):
            return self._min_max(i, a, "")
        if c is Code.CLAMP:
            return f"torch.clamp({a[0]}, {a[1]}, {a[2]})"
        if c is Code.SPIKE:
            return f"{spike}({a[0]})"
        if c is Code.DETACH:
            return f"{a[0]}.detach()"
        raise AssertionError(c)

    def _min_max(self, i: int, a: list[str], out: str) -> str:
        ins = self.instrs[i]
        x, y = ins.args
        if self.is_lit(x) or self.is_lit(y):
            fn = "clamp_max" if ins.code is Code.MIN else "clamp_min"
            t, c = (a[1], a[0]) if self.is_lit(x) else (a[0], a[1])
            return f"torch.{fn}({t}, {c}{out})"
        fn = "minimum" if ins.code is Code.MIN else "maximum"
        return f"torch.{fn}({a[0]}, {a[1]}{out})"

    # -- out= statements (the fused forward and backward) ----------------------------------
    def into(self, code: Code, a: list[str], lits: list[bool], dest: str, i: int | None = None) -> str:
        """``code`` on operands ``a`` written into ``dest`` with the kernel the autograd
        expression runs (see the module docstring)."""
        o = f", out={dest}"
        if code in (Code.ADD, Code.MUL):
            x, y = (a[1], a[0]) if lits[0] else (a[0], a[1])
            return f"torch.{'add' if code is Code.ADD else 'mul'}({x}, {y}{o})"
        if code is Code.SUB:
            return f"torch.neg({a[1]}{o}).add_({a[0]})" if lits[0] else f"torch.sub({a[0]}, {a[1]}{o})"
        if code is Code.DIV:
            return f"torch.reciprocal({a[1]}{o}).mul_({a[0]})" if lits[0] else f"torch.div({a[0]}, {a[1]}{o})"
        if code is Code.POW:
            return f"torch.pow({a[0]}, {a[1]}{o})"
        if code in _UNARY:
            return f"{_UNARY[code]}({a[0]}{o})"
        if code is Code.RELU:
            return f"torch.clamp_min({a[0]}, 0.0{o})"
        if code in (Code.MIN, Code.MAX):
            assert i is not None
            return self._min_max(i, a, o)
        if code is Code.CLAMP:
            return f"torch.clamp({a[0]}, {a[1]}, {a[2]}{o})"
        if code is Code.SPIKE:
            return f"torch.ge({a[0]}, 0.0{o})"
        raise AssertionError(code)


class _Pool:
    """Scratch buffers shaped like one step, handed out and taken back by liveness."""

    def __init__(self, prefix: str, ns: Namespace):
        self.prefix, self.ns = prefix, ns
        self.all: list[str] = []
        self.free: list[str] = []

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = self.ns.name(f"{self.prefix}{len(self.all)}")
        self.all.append(name)
        return name

    def give(self, name: str) -> None:
        self.free.append(name)


class _Linear:
    """One straight-line body (a forward step or a backward step): statements printed
    in order, values in buffers that are reused once dead."""

    def __init__(self, pool: _Pool):
        self.pool = pool
        self.lines: list[str] = []
        self.owned: dict[object, str] = {}  # value key -> its pool buffer
        self.last: dict[object, int] = {}

    def plan(self, uses: Sequence[tuple[object, Sequence[object]]]) -> None:
        for n, (_, args) in enumerate(uses):
            for a in args:
                self.last[a] = n

    def release(self, n: int, args: Sequence[object], keep: frozenset[object] = frozenset()) -> None:
        for a in dict.fromkeys(args):
            if a in self.owned and self.last.get(a) == n and a not in keep:
                self.pool.give(self.owned.pop(a))

    def scratch(self, key: object) -> str:
        buf = self.pool.take()
        self.owned[key] = buf
        return buf


def neuron_class_source(program: NeuronProgram, class_name: str, names: Mapping[int, str] | None = None) -> str:
    """The Python source of the runtime class for ``program`` (see the module docstring).

    ``names``: optional readable names of instructions (e.g. the local names of the
    definition, ``{5: "h", 8: "s"}``); the others are ``t<index>``.
    """
    if not is_identifier(class_name) or class_name in _FIXED:
        raise ValueError(f"{class_name!r} cannot be a class name")
    _check_names(program)
    grad = derive(program)
    pr = _Printer(program, grad, names or {})
    w = Writer()
    with w.block(f"class {class_name}(program.ProgramNode):"):
        w.line(f'"""The neuron program {program.name!r}, generated by snndsl.codegen.neuron_code."""')
        w.line()
        w.line(f"STATES = {tuple((s, float(v)) for s, v in program.states)!r}")
        w.line(f"PARAMS = {tuple((s, float(v)) for s, v in program.params)!r}")
        w.line(f"HAS_SPIKE = {any(ins.code is Code.SPIKE for ins in program.instrs)!r}")
        _program_literal(w, program)
        w.line()
        with w.block("def default_surrogate(self):"):
            kw = ", ".join(f"{k}={lit(float(v))}" for k, v in program.surrogate.kwargs)  # type: ignore[arg-type]
            w.line(f"return surrogate.{program.surrogate.name}({kw})")
        w.line()
        _single_step(w, pr)
        w.line()
        _fused(w, pr)
    return w.text()


def _data_literal(value: object) -> str:
    """Plain data (tuples, str, int, float, None) as a Python literal; floats via :func:`lit`."""
    if isinstance(value, tuple):
        items = [_data_literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, float):
        return lit(value)
    if value is None or isinstance(value, (str, int)):
        return repr(value)
    raise TypeError(f"not plain data: {value!r}")


def _program_literal(w: Writer, program: NeuronProgram) -> None:
    """``PROGRAM``: the class's neuron program as a data literal (the kernels' input)."""
    data = program.to_data()
    with w.block("PROGRAM = program.NeuronProgram.from_data({"):
        for key, value in data.items():
            if key == "instrs":
                with w.block(f"{key!r}: ("):
                    for ins in value:  # type: ignore[attr-defined]
                        w.line(f"{_data_literal(ins)},")
                w.line("),")
            else:
                w.line(f"{key!r}: {_data_literal(value)},")
    w.line("})")


def neuron_module_source(program: NeuronProgram, class_name: str, names: Mapping[int, str] | None = None) -> str:
    """:func:`neuron_class_source` with the imports it needs: a module on its own."""
    head = "import torch\n\nfrom snndsl.runtime import program, surrogate\n\n\n"
    return head + neuron_class_source(program, class_name, names)


def _single_step(w: Writer, pr: _Printer) -> None:
    p = pr.p
    inp = [i for i, ins in enumerate(p.instrs) if ins.code is Code.INPUT]
    x = pr.name[inp[0]] if inp else pr.ns.name("x")
    states = [_state_name(pr, n) for n, _ in p.states]
    with w.block(f"def step(self, {', '.join([x, *states])}):"):
        w.line('"""One step, autograd through torch ops: (output, next states)."""')
        if any(ins.code is Code.SPIKE for ins in p.instrs):
            w.line("spike_fn = self.surrogate_function")
        for i, ins in enumerate(p.instrs):
            if i in pr.folded or i not in pr.live or ins.code in (Code.INPUT, Code.STATE):
                continue
            if ins.code is Code.PARAM:
                w.line(f"{pr.name[i]} = self.{ins.value}")
            else:
                w.line(f"{pr.name[i]} = {pr.expr(i)}")
        nxt = ", ".join(_value(pr, u, x) for _, u in p.updates)
        w.line(f"return {_value(pr, p.output, x)}, ({nxt}{',' if len(p.updates) == 1 else ''})")


def _state_name(pr: _Printer, state: str) -> str:
    for i, ins in enumerate(pr.instrs):
        if ins.code is Code.STATE and ins.value == state:
            return pr.name[i]
    if state not in pr.unread:  # a state the step never reads
        pr.unread[state] = pr.ns.name(state)
    return pr.unread[state]


def _value(pr: _Printer, i: int, x: str) -> str:
    """A step result (the output, a state's next value) as a tensor shaped like the input:
    a constant or a param-only value is broadcast."""
    if i in pr.folded:
        return f"torch.full_like({x}, {pr.fwd(i)})"
    if i in pr.invariant:
        return f"{pr.fwd(i)}.expand_as({x})"
    return pr.fwd(i)


def _invariant_block(w: Writer, pr: _Printer, params: dict[str, str]) -> None:
    for i in pr.grad.invariant:
        ins = pr.instrs[i]
        if i in pr.folded:
            continue
        if ins.code is Code.PARAM:
            if pr.name[i] != params[str(ins.value)]:
                w.line(f"{pr.name[i]} = {params[str(ins.value)]}")
        else:
            w.line(f"{pr.name[i]} = {pr.expr(i, 'sg')}")


def _fused(w: Writer, pr: _Printer) -> None:
    p, g = pr.p, pr.grad
    ns = pr.ns
    instrs = p.instrs
    inp = [i for i, ins in enumerate(instrs) if ins.code is Code.INPUT]
    x = pr.name[inp[0]] if inp else ns.name("x")
    states = [_state_name(pr, n) for n, _ in p.states]
    param_args = {n: _param_name(pr, n) for n, _ in p.params}
    nstate = len(p.states)
    snames = [n for n, _ in p.states]
    rec = snames.index("v") if "v" in snames else (0 if snames else None)
    state_instr = {n: [i for i, ins in enumerate(instrs) if ins.code is Code.STATE and ins.value == n] for n, _ in p.states}
    saved_states = [k for k, (n, _) in enumerate(p.states) if any(i in g.saved for i in state_instr[n])]
    saved_ops = [i for i in g.saved if instrs[i].code is not Code.STATE]
    seq = {i: ns.name(f"saved_{pr.name[i]}") for i in saved_ops}
    sseq = {k: ns.name(f"saved_{states[k]}") for k in saved_states}
    update_of: dict[int, list[int]] = {}
    for k, (_, u) in enumerate(p.updates):
        update_of.setdefault(u, []).append(k)
    plain = lambda i: (  # noqa: E731 - an operation the fused loop writes into a buffer
        i not in pr.folded and i not in pr.invariant and instrs[i].code not in (Code.INPUT, Code.STATE, Code.DETACH)
    )
    # a saved state whose update is a plain operation of its own: the update is written
    # straight into the state's slot t + 1
    direct = {k for k in saved_states if plain(p.updates[k][1]) and p.updates[k][1] != p.output
              and p.updates[k][1] not in seq and len(update_of[p.updates[k][1]]) == 1}
    need_x = any(i in inp for i in g.needed) or any(a in inp for i in g.recomputed for a in instrs[i].args)
    need_out = p.output not in pr.invariant and (
        p.output in g.needed or any(p.output in instrs[i].args for i in g.recomputed))

    with w.block("class Fused(torch.autograd.Function):"):
        w.line('"""All T steps: forward without autograd, backward by the derived BPTT."""')
        w.line()
        w.line("@staticmethod")
        args = ", ".join(["ctx", "sg", "store", "x_seq", *states, *param_args.values()])
        with w.block(f"def forward({args}):"):
            body = Writer()
            pool = _Pool("buf", ns)
            lin = _Linear(pool)
            steps = [i for i in g.steps if i in pr.live and instrs[i].code not in (Code.INPUT, Code.STATE)]
            root: dict[int, int] = {}
            for i in steps:
                root[i] = root.get(instrs[i].args[0], instrs[i].args[0]) if instrs[i].code is Code.DETACH else i
            out_root = p.output
            while instrs[out_root].code is Code.DETACH:
                out_root = instrs[out_root].args[0]
            upd_roots = {root.get(u, u) for _, u in p.updates}
            uses = [(i, [root.get(a, a) for a in instrs[i].args]) for i in steps]
            lin.plan(uses)
            pinned: dict[int, str] = {}
            double: dict[int, str] = {}
            for n, (i, a) in enumerate(uses):
                ins = instrs[i]
                if ins.code is Code.DETACH:
                    body.line(f"{pr.name[i]} = {pr.fwd(ins.args[0])}  # detach: no gradient flows here")
                    continue
                if i in pr.folded:
                    continue
                if i == out_root:
                    dest = "out_seq[t]"
                elif i in seq:
                    dest = f"{seq[i]}[t]"
                elif i in update_of and update_of[i][0] in direct:
                    dest = f"{sseq[update_of[i][0]]}[t + 1]"
                elif i in upd_roots:
                    double[i] = ns.name(f"next_{pr.name[i]}")
                    dest = f"{double[i]}[t & 1]"
                else:
                    lin.release(n, a)
                    dest = lin.scratch(i)
                if i not in lin.owned:
                    lin.release(n, a)
                pinned[i] = dest
                line = pr.into(ins.code, [pr.fwd(j) for j in ins.args], [pr.is_lit(j) for j in ins.args], dest, i)
                body.line(f"{pr.name[i]} = {line}")
            # a state passed on to another (``u = v``) gets its own buffers: the one it
            # came from is written again while it is still read
            passing: dict[int, str] = {}
            for k, (_, u) in enumerate(p.updates):
                r = u
                while instrs[r].code is Code.DETACH:
                    r = instrs[r].args[0]
                if instrs[r].code is Code.STATE and instrs[r].value != p.states[k][0]:
                    passing[k] = ns.name(f"pass_{states[k]}")
                    double[-1 - k] = passing[k]
            w.line('"""Forward of all steps; saves what the backward reads."""')
            w.line("T = x_seq.shape[0]")
            w.line("x0 = x_seq[0]")
            _invariant_block(w, pr, param_args)
            w.line("out_seq = torch.empty_like(x_seq)")
            for name in seq.values():
                w.line(f"{name} = torch.empty_like(x_seq)")
            for k, name in sseq.items():
                w.line(f"{name} = torch.empty((T + 1, *x0.shape), dtype=x0.dtype, device=x0.device)")
                w.line(f"{name}[0].copy_({states[k]})")
                if k in direct:
                    w.line(f"{states[k]} = {name}[0]")
            for name in double.values():
                w.line(f"{name} = (torch.empty_like(x0), torch.empty_like(x0))")
            for name in pool.all:
                w.line(f"{name} = torch.empty_like(x0)")
            if rec is not None:
                w.line("v_seq = torch.empty_like(x_seq) if store else None")
            with w.block("for t in range(T):"):
                w.line(f"{x} = x_seq[t]")
                for k in saved_states:
                    if k not in direct:
                        w.line(f"{sseq[k]}[t].copy_({states[k]})")
                w.extend(body)
                if not plain(out_root):  # the output is the input, a state or a constant
                    fill = "fill_" if out_root in pr.folded else "copy_"
                    w.line(f"out_seq[t].{fill}({pr.fwd(p.output)})")
                news = [_step_value(pr, u, x) for _, u in p.updates]
                news = [f"{passing[k]}[t & 1].copy_({v})" if k in passing else v for k, v in enumerate(news)]
                if nstate:
                    w.line(f"{', '.join(states)} = {', '.join(news)}")
                if rec is not None:
                    with w.block("if store:"):
                        w.line(f"v_seq[t].copy_({states[rec]})")
            saves = (["x_seq"] if need_x else []) + (["out_seq"] if need_out else [])
            saves += list(seq.values()) + list(sseq.values()) + list(param_args.values())
            w.line(f"ctx.save_for_backward({', '.join(saves)})")
            w.line("ctx.sg = sg")
            w.line("ctx.store = store")
            lasts = []
            for k, s in enumerate(states):
                if k in direct:
                    lasts.append(f"{sseq[k]}[T].clone()")
                elif p.updates[k][1] in double:
                    lasts.append(s)
                else:
                    lasts.append(f"{s}.clone()")
            tail = ", v_seq" if rec is not None else ""
            w.line(f"return {', '.join(['out_seq', *lasts])}{tail}")
        w.line()
        _backward(w, pr, x, states, param_args, seq, sseq, need_x, need_out, rec, saved_states)


def _param_name(pr: _Printer, name: str) -> str:
    for i, ins in enumerate(pr.instrs):
        if ins.code is Code.PARAM and ins.value == name:
            return pr.name[i]
    return pr.ns.name(name)


def _step_value(pr: _Printer, i: int, x: str) -> str:
    """A state's next value in the fused loop (a folded constant as a tensor)."""
    if i in pr.folded or (i in pr.invariant and pr.instrs[i].code is not Code.STATE):
        return f"torch.full_like({x}, {pr.fwd(i)})" if i in pr.folded else f"{pr.fwd(i)}.expand_as({x})"
    return pr.fwd(i)


def _backward(w: Writer, pr: _Printer, x: str, states: list[str], param_args: dict[str, str],
              seq: dict[int, str], sseq: dict[int, str], need_x: bool, need_out: bool,
              rec: int | None, saved_states: list[int]) -> None:
    p, g = pr.p, pr.grad
    ns = pr.ns
    instrs = p.instrs
    nstate = len(p.states)
    gname = _grad_names(pr, g.step, "g")
    fname = _grad_names(pr, g.final, "gf")
    carry = [ns.name(f"carry_{s}") for s in states]
    g_last = [ns.name(f"g_{s}_last") for s in states]
    acc = {i: ns.name(f"acc_{pr.name.get(i, 't' + str(i))}") for i, _ in g.invariant_grads}
    sums = {i: ns.name(f"sum_{pr.name.get(i, 't' + str(i))}") for i, _ in g.invariant_grads}
    pool = _Pool("gbuf", ns)
    lin = _Linear(pool)

    def ref(r: Ref, final: bool = False) -> str:
        if r.space is Space.FWD:
            return pr.fwd(r.index)
        if r.space is Space.SEED:
            return "g_out_seq[t]" if r.index == 0 else seeds[r.index - 1]
        if r.space is Space.ACC:
            return sums[r.index]
        ins = (g.final if final else g.step)[r.index]
        if ins.code is GradCode.CONST:
            return lit(ins.value)  # type: ignore[arg-type]
        return (fname if final else gname)[r.index]

    def is_lit(r: Ref, final: bool = False) -> bool:
        if r.space is Space.FWD:
            return pr.is_lit(r.index)
        return r.space is Space.GRAD and (g.final if final else g.step)[r.index].code is GradCode.CONST

    seeds = list(carry)
    body = Writer()
    if rec is not None:
        seed_rec = ns.name(f"seed_{states[rec]}")
        body.line(f"{seed_rec} = {carry[rec]} + g_v_seq[t] if store else {carry[rec]}")
        seeds[rec] = seed_rec
    x_bound = need_x or any(
        r.space is Space.FWD and instrs[r.index].code is Code.INPUT for ins in g.step for r in ins.args)
    if x_bound:
        body.line(f"{x} = x_seq[t]")
    if need_out:
        body.line(f"{pr.name[p.output]} = out_seq[t]")
    for i, name in seq.items():
        body.line(f"{pr.name[i]} = {name}[t]")
    for k in saved_states:
        body.line(f"{states[k]} = {sseq[k]}[t]")
    # the linear program: recomputed forward values, then the step's backward
    def froot(i: int) -> tuple[str, int]:  # an alias (detach) shares its value's buffer
        while instrs[i].code is Code.DETACH:
            i = instrs[i].args[0]
        return ("f", i)

    ops: list[tuple[object, list[object]]] = []
    for i in g.recomputed:
        ops.append((("f", i), [froot(a) for a in instrs[i].args]))
    for j, ins in enumerate(g.step):
        ops.append((("g", j), [(froot(r.index) if r.space is Space.FWD else ("g", r.index))
                               for r in ins.args if r.space in (Space.FWD, Space.GRAD)]))
    targets: dict[int, str] = {}
    copies: list[str] = []
    copy_refs: list[Ref] = []
    if g.input_grad is not None and g.input_grad.space is Space.GRAD and g.step[g.input_grad.index].code is not GradCode.CONST:
        targets[g.input_grad.index] = "grad_x_seq[t]"
    elif g.input_grad is not None:
        copies.append(f"grad_x_seq[t].copy_({ref(g.input_grad)})")
        copy_refs.append(g.input_grad)
    nexts = []
    for k, r in enumerate(g.state_grads):
        dst = f"{ns.name(f'gnext_{states[k]}')}"
        nexts.append(dst)
        if r is None:
            continue
        if r.space is Space.GRAD and r.index not in targets and g.step[r.index].code is not GradCode.CONST:
            targets[r.index] = f"{dst}[t & 1]"
        else:
            copies.append(f"{dst}[t & 1].copy_({ref(r)})")
            copy_refs.append(r)
    after = [r for r in [*(r for _, r in g.invariant_grads), *copy_refs] if r.space in (Space.FWD, Space.GRAD)]
    ops.append((("sink", 0), [froot(r.index) if r.space is Space.FWD else ("g", r.index) for r in after]))
    lin.plan(ops)
    for n, (key, args) in enumerate(ops):
        kind, idx = cast("tuple[str, int]", key)
        if kind == "sink":
            continue
        if kind == "f":
            fi = instrs[idx]
            if fi.code is Code.DETACH:
                body.line(f"{pr.name[idx]} = {pr.fwd(fi.args[0])}")
                continue
            lin.release(n, args)
            dest = lin.scratch(key)
            line = pr.into(fi.code, [pr.fwd(a) for a in fi.args], [pr.is_lit(a) for a in fi.args], dest, idx)
            body.line(f"{pr.name[idx]} = {line}")
            continue
        gi = g.step[idx]
        if gi.code is GradCode.CONST:
            continue
        a = [ref(r) for r in gi.args]
        lits = [is_lit(r) for r in gi.args]
        if idx in targets:
            dest = targets[idx]
            lin.release(n, args)
        elif gi.code is GradCode.SPIKE_GRAD:  # the destination must not be g's buffer
            dest = lin.scratch(key)
            lin.release(n, args)
        else:
            lin.release(n, args)
            dest = lin.scratch(key)
        for line in _grad_stmt(pr, gi, a, lits, dest, gname[idx]):
            body.line(line)
    for line in copies:
        body.line(line)
    for i, r in g.invariant_grads:
        body.line(f"{acc[i]}.add_({ref(r)})")
    if nstate:
        news = [f"{nexts[k]}[t & 1]" if r is not None else "zero" for k, r in enumerate(g.state_grads)]
        body.line(f"{', '.join(carry)} = {', '.join(news)}")

    w.line("@staticmethod")
    w.line("@torch.autograd.function.once_differentiable")
    gargs = ["ctx", "g_out_seq", *g_last] + (["g_v_seq"] if rec is not None else [])
    with w.block(f"def backward({', '.join(gargs)}):"):
        w.line('"""BPTT with the derived step gradient (snndsl.ir.neuron_grad)."""')
        saves = (["x_seq"] if need_x else []) + (["out_seq"] if need_out else [])
        saves += list(seq.values()) + list(sseq.values()) + list(param_args.values())
        if saves:
            w.line(f"{', '.join(saves)}{',' if len(saves) == 1 else ''} = ctx.saved_tensors")
        w.line("sg = ctx.sg")
        w.line("store = ctx.store")
        w.line("T = g_out_seq.shape[0]")
        w.line("x0 = g_out_seq[0]")
        _invariant_block(w, pr, param_args)
        w.line("grad_x_seq = torch.zeros_like(g_out_seq)" if g.input_grad is None else "grad_x_seq = torch.empty_like(g_out_seq)")
        w.line("zero = torch.zeros_like(x0)")
        for k in range(nstate):
            w.line(f"{carry[k]} = {g_last[k]}")
            if g.state_grads[k] is not None:
                w.line(f"{nexts[k]} = (torch.empty_like(x0), torch.empty_like(x0))")
        for name in acc.values():  # per neuron in double, as the C kernel sums them
            w.line(f"{name} = torch.zeros_like(x0, dtype=torch.float64)")
        for name in pool.all:
            w.line(f"{name} = torch.empty_like(x0)")
        with w.block("for t in range(T - 1, -1, -1):"):
            w.extend(body)
        # after the loop: the params, from the invariant values' summed gradients
        for i, name in sums.items():
            w.line(f"{name} = {acc[i]}.sum().to(x0.dtype)")
        for j, gi in enumerate(g.final):
            if gi.code is GradCode.CONST:
                continue
            a = [ref(r, True) for r in gi.args]
            w.line(f"{fname[j]} = {_grad_expr(gi, a)}")
        pgrads = [ref(r, True) if r is not None else "None" for r in g.param_grads]
        out = ["None", "None", "grad_x_seq", *carry, *pgrads]
        w.line(f"return {', '.join(out)}")


def _grad_names(pr: _Printer, instrs: tuple[GradInstr, ...], prefix: str) -> list[str]:
    out = []
    for j, gi in enumerate(instrs):
        if gi.grad_of >= 0:
            base = f"{prefix}_{pr.name.get(gi.grad_of, 't' + str(gi.grad_of))}"
        else:
            base = f"d{j}" if prefix == "g" else f"df{j}"
        out.append(pr.ns.name(base))
    return out


def _grad_stmt(pr: _Printer, gi: GradInstr, a: list[str], lits: list[bool], dest: str, name: str) -> list[str]:
    c = gi.code
    if c in _GRAD_AS_CODE:
        return [f"{name} = {pr.into(_GRAD_AS_CODE[c], a, lits, dest)}"]
    if c is GradCode.SIGN:
        return [f"{name} = torch.sign({a[0]}, out={dest})"]
    if c in _CMP:
        fn = _CMP[c]
        x, y = a
        if lits[0]:
            fn, x, y = _FLIP[fn], y, x
        return [f"{name} = torch.{fn}({x}, {y}, out={dest})"]
    if c is GradCode.SPIKE_GRAD:  # dest = surrogate'(a) / scale, then times g and the scale
        return [f"scale = sg.derivative_into({a[1]}, {dest})", f"{name} = {dest}.mul_({a[0]}).mul_(scale)"]
    raise AssertionError(c)


def _grad_expr(gi: GradInstr, a: list[str]) -> str:
    """A final (0-dimensional) backward instruction as an expression."""
    c = gi.code
    ops = {GradCode.ADD: "+", GradCode.SUB: "-", GradCode.MUL: "*", GradCode.DIV: "/", GradCode.POW: "**"}
    if c in ops:
        return f"{a[0]} {ops[c]} {a[1]}"
    if c is GradCode.NEG:
        return f"-{a[0]}"
    if c is GradCode.LOG:
        return f"torch.log({a[0]})"
    if c is GradCode.SIGN:
        return f"torch.sign({a[0]})"
    if c in _CMP:
        fn, x, y = _CMP[c], a[0], a[1]
        if _is_literal(x):
            fn, x, y = _FLIP[fn], y, x
        return f"torch.{fn}({x}, {y}).to({x})"
    if c is GradCode.SPIKE_GRAD:
        return f"{a[0]} * sg.derivative({a[1]})"
    raise AssertionError(c)


def _is_literal(text: str) -> bool:
    return text[0].isdigit() or text.startswith(("(", "float("))


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def host_functions(pr: _Printer, inv_used: Sequence[int], acc: Sequence[int]) -> Writer:
    """The torch side of a kernel (C or Triton): ``invariants(sg, *params)``, the values
    of the invariant instructions ``inv_used`` the kernel reads (as ``Fused`` computes
    them, once per call), and ``param_grads(sg, *params, *sums)``, the params' gradients
    from the kernel's sums of the gradients of the invariant instructions ``acc`` (the
    derived final instructions)."""
    g, p = pr.grad, pr.p
    params = {n: _param_name(pr, n) for n, _ in p.params}
    sums = {i: pr.ns.name(f"sum_{pr.name.get(i, 't' + str(i))}") for i in acc}
    fname = [pr.ns.name(f"gf{j}") for j in range(len(g.final))]
    w = Writer()
    with w.block(f"def invariants({', '.join(['sg', *params.values()])}):"):
        w.line('"""The loop-invariant values the kernels read (torch, once per call)."""')
        _invariant_block(w, pr, params)
        w.line(f"return {_tuple([pr.fwd(i) for i in inv_used])}")
    w.line()
    w.line()

    def ref(r: Ref) -> str:
        if r.space is Space.FWD:
            return pr.fwd(r.index)
        if r.space is Space.ACC:
            return sums[r.index]
        gi = g.final[r.index]
        if gi.code is GradCode.CONST:
            return lit(gi.value)  # type: ignore[arg-type]
        return fname[r.index]

    with w.block(f"def param_grads({', '.join(['sg', *params.values(), *sums.values()])}):"):
        w.line('"""The params\' gradients from the summed gradients of the invariant values."""')
        _invariant_block(w, pr, params)
        for j, gi in enumerate(g.final):
            if gi.code is not GradCode.CONST:
                w.line(f"{fname[j]} = {_grad_expr(gi, [ref(r) for r in gi.args])}")
        grads = [ref(r) if r is not None else "None" for r in g.param_grads]
        w.line(f"return {_tuple(grads)}")
    return w
