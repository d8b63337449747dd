r"""A neuron program printed as a Triton module: the fused forward and BPTT kernels.

:func:`triton_source` prints, for one :class:`~snndsl.ir.neuron_program.NeuronProgram`,
the Python source of a module that :mod:`snndsl.runtime.kernels.program_triton` writes
to its cache and imports (``@triton.jit`` reads its functions' source from a file):

* ``forward_kernel``: one program per ``BLOCK`` neurons, the states in registers, the
  time loop inside: read ``x[t]`` (its step stride may be 0: one input for every step),
  evaluate the step instruction by instruction, write ``out[t]`` (and the recorded
  state's ``v_seq[t]`` when ``STORE``), save per step the values the derived backward
  reads (:attr:`~snndsl.ir.neuron_grad.StepGradient.saved`); the final states at the end;
* ``backward_kernel``: ``t = T-1..0`` with the gradients reaching the states in
  registers: the saved values loaded, the others recomputed
  (:attr:`~snndsl.ir.neuron_grad.StepGradient.recomputed`), the derived step gradient
  (:attr:`~snndsl.ir.neuron_grad.StepGradient.step`), ``grad_x[t]``; the initial states'
  gradients at the end, and per program one partial sum of each invariant value's
  gradient (the host adds them up in a fixed order: no atomics, deterministic);
* ``invariants`` and ``param_grads``: plain torch, printed by
  :mod:`snndsl.codegen.neuron_code`'s printer, so the loop-invariant values (``k =
  sigmoid(w)``) and the params' gradients from the summed invariant gradients
  (:attr:`~snndsl.ir.neuron_grad.StepGradient.final`) are the fused Function's own
  expressions; the kernels receive the invariant values as scalars.

Values live in float32 registers; every operation rounds its result to the tensor dtype
(``DT``) as PyTorch's elementwise kernels do (compute in float32, round to nearest
even), and floating-point contraction is disabled at launch, so the forward is the
fused PyTorch path's bit for bit wherever PyTorch's arithmetic is IEEE (add, sub, mul,
div, sqrt, min/max, comparisons). A number enters a kernel as a scalar argument
(``SCALARS``), prepared by the host as PyTorch would use it on the tensor's device
(:func:`snndsl.runtime.kernels.program_triton.scalar_values`):

====== ===================================================================
``dt`` rounded to the tensor dtype (add, sub, min/max, clamp bounds, pow, a scalar
       first operand of mul/div)
``mul`` a constant factor (``a * c``, ``c * a``, the ``c`` of ``c / a``), an invariant
       second factor or divisor: float32 on the CPU (PyTorch keeps such a scalar at
       float32 for half-precision tensors there), rounded to the dtype on CUDA
``div`` a constant divisor: float32 on the CPU (true division); on CUDA the float32
       reciprocal of the rounded value, and the kernel multiplies (what PyTorch's CUDA
       ``a / c`` computes)
``raw`` float32 (the backward's numbers)
====== ===================================================================

The operations follow :mod:`~snndsl.codegen.neuron_code`'s conventions: ``c / a`` is
``reciprocal(a) * c``, ``c - a`` is ``-a + c``, ``min``/``max`` propagate NaN,
``relu`` is ``max(a, 0)``, constant-only operations are folded in Python floats, the
invariants computed once per call in torch. ``a ** c`` with a constant ``c`` of
``0, 1, 2, 3, -1, -2, 0.5, -0.5`` is what PyTorch runs for it (products, a reciprocal,
``sqrt``; for half precision on CUDA PyTorch also rounds the inner product of ``a ** 3``
and ``a ** -2``, the kernels do not); other powers are ``exp2(b * log2(a))`` (sign by parity for negative ``a``
and an integral ``b``). Transcendentals are Triton's (``tl.exp``, ``tl.log``,
``tl.sigmoid``), ``tanh`` a series near 0 and ``(1 - e) / (1 + e)``, ``e = exp(-2|a|)``
beyond: within a few ulp of PyTorch's, not bit for bit. The surrogate derivative is the
shared :func:`snndsl.runtime.kernels.program_triton.surrogate_grad` (by number,
``surrogate.KERNEL_IDS``). The backward computes each operation in the dtype like
the fused Function, summing the invariants' gradients in float32.

Names in the kernels are positional (``f<instruction>``, ``s<state>``, ``g<backward
instruction>``, ``k<scalar>``), so no program name reaches them; the torch functions
take the checked state and param names of :mod:`~snndsl.codegen.neuron_code`. The text
depends only on the program. Importing this module registers :func:`triton_source`
with :mod:`snndsl.runtime.kernels.program_triton` (``import snndsl`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..ir.neuron_grad import GradCode, Ref, Space, StepGradient, derive
from ..ir.neuron_program import Code, NeuronProgram
from ..runtime.kernels import program_triton
from .neuron_code import _check_names, _Printer, _tuple, host_functions, lit
from .writer import Writer

__all__ = ["Scalar", "triton_source"]

_NAN = "propagate_nan=tl.PropagateNan.ALL"
_SCALARS = "<scalars>"  # where the signatures take k0, k1, ...
_CMP = {GradCode.GT: ">", GradCode.GE: ">=", GradCode.LT: "<", GradCode.LE: "<=", GradCode.EQ: "=="}


@dataclass(frozen=True)
class Scalar:
    """One scalar argument of the kernels: a number (``value``) or an invariant value
    (``invariant``: its position in ``INVARIANTS``), prepared by ``rule``."""

    rule: str  # "dt", "mul", "div" or "raw" (see the module docstring)
    value: float | None = None
    invariant: int = -1

    def text(self) -> str:
        value = "None" if self.value is None else lit(self.value)
        return f"({self.rule!r}, {value}, {self.invariant})"


class _Kernels:
    """The names, scalars and statements shared by both kernels of one program."""

    def __init__(self, program: NeuronProgram, grad: StepGradient):
        self.p = program
        self.g = grad
        self.instrs = program.instrs
        self.pr = _Printer(program, grad, {})
        self.folded = self.pr.folded
        self.invariant = set(grad.invariant)
        self.state_of = {n: k for k, (n, _) in enumerate(program.states)}
        self.scalars: list[Scalar] = []
        self.inv_used: list[int] = []

    # -- values ---------------------------------------------------------------------------
    def root(self, i: int) -> int:
        while self.instrs[i].code is Code.DETACH:
            i = self.instrs[i].args[0]
        return i

    def is_scalar(self, i: int) -> bool:
        return i in self.folded or i in self.invariant

    def fv(self, i: int) -> str:
        """A step value (a tensor of the block) by name."""
        i = self.root(i)
        ins = self.instrs[i]
        if ins.code is Code.INPUT:
            return "x"
        if ins.code is Code.STATE:
            return f"s{self.state_of[str(ins.value)]}"
        if self.is_scalar(i):
            raise AssertionError(f"{i} is not a step value")
        return f"f{i}"

    def scalar(self, rule: str, i: int) -> str:
        """The kernel argument holding the folded or invariant value ``i`` under ``rule``."""
        if i in self.folded:
            s = Scalar(rule, value=float(self.folded[i]))
        else:
            if i not in self.inv_used:
                self.inv_used.append(i)
            s = Scalar(rule, invariant=self.inv_used.index(i))
        return self.const(s)

    def const(self, s: Scalar) -> str:
        if s not in self.scalars:
            self.scalars.append(s)
        return f"k{self.scalars.index(s)}"

    def operand(self, i: int, rule: str) -> str:
        return self.scalar(rule, i) if self.is_scalar(i) else self.fv(i)

    def broadcast(self, i: int, rule: str = "dt") -> str:
        """A result (output, next state, saved value) as a block tensor."""
        return f"(zero + {self.scalar(rule, i)})" if self.is_scalar(i) else self.fv(i)

    # -- forward operations ------------------------------------------------------------------
    def forward_op(self, w: Writer, i: int) -> None:
        """``f<i> = ...``: instruction ``i``, rounded to ``DT`` where it can round."""
        ins = self.instrs[i]
        c, args = ins.code, ins.args
        name = f"f{i}"
        if c is Code.DETACH:
            return
        lits = [a in self.folded for a in args]
        if c in (Code.ADD, Code.SUB):
            a, b = (self.operand(j, "dt") for j in args)
            w.line(f"{name} = rnd({a} {'+' if c is Code.ADD else '-'} {b}, DT)")
        elif c is Code.MUL:
            rules = ["mul" if lits[0] else "dt", "mul"]
            if lits[0]:  # `c * a` runs as `a * c`
                a, b = self.fv(args[1]), self.operand(args[0], "mul")
            else:
                a, b = (self.operand(j, r) for j, r in zip(args, rules))
            w.line(f"{name} = rnd({a} * {b}, DT)")
        elif c is Code.DIV:
            self._div(w, name, args, lits)
        elif c is Code.POW:
            base = self.operand(args[0], "dt")
            if lits[1]:
                w.line(f"{name} = {self.pow_const(base, float(self.folded[args[1]]))}")
            else:
                w.line(f"{name} = rnd(pow_f32({base}, {self.operand(args[1], 'dt')}), DT)")
        elif c is Code.NEG:
            w.line(f"{name} = -{self.fv(args[0])}")
        elif c is Code.ABS:
            w.line(f"{name} = tl.abs({self.fv(args[0])})")
        elif c in (Code.EXP, Code.LOG, Code.SQRT, Code.TANH, Code.SIGMOID):
            fn = {
                Code.EXP: "tl.exp",
                Code.LOG: "tl.log",
                Code.SQRT: "tl.sqrt_rn",
                Code.TANH: "tanh_f32",
                Code.SIGMOID: "tl.sigmoid",
            }[c]
            w.line(f"{name} = rnd({fn}({self.fv(args[0])}), DT)")
        elif c is Code.RELU:
            w.line(f"{name} = tl.maximum({self.fv(args[0])}, 0.0, {_NAN})")
        elif c in (Code.MIN, Code.MAX):
            a, b = (self.operand(j, "dt") for j in args)
            w.line(f"{name} = tl.{'minimum' if c is Code.MIN else 'maximum'}({a}, {b}, {_NAN})")
        elif c is Code.CLAMP:
            a, lo, hi = self.fv(args[0]), self.operand(args[1], "dt"), self.operand(args[2], "dt")
            w.line(f"{name} = tl.minimum(tl.maximum({a}, {lo}, {_NAN}), {hi}, {_NAN})")
        elif c is Code.SPIKE:
            w.line(f"{name} = tl.where({self.fv(args[0])} >= 0.0, 1.0, 0.0)")
        else:
            raise AssertionError(f"{i}: {c} is not a step operation")

    def _div(self, w: Writer, name: str, args: tuple[int, ...], lits: list[bool]) -> None:
        a, b = args
        if lits[1]:  # a / c: CUDA multiplies by the reciprocal
            k = self.scalar("div", b)
            with w.block("if CUDA:"):
                w.line(f"{name} = rnd({self.fv(a)} * {k}, DT)")
            with w.block("else:"):
                w.line(f"{name} = rnd(tl.div_rn({self.fv(a)}, zero + {k}), DT)")
        elif lits[0]:  # c / a runs as reciprocal(a) * c
            w.line(
                f"{name} = rnd(rnd(tl.div_rn(zero + 1.0, {self.fv(b)}), DT) * {self.scalar('mul', a)}, DT)"
            )
        else:
            # tl.div_rn does not broadcast: a scalar operand is spread over the block
            x = self.operand(a, "dt")
            y = self.operand(b, "mul")
            x, y = (f"zero + {v}" if self.is_scalar(j) else v for v, j in ((x, a), (y, b)))
            w.line(f"{name} = rnd(tl.div_rn({x}, {y}), DT)")

    def pow_const(self, base: str, c: float, raw: bool = False) -> str:
        """``base ** c`` for a constant ``c`` as PyTorch computes it."""
        if c == 0.0:
            return "(zero + 1.0)"
        if c == 1.0:
            return base
        if c == 2.0:
            return f"rnd({base} * {base}, DT)"
        if c == 3.0:
            return f"rnd({base} * {base} * {base}, DT)"
        if c == -1.0:
            return f"rnd(tl.div_rn(zero + 1.0, {base}), DT)"
        if c == -2.0:
            return f"rnd(tl.div_rn(zero + 1.0, {base} * {base}), DT)"
        if c == 0.5:
            return f"rnd(tl.sqrt_rn({base}), DT)"
        if c == -0.5:
            return f"rnd(tl.div_rn(zero + 1.0, tl.sqrt_rn({base})), DT)"
        k = self.const(Scalar("raw" if raw else "dt", value=c))
        return f"rnd(pow_f32({base}, {k}), DT)"


def triton_source(program: NeuronProgram) -> str:
    """The Python source of the Triton module for ``program`` (see the module docstring)."""
    _check_names(program)
    grad = derive(program)
    kn = _Kernels(program, grad)
    fwd = _forward(kn)
    bwd = _backward(kn)
    torch_fns = _torch_functions(kn)
    p, g = program, grad
    names = [n for n, _ in p.states]
    w = Writer()
    w.line(
        f'"""Triton kernels of the neuron program {p.name!r}, generated by snndsl.codegen.neuron_triton."""'
    )
    w.line()
    w.line("import torch")
    w.line("import triton")
    w.line("import triton.language as tl")
    w.line()
    w.line("from snndsl.runtime.kernels.program_triton import pow_f32, rnd, surrogate_grad, tanh_f32")
    w.line()
    w.line(f"NAME = {p.name!r}")
    w.line(f"STATES = {tuple(names)!r}")
    w.line(f"PARAMS = {tuple(n for n, _ in p.params)!r}")
    w.line(f"RECORDED = {_recorded(p)!r}")
    w.line("#: the forward values saved per step (instruction indices)")
    w.line(f"SAVED = {tuple(g.saved)!r}")
    w.line("#: the invariant values the kernels read, in the order ``invariants`` returns them")
    w.line(f"INVARIANTS = {tuple(kn.inv_used)!r}")
    w.line(
        "#: the invariant values whose gradients the backward sums (one partial per program each)"
    )
    w.line(f"ACCUMULATED = {tuple(i for i, _ in g.invariant_grads)!r}")
    w.line("#: the kernels' scalar arguments k0, k1, ...: (rule, number, invariant position)")
    w.line(f"SCALARS = {_tuple([s.text() for s in kn.scalars])}")
    w.line(f"BACKWARD_READS_X = {bwd.reads_x!r}")
    w.line(f"BACKWARD_READS_OUT = {bwd.reads_out!r}")
    w.line()
    w.line()
    w.extend(torch_fns)
    w.line()
    w.line()
    w.extend(_with_scalars(fwd, kn))
    w.line()
    w.line()
    w.extend(_with_scalars(bwd.writer, kn))
    return w.text()


def _recorded(p: NeuronProgram) -> int | None:
    """The state ``store_v_seq`` records (``ProgramNode.recorded_state``): ``v``, else the first."""
    names = [n for n, _ in p.states]
    return names.index("v") if "v" in names else (0 if names else None)


def _forward(kn: _Kernels) -> Writer:
    p, g, instrs = kn.p, kn.g, kn.instrs
    nstate = len(p.states)
    live = kn.pr.live
    want = set(live)
    stack = list(g.saved)
    while stack:  # what the saved values are computed from (they are live anyway, as a rule)
        i = stack.pop()
        if i not in want:
            want.add(i)
            stack += instrs[i].args
    steps = [i for i in g.steps if i in want and instrs[i].code not in (Code.INPUT, Code.STATE)]
    has_x = any(ins.code is Code.INPUT for ins in instrs)
    body = Writer()
    for i in steps:
        if i not in kn.folded:
            kn.forward_op(body, i)
    out = kn.broadcast(p.output)
    news = [kn.broadcast(u) for _, u in p.updates]
    w = Writer()
    args = ["x_ptr", "out_ptr", "vseq_ptr"]
    args += [f"s{k}_ptr" for k in range(nstate)] + [f"final{k}_ptr" for k in range(nstate)]
    args += [f"saved{j}_ptr" for j in range(len(g.saved))]
    _kernel_head(w, "forward_kernel", args, ["M, T, X_STEP, STORE: tl.constexpr, CUDA: tl.constexpr, BLOCK: tl.constexpr,"])
    with _indented(w):
        w.line('"""All T steps of one block of neurons."""')
        w.line("offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)")
        w.line("mask = offs < M")
        w.line("DT = out_ptr.dtype.element_ty")
        w.line("zero = tl.zeros([BLOCK], dtype=tl.float32)")
        for k, (name, _) in enumerate(p.states):
            w.line(
                f"s{k} = tl.load(s{k}_ptr + offs, mask=mask, other=0.0).to(tl.float32)  # {name}"
            )
        with w.block("for t in range(T):"):
            if has_x:
                w.line(
                    "x = tl.load(x_ptr + t * X_STEP + offs, mask=mask, other=0.0).to(tl.float32)"
                )
            for j, i in enumerate(g.saved):
                if instrs[i].code is Code.STATE:
                    w.line(
                        f"tl.store(saved{j}_ptr + t * M + offs, s{kn.state_of[str(instrs[i].value)]}.to(DT), mask=mask)"
                    )
            w.extend(body)
            w.line(f"tl.store(out_ptr + t * M + offs, {out}.to(DT), mask=mask)")
            for j, i in enumerate(g.saved):
                if instrs[i].code is not Code.STATE:
                    w.line(
                        f"tl.store(saved{j}_ptr + t * M + offs, {kn.broadcast(i)}.to(DT), mask=mask)"
                    )
            for k, v in enumerate(news):
                w.line(f"n{k} = {v}")
            for k in range(nstate):
                w.line(f"s{k} = n{k}")
            rec = _recorded(p)
            if rec is not None:
                with w.block("if STORE:"):
                    w.line(f"tl.store(vseq_ptr + t * M + offs, s{rec}.to(DT), mask=mask)")
        for k in range(nstate):
            w.line(f"tl.store(final{k}_ptr + offs, s{k}.to(DT), mask=mask)")
    return w


def _kernel_head(w: Writer, name: str, args: list[str], tail: list[str]) -> None:
    """``@triton.jit`` and the signature of kernel ``name``: the pointers ``args``, the
    scalars, then the lines ``tail``."""
    w.line("@triton.jit")
    with w.block(f"def {name}("):
        w.line(", ".join(args) + ",")
        w.line(_SCALARS)
        for line in tail:
            w.line(line)
    w.line("):  # fmt: skip")


@contextmanager
def _indented(w: Writer) -> Iterator[None]:
    w.depth += 1
    try:
        yield
    finally:
        w.depth -= 1


def _with_scalars(w: Writer, kn: _Kernels) -> Writer:
    """The kernel with its scalar parameters (known once both bodies are printed) in
    its signature."""
    out = Writer()
    scalars = ", ".join(f"k{n}" for n in range(len(kn.scalars)))
    for line in w.lines:
        if line.strip() == _SCALARS:
            if scalars:
                out.lines.append(line.replace(_SCALARS, scalars + ","))
            continue
        out.lines.append(line)
    return out


@dataclass
class _Backward:
    writer: Writer
    reads_x: bool
    reads_out: bool


def _backward(kn: _Kernels) -> _Backward:
    p, g, instrs = kn.p, kn.g, kn.instrs
    nstate = len(p.states)
    rec = _recorded(p)
    step = g.step
    out_root = kn.root(p.output)

    def tensor_ref(r: Ref) -> bool:
        if r.space is Space.FWD:
            return not kn.is_scalar(r.index)
        if r.space is Space.GRAD:
            return gkind[r.index]
        return True

    gkind: list[bool] = []
    for gi in step:
        gkind.append(gi.code is not GradCode.CONST and any(tensor_ref(r) for r in gi.args))

    seeds = [f"gs{k}" for k in range(nstate)]
    if rec is not None:
        seeds[rec] = f"seed{rec}"
    uses_seed0 = False

    def ref(r: Ref) -> str:
        nonlocal uses_seed0
        if r.space is Space.FWD:
            return kn.scalar("raw", r.index) if kn.is_scalar(r.index) else kn.fv(r.index)
        if r.space is Space.SEED:
            if r.index == 0:
                uses_seed0 = True
                return "gout"
            return seeds[r.index - 1]
        if r.space is Space.GRAD:
            gi = step[r.index]
            if gi.code is GradCode.CONST:
                return kn.const(Scalar("raw", value=float(gi.value)))  # type: ignore[arg-type]
            return f"g{r.index}"
        raise AssertionError(r)

    def bc(r: Ref) -> str:
        return ref(r) if tensor_ref(r) else f"(zero + {ref(r)})"

    # the forward values the backward reads: loaded, or recomputed
    reads = {
        kn.root(r.index)
        for gi in step
        for r in gi.args
        if r.space is Space.FWD and not kn.is_scalar(r.index)
    }
    for i in g.recomputed:
        reads |= {kn.root(a) for a in instrs[i].args if not kn.is_scalar(a)}
    reads_x = any(instrs[i].code is Code.INPUT for i in reads)
    saved_set = {kn.root(i) for i in g.saved}
    recomputed = [i for i in g.recomputed if instrs[i].code is not Code.DETACH]
    saved_names = {instrs[i].value for i in g.saved if instrs[i].code is Code.STATE}
    out_ins = instrs[out_root]
    # the output is read from out[t] unless it is saved, recomputed or the input; a
    # state returned as the output (``return v``) is not saved as a rule: out[t] is it
    reads_out = (
        out_root in reads
        and out_root not in saved_set
        and out_root not in recomputed
        and out_ins.code is not Code.INPUT
        and not (out_ins.code is Code.STATE and out_ins.value in saved_names)
    )

    body = Writer()
    if rec is not None:
        body.line(f"seed{rec} = gs{rec}")
        with body.block("if STORE:"):
            body.line(
                f"seed{rec} = rnd(gs{rec} + tl.load(gvseq_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32), DT)"
            )
    if reads_x:
        body.line("x = tl.load(x_ptr + t * X_STEP + offs, mask=mask, other=0.0).to(tl.float32)")
    if reads_out:
        body.line(
            f"{kn.fv(out_root)} = tl.load(out_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)"
        )
    for j, i in enumerate(g.saved):
        body.line(
            f"{kn.fv(i)} = tl.load(saved{j}_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)"
        )
    for i in recomputed:
        kn.forward_op(body, i)
    for j, gi in enumerate(step):
        if gi.code is GradCode.CONST:
            continue
        a = [ref(r) for r in gi.args]
        kinds = [tensor_ref(r) for r in gi.args]
        bcs = [v if on or not any(kinds) else f"(zero + {v})" for v, on in zip(a, kinds)]
        name = f"g{j}"
        c = gi.code
        if c in (GradCode.ADD, GradCode.SUB, GradCode.MUL):
            op = {GradCode.ADD: "+", GradCode.SUB: "-", GradCode.MUL: "*"}[c]
            body.line(f"{name} = rnd({a[0]} {op} {a[1]}, DT)")
        elif c is GradCode.DIV:
            body.line(f"{name} = rnd(tl.div_rn({bcs[0]}, {bcs[1]}), DT)")
        elif c is GradCode.NEG:
            body.line(f"{name} = -{a[0]}")
        elif c is GradCode.LOG:
            body.line(f"{name} = rnd(tl.log({a[0]}), DT)")
        elif c is GradCode.SIGN:
            body.line(f"{name} = tl.where({a[0]} > 0.0, 1.0, tl.where({a[0]} < 0.0, -1.0, 0.0))")
        elif c in _CMP:
            body.line(f"{name} = tl.where({a[0]} {_CMP[c]} {a[1]}, 1.0, 0.0)")
        elif c is GradCode.POW:
            e = gi.args[1]
            if e.space is Space.GRAD and step[e.index].code is GradCode.CONST:
                body.line(f"{name} = {kn.pow_const(a[0], float(step[e.index].value), raw=True)}")  # type: ignore[arg-type]
            else:
                body.line(f"{name} = rnd(pow_f32({a[0]}, {a[1]}), DT)")
        elif c is GradCode.SPIKE_GRAD:
            body.line(f"{name} = rnd({a[0]} * surrogate_grad({a[1]}, SG, sg_a, sg_b), DT)")
        else:
            raise AssertionError(c)
    if g.input_grad is not None:
        body.line(f"tl.store(gx_ptr + t * M + offs, {bc(g.input_grad)}.to(DT), mask=mask)")
    else:
        body.line("tl.store(gx_ptr + t * M + offs, zero.to(DT), mask=mask)")
    for n, (_, contribution) in enumerate(g.invariant_grads):
        body.line(f"acc{n} += {bc(contribution)}")
    for k, state_grad in enumerate(g.state_grads):
        body.line(f"n{k} = {bc(state_grad) if state_grad is not None else 'zero'}")
    for k in range(nstate):
        body.line(f"gs{k} = n{k}")

    w = Writer()
    args = ["gout_ptr", *[f"glast{k}_ptr" for k in range(nstate)], "gvseq_ptr", "x_ptr", "out_ptr"]
    args += [f"saved{j}_ptr" for j in range(len(g.saved))]
    args += ["gx_ptr", *[f"gs{k}_ptr" for k in range(nstate)], "part_ptr"]
    _kernel_head(w, "backward_kernel", args, [
        "sg_a, sg_b, M, T, X_STEP,",
        "SG: tl.constexpr, STORE: tl.constexpr, CUDA: tl.constexpr, BLOCK: tl.constexpr,",
    ])
    with _indented(w):
        w.line('"""BPTT over all T steps of one block of neurons (the derived step gradient)."""')
        w.line("pid = tl.program_id(0)")
        w.line("offs = pid * BLOCK + tl.arange(0, BLOCK)")
        w.line("mask = offs < M")
        w.line("DT = gx_ptr.dtype.element_ty")
        w.line("zero = tl.zeros([BLOCK], dtype=tl.float32)")
        for k, (name, _) in enumerate(p.states):
            w.line(
                f"gs{k} = tl.load(glast{k}_ptr + offs, mask=mask, other=0.0).to(tl.float32)  # {name}"
            )
        for n in range(len(g.invariant_grads)):
            w.line(f"acc{n} = tl.zeros([BLOCK], dtype=tl.float32)")
        with w.block("for i in range(T):"):
            w.line("t = T - 1 - i")
            if uses_seed0:
                w.line(
                    "gout = tl.load(gout_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)"
                )
            w.extend(body)
        for k in range(nstate):
            w.line(f"tl.store(gs{k}_ptr + offs, gs{k}.to(DT), mask=mask)")
        for n in range(len(g.invariant_grads)):
            w.line(
                f"tl.store(part_ptr + {n} * tl.num_programs(0) + pid, tl.sum(tl.where(mask, acc{n}, 0.0), axis=0))"
            )
    return _Backward(w, reads_x, reads_out)


def _torch_functions(kn: _Kernels) -> Writer:
    """``invariants(sg, *params)`` and ``param_grads(sg, *params, *sums)`` in torch."""
    return host_functions(kn.pr, kn.inv_used, [i for i, _ in kn.g.invariant_grads])


# the runtime runs these kernels but does not import the code generator: it is told here
program_triton.register_source(triton_source)
