r"""A neuron program printed as its C CPU kernel: the fused forward and the BPTT backward.

:func:`c_source` prints, from the program's expression DAG and its derived step gradient
(:mod:`snndsl.ir.neuron_grad`), one C file with two instantiations, ``_f32`` (float)
and ``_f64`` (double), of

* ``snn_prog_forward``: neurons ``[begin, end)`` in blocks of ``blk`` (the first cut short
  so that the others start ``x``'s rows at a multiple of ``blk`` elements); each block's
  states stay in cache (in the final-state arrays) while the time loop streams the input
  and writes the output (and ``v_seq``), prefetching the next step's rows of both; the
  inner loop runs across the block's neurons, one local per instruction, so the compiler
  vectorises it;
* ``snn_prog_backward``: per block, the forward again over all steps into block-local
  buffers of the values the derived backward reads (the step gradient's ``saved`` set;
  the rest is recomputed from them per step) and of the surrogate derivatives at each
  ``spike``'s argument (``surrogates.h``, one loop per step with the switch outside),
  then BPTT in reverse time with the derived step instructions (each pass prefetching
  the row it reads next into L2, ``SNN_PREFETCH_ROW``); the gradients of the
  loop-invariant values are summed per element and then, per call, in double;
* the same two over ``threads`` OpenMP threads (``#pragma omp parallel for`` over
  neuron chunks) when built with ``-fopenmp``.

:func:`host_source` prints the Python side: ``invariants(sg, *params)`` (the
loop-invariant values, e.g. PLIF's ``k = sigmoid(w)``, computed in torch exactly as the
generated ``Fused`` computes them, passed to C as doubles) and
``param_grads(sg, *params, *sums)`` (the derived final instructions in torch).

Bit-exactness. Each instruction is evaluated as the torch op of the ``Fused`` path
(:mod:`snndsl.codegen.neuron_code`) evaluates it, in the tensor's type, with no
reassociation and no contraction (``-ffp-contract=off``): a constant is the double
value cast to the type (printed as an exact hex literal); ``c / a`` is ``(1 / a) * c``;
``pow`` with a constant exponent takes torch's special cases (0, 1, 2, 3, 0.5, -0.5, -1,
-2), else ``powf``; ``min``/``max`` of two run-time values propagate NaN as
``torch.minimum``/``maximum`` do; a constant bound is ``clamp_min``/``clamp_max``;
``relu`` is ``clamp_min(a, 0)``; ``spike`` is ``a >= 0``. Add, subtract, multiply,
divide, ``sqrt`` and comparisons are correctly rounded in both, so a program built of
them (IF, LIF, PLIF with its torch-computed ``k``, KLIF, Izhikevich, CubaLIF, LI) gives
the step's spikes and states bit for bit. ``exp``, ``log``, ``tanh``, ``sigmoid`` and
non-special ``pow`` per step use libm, which can differ from torch's vectorised
versions by an ulp. The backward is within rounding of the torch backward (the
surrogates' float ``exp`` is a polynomial of about 1 ulp).

Nothing of the program's text reaches the C source but numbers (hex literals) and the
checked state names in comments; the same program always gives the same bytes, hence
the same cache file (:mod:`snndsl.runtime.kernels.build`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..ir.neuron_grad import GradCode, GradInstr, Ref, Space, StepGradient, derive
from ..ir.neuron_program import Code, NeuronProgram
from ..runtime.kernels import program_native
from .neuron_code import _check_names, _fold, _Printer, host_functions
from .writer import Writer

__all__ = ["CLayout", "c_source", "host_source", "layout"]

_TYPES = (("float", "f32"), ("double", "f64"))
_MATH = {
    "float": {Code.EXP: "expf", Code.LOG: "logf", Code.SQRT: "sqrtf", Code.ABS: "fabsf", Code.TANH: "tanhf", Code.POW: "powf"},
    "double": {Code.EXP: "exp", Code.LOG: "log", Code.SQRT: "sqrt", Code.ABS: "fabs", Code.TANH: "tanh", Code.POW: "pow"},
}
_GRAD_AS_CODE = {
    GradCode.ADD: Code.ADD, GradCode.SUB: Code.SUB, GradCode.MUL: Code.MUL, GradCode.DIV: Code.DIV,
    GradCode.POW: Code.POW, GradCode.NEG: Code.NEG, GradCode.LOG: Code.LOG,
}
#: constant exponents torch.pow evaluates with exact operations (and C the same way)
_EXACT_POW = (0.0, 1.0, 2.0, 3.0, 0.5, -0.5, -1.0, -2.0)
_CMP = {GradCode.GT: ">", GradCode.GE: ">=", GradCode.LT: "<", GradCode.LE: "<=", GradCode.EQ: "=="}


@dataclass(frozen=True)
class CLayout:
    """What the Python side passes to and reads from the kernel of one program."""

    states: tuple[str, ...]
    inv_used: tuple[int, ...]  # invariant instructions passed as ``inv[]``, in order
    accumulated: tuple[int, ...]  # invariant instructions whose gradients come back summed
    saved: tuple[int, ...]  # values the backward's block buffers hold per step
    spikes: int  # surrogate derivatives the backward's block buffers hold per step
    recorded: int | None  # the state ``v_seq`` records
    has_spike: bool
    #: no per-step libm transcendental: the forward is the torch step's bit for bit
    exact: bool


@contextmanager
def _cblock(w: Writer, header: str) -> Iterator[None]:
    """A C block: ``header`` (ending in ``{``), the indented body, ``}``."""
    with w.block(header):
        yield
    w.line("}")


def _clit(v: float, ty: str) -> str:
    """A float constant: the double value cast to ``ty`` (exact hex literal)."""
    v = float(v)
    if math.isnan(v):
        return f"(({ty})NAN)"
    if math.isinf(v):
        return f"(({ty})INFINITY)" if v > 0 else f"(-({ty})INFINITY)"
    return f"(({ty}){v.hex()})"


class _Plan:
    """The program's values and the forward/backward schedule shared by both types."""

    def __init__(self, program: NeuronProgram):
        _check_names(program)
        self.p = program
        self.g: StepGradient = derive(program)
        self.instrs = program.instrs
        self.folded = _fold(program)
        self.invariant = set(self.g.invariant)
        live = {program.output, *(u for _, u in program.updates)}
        for i in range(len(self.instrs) - 1, -1, -1):
            if i in live:
                live |= set(self.instrs[i].args)
        self.live = live
        self.snames = [n for n, _ in program.states]
        self.rec = self.snames.index("v") if "v" in self.snames else (0 if self.snames else None)
        self.steps = [i for i in self.g.steps if i in live]
        self.inputs = {i for i, ins in enumerate(self.instrs) if ins.code is Code.INPUT}
        # backward: the FWD values the step gradient reads
        spike_args: list[int] = []
        other: set[int] = set()
        for gi in self.g.step:
            for k, r in enumerate(gi.args):
                if r.space is not Space.FWD:
                    continue
                if gi.code is GradCode.SPIKE_GRAD and k == 1:
                    if self.root(r.index) not in spike_args:
                        spike_args.append(self.root(r.index))
                else:
                    other.add(r.index)
        self.spike_args = spike_args
        # the surrogate derivatives are computed in the recompute pass (all values at hand)
        self.saved, self.recomputed = self._recompute_plan(sorted(other))
        used: set[int] = set()
        for i in self.steps:
            used |= {self.root(a) for a in self.instrs[i].args}
        used |= {self.root(u) for _, u in program.updates} | {self.root(program.output)}
        for gi in self.g.step:
            used |= {self.root(r.index) for r in gi.args if r.space is Space.FWD}
        self.inv_used = tuple(sorted(i for i in used if i in self.invariant and i not in self.folded))
        self.acc = tuple(i for i, _ in self.g.invariant_grads)

    def root(self, i: int) -> int:
        while self.instrs[i].code is Code.DETACH:
            i = self.instrs[i].args[0]
        return i

    def _available(self, i: int) -> bool:
        return i in self.folded or i in self.invariant or i in self.inputs

    def _recompute_plan(self, needed: list[int]) -> tuple[list[int], list[int]]:
        """The values to buffer per step and those recomputed from them, in order: the
        step gradient's choice, plus any needed value (the output) it leaves to ``Fused``'s
        saved tensors."""
        saved = [self.root(i) for i in self.g.saved]
        saved = list(dict.fromkeys(s for s in saved if not self._available(s)))
        while True:
            have = set(saved)
            ops: list[int] = []
            for i, ins in enumerate(self.instrs):
                if self._available(i) or i in have or ins.code in (Code.STATE, Code.INPUT):
                    continue
                if all(self._available(a) or a in have for a in ins.args):
                    have.add(i)
                    ops.append(i)
            missing = [n for n in needed if not self._available(n) and n not in have]
            if not missing:
                break
            saved.append(self.root(missing[0]))
        return saved, self._needs(ops, needed)

    def _needs(self, ops: list[int], targets: list[int]) -> list[int]:
        """The instructions of ``ops`` that ``targets`` depend on, in order."""
        want: set[int] = set()
        stack = [t for t in targets if t in ops]
        opset = set(ops)
        while stack:
            n = stack.pop()
            if n in want:
                continue
            want.add(n)
            stack += [a for a in self.instrs[n].args if a in opset]
        return [i for i in ops if i in want]

    def layout(self) -> CLayout:
        return CLayout(tuple(self.snames), self.inv_used, self.acc, tuple(self.saved), len(self.spike_args), self.rec,
                       any(ins.code is Code.SPIKE for ins in self.instrs), self.exact())

    def exact(self) -> bool:
        """Whether every per-step operation is one C evaluates as torch does, bit for bit
        (no ``exp``/``log``/``tanh``/``sigmoid``, no ``pow`` outside torch's special cases)."""
        for i in self.steps:
            ins = self.instrs[i]
            if ins.code in (Code.EXP, Code.LOG, Code.TANH, Code.SIGMOID):
                return False
            if ins.code is Code.POW:
                base, expo = (self.folded.get(a) for a in ins.args)
                if base != 1.0 and expo not in _EXACT_POW:
                    return False
        return True


class _Emit:
    """C text of one instantiation (``ty`` float or double)."""

    def __init__(self, plan: _Plan, ty: str, suffix: str):
        self.pl, self.ty, self.suf = plan, ty, suffix
        self.math = _MATH[ty]

    # -- operands --------------------------------------------------------------------
    def val(self, i: int) -> str:
        pl = self.pl
        if i in pl.folded:
            return _clit(pl.folded[i], self.ty)
        i = pl.root(i)
        if i in pl.folded:
            return _clit(pl.folded[i], self.ty)
        if i in pl.invariant:
            return f"c{i}"
        return f"v{i}"

    def op(self, code: Code, a: list[str], consts: list[float | None], args: tuple[int, ...] = ()) -> str:
        """``code`` on operands ``a`` (``consts``: each operand's value when it is a
        constant), as the ``Fused`` path's torch op computes it."""
        ty, m = self.ty, self.math
        one, zero = f"(({ty})1)", f"(({ty})0)"
        if code is Code.ADD:
            return f"{a[0]} + {a[1]}"
        if code is Code.SUB:
            return f"{a[0]} - {a[1]}"  # c - a == -a + c exactly
        if code is Code.MUL:
            return f"{a[0]} * {a[1]}"
        if code is Code.DIV:
            return f"({one} / {a[1]}) * {a[0]}" if consts[0] is not None else f"{a[0]} / {a[1]}"
        if code is Code.POW:
            c = consts[1]
            if c is not None and not math.isnan(c):
                special = {0.0: one, 1.0: a[0], 2.0: f"{a[0]} * {a[0]}", 3.0: f"{a[0]} * {a[0]} * {a[0]}",
                           0.5: f"{m[Code.SQRT]}({a[0]})", -0.5: f"{one} / {m[Code.SQRT]}({a[0]})",
                           -1.0: f"{one} / {a[0]}", -2.0: f"{one} / ({a[0]} * {a[0]})"}
                if c in special:
                    return special[c]
            if consts[0] == 1.0:
                return one
            return f"{m[Code.POW]}({a[0]}, {a[1]})"
        if code is Code.NEG:
            return f"-{a[0]}"
        if code in (Code.EXP, Code.LOG, Code.SQRT, Code.ABS, Code.TANH):
            return f"{m[code]}({a[0]})"
        if code is Code.SIGMOID:
            return f"{one} / ({one} + {m[Code.EXP]}(-{a[0]}))"
        if code is Code.RELU:
            return f"({a[0]} < {zero} ? {zero} : {a[0]})"
        if code in (Code.MIN, Code.MAX):
            lt = "<" if code is Code.MIN else ">"
            if consts[0] is not None or consts[1] is not None:  # clamp_max / clamp_min
                t, bound, cv = (a[1], a[0], consts[0]) if consts[0] is not None else (a[0], a[1], consts[1])
                if cv is not None and math.isnan(cv):
                    return bound
                gt = ">" if code is Code.MIN else "<"
                return f"({t} {gt} {bound} ? {bound} : {t})"
            x, y = a
            return f"(({x} != {x} || {y} != {y}) ? {x} + {y} : ({x} {lt} {y} ? {x} : {y}))"
        if code is Code.CLAMP:
            if any(c is not None and math.isnan(c) for c in consts[1:]):
                return f"(({ty})NAN)"
            lo, hi = a[1], a[2]
            inner = f"({a[0]} < {lo} ? {lo} : {a[0]})"
            return f"({inner} > {hi} ? {hi} : {inner})"
        if code is Code.SPIKE:
            return f"({a[0]} >= {zero} ? {one} : {zero})"
        raise AssertionError(code)

    def fwd_line(self, i: int) -> str:
        pl = self.pl
        ins = pl.instrs[i]
        if ins.code is Code.DETACH:
            return ""
        a = [self.val(j) for j in ins.args]
        consts = [pl.folded.get(j) for j in ins.args]
        return f"const {self.ty} v{i} = {self.op(ins.code, a, consts, ins.args)};"

    # -- the forward step ---------------------------------------------------------------
    def step_body(self, w: Writer, x: str, states: list[str]) -> None:
        """Loads (input, states) and the live step instructions, for neuron ``i``."""
        pl = self.pl
        for i in pl.steps:
            ins = pl.instrs[i]
            if ins.code is Code.INPUT:
                w.line(f"const {self.ty} v{i} = {x}[i];")
            elif ins.code is Code.STATE:
                w.line(f"const {self.ty} v{i} = {states[pl.snames.index(str(ins.value))]}[i];")
            elif (line := self.fwd_line(i)):
                w.line(line)

    def state_writes(self, w: Writer, states: list[str]) -> None:
        for k, (_, u) in enumerate(self.pl.p.updates):
            w.line(f"{states[k]}[i] = {self.val(u)}; /* {self.pl.snames[k]} */")

    def header(self, w: Writer, backward: bool) -> None:
        for i in self.pl.inv_used:
            w.line(f"const {self.ty} c{i} = ({self.ty})inv[{self.pl.inv_used.index(i)}];")
        if backward:
            w.line(f"const {self.ty} sga = ({self.ty})sg_a, sgb = ({self.ty})sg_b;")
            w.line("(void)sga; (void)sgb; (void)sg_id;")
        w.line("(void)inv; (void)x; (void)xs;")

    def block_size(self, w: Writer) -> None:
        """``n``: the block's neurons, up to ``blk``, the first one cut short so that the
        others start ``x``'s rows at a multiple of ``blk`` elements: a torch tensor starts
        64 bytes into a page, and blocks from it would have every row of 1,024 floats cross
        a page (two pages' translations, the hardware prefetcher stopping at the
        boundary): 15-25 % of the time at [16, 262144] float32 (bench/README.md)."""
        w.line(f"n = blk - (int64_t)((uintptr_t)(x + b0) / sizeof({self.ty}) % (uintptr_t)blk);")
        w.line("n = end - b0 < n ? end - b0 : n;")

    def init_states(self, w: Writer, states: list[str]) -> None:
        for k in range(len(self.pl.snames)):
            with w.block(f"if (s0[{k}])"):
                w.line(f"memcpy({states[k]}, s0[{k}] + b0, (size_t)n * sizeof({self.ty}));")
            w.line(f"else for (int64_t i = 0; i < n; i++) {states[k]}[i] = ({self.ty})fill[{k}];")

    def forward(self, w: Writer) -> None:
        pl, ty, suf = self.pl, self.ty, self.suf
        ns = len(pl.snames)
        states = [f"st{k}" for k in range(ns)]
        w.line(f"void snn_prog_forward_{suf}(int64_t nT, int64_t M, int64_t begin, int64_t end, int64_t blk,")
        w.line(f"        const {ty} *x, int64_t xs, const {ty} *const *s0, const double *fill, const double *inv,")
        with _cblock(w, f"        {ty} *out, {ty} *const *fin, {ty} *vseq) {{"):
            self.header(w, False)
            w.line("(void)s0; (void)fill; (void)fin; (void)vseq;")
            with _cblock(w, "for (int64_t b0 = begin, n = 0; b0 < end; b0 += n) {"):
                self.block_size(w)
                for k in range(ns):
                    w.line(f"{ty} *restrict {states[k]} = fin[{k}] + b0;")
                self.init_states(w, states)
                with _cblock(w, "for (int64_t t = 0; t < nT; t++) {"):
                    w.line(f"const {ty} *restrict xt = x + t * xs + b0;")
                    w.line(f"{ty} *restrict ot = out + t * M + b0;")
                    w.line("(void)xt;")
                    # the next step's rows of x and of the output (read: the line comes in
                    # exclusive, and the store needs no second request), into L2
                    w.line("if (t + 1 < nT) { SNN_PREFETCH_ROW(xt + xs, n); SNN_PREFETCH_ROW(ot + M, n); }")
                    with _cblock(w, "for (int64_t i = 0; i < n; i++) {"):
                        self.step_body(w, "xt", states)
                        w.line(f"ot[i] = {self.val(pl.p.output)};")
                        self.state_writes(w, states)
                    if pl.rec is not None:
                        w.line(f"if (vseq) memcpy(vseq + t * M + b0, {states[pl.rec]}, (size_t)n * sizeof({ty}));")

    # -- the backward -------------------------------------------------------------------
    def backward(self, w: Writer) -> None:
        pl, ty, suf, g = self.pl, self.ty, self.suf, self.pl.g
        ns = len(pl.snames)
        nacc, nsp, nsv = len(pl.acc), len(pl.spike_args), len(pl.saved)
        states = [f"st{k}" for k in range(ns)]
        carry = [f"carry{k}" for k in range(ns)]
        w.line(f"int32_t snn_prog_backward_{suf}(int64_t nT, int64_t M, int64_t begin, int64_t end, int64_t blk,")
        w.line(f"        const {ty} *x, int64_t xs, const {ty} *const *s0, const double *fill, const double *inv,")
        w.line(f"        int32_t sg_id, double sg_a, double sg_b, const {ty} *gout, const {ty} *const *glast,")
        with _cblock(w, f"        const {ty} *gvseq, {ty} *gx, {ty} *const *gs0, double *sums) {{"):
            self.header(w, True)
            w.line("(void)s0; (void)fill; (void)glast; (void)gvseq; (void)gs0; (void)sums;")
            per = f"(size_t)blk * (size_t)({2 * ns + nacc} + {nsv + nsp} * nT)"
            w.line(f"{ty} *work = aligned_alloc(64, ({per} * sizeof({ty}) + 64) / 64 * 64);")
            w.line("if (!work) return 1;")
            for j in range(nacc):
                w.line(f"double sum{j} = 0.0;")
            with _cblock(w, "for (int64_t b0 = begin, n = 0; b0 < end; b0 += n) {"):
                self.block_size(w)
                w.line(f"{ty} *wp = work;")
                for names in (states, carry, [f"acc{j}" for j in range(nacc)]):
                    for nm in names:
                        w.line(f"{ty} *restrict {nm} = wp; wp += blk;")
                for nm in [f"sv{j}" for j in range(nsv)] + [f"dsg{k}" for k in range(nsp)]:
                    w.line(f"{ty} *restrict {nm} = wp; wp += blk * nT;")
                # the forward again, into the block buffers
                self.init_states(w, states)
                with _cblock(w, "for (int64_t t = 0; t < nT; t++) {"):
                    w.line(f"const {ty} *restrict xt = x + t * xs + b0;")
                    w.line("(void)xt;")
                    # the next step's row, and at the last step BPTT's first row of gout
                    w.line("if (t + 1 < nT) SNN_PREFETCH_ROW(xt + xs, n);")
                    w.line("else SNN_PREFETCH_ROW(gout + (nT - 1) * M + b0, n);")
                    with _cblock(w, "for (int64_t i = 0; i < n; i++) {"):
                        self.step_body(w, "xt", states)
                        for j, s in enumerate(pl.saved):
                            w.line(f"sv{j}[t * n + i] = v{s};")
                        for k, a in enumerate(pl.spike_args):
                            w.line(f"dsg{k}[t * n + i] = {self.val(a)};")
                        self.state_writes(w, states)
                    for k in range(nsp):  # the spike arguments -> the surrogate derivatives, in place
                        w.line(f"SNN_SURROGATE_LOOP({ty}, {suf}, sg_id, n, dsg{k}[t * n + i], dsg{k}[t * n + i], sga, sgb)")
                # BPTT
                for k in range(ns):
                    w.line(f"if (glast[{k}]) memcpy({carry[k]}, glast[{k}] + b0, (size_t)n * sizeof({ty}));")
                    w.line(f"else for (int64_t i = 0; i < n; i++) {carry[k]}[i] = 0;")
                for j in range(nacc):
                    w.line(f"for (int64_t i = 0; i < n; i++) acc{j}[i] = 0;")
                with _cblock(w, "for (int64_t t = nT - 1; t >= 0; t--) {"):
                    w.line(f"const {ty} *restrict xt = x + t * xs + b0;")
                    w.line(f"const {ty} *restrict got = gout + t * M + b0;")
                    w.line(f"{ty} *restrict gxt = gx + t * M + b0;")
                    w.line("(void)xt; (void)got;")
                    # the previous step's row of gout, and at step 0 the next block's first row of x
                    w.line("if (t > 0) SNN_PREFETCH_ROW(got - M, n);")
                    w.line("else if (b0 + n < end) SNN_PREFETCH_ROW(x + b0 + n, end - b0 - n < blk ? end - b0 - n : blk);")
                    if pl.rec is not None:
                        w.line(f"if (gvseq) for (int64_t i = 0; i < n; i++) "
                               f"{carry[pl.rec]}[i] = {carry[pl.rec]}[i] + gvseq[t * M + b0 + i];")
                    with _cblock(w, "for (int64_t i = 0; i < n; i++) {"):
                        self.loads(w, pl.recomputed)
                        self.grad_body(w, carry)
                for k in range(ns):
                    w.line(f"if (gs0[{k}]) memcpy(gs0[{k}] + b0, {carry[k]}, (size_t)n * sizeof({ty}));")
                for j in range(nacc):
                    w.line(f"for (int64_t i = 0; i < n; i++) sum{j} += (double)acc{j}[i];")
            for j in range(nacc):
                w.line(f"sums[{j}] = sum{j};")
            w.line("free(work);")
            w.line("return 0;")
        del g

    def loads(self, w: Writer, recompute: list[int]) -> None:
        """Neuron ``i``'s buffered values at step ``t``, the input, and ``recompute``."""
        pl = self.pl
        for i in sorted(pl.inputs):
            w.line(f"const {self.ty} v{i} = xt[i]; (void)v{i};")
        for j, s in enumerate(pl.saved):
            w.line(f"const {self.ty} v{s} = sv{j}[t * n + i];")
        for i in recompute:
            if (line := self.fwd_line(i)):
                w.line(line)

    def grad_body(self, w: Writer, carry: list[str]) -> None:
        pl, g, ty = self.pl, self.pl.g, self.ty

        def ref(r: Ref) -> str:
            if r.space is Space.FWD:
                return self.val(r.index)
            if r.space is Space.SEED:  # read once, before the carries are overwritten
                return f"e{r.index}"
            gi = g.step[r.index]
            if gi.code is GradCode.CONST:
                return _clit(float(gi.value), ty)  # type: ignore[arg-type]
            return f"d{r.index}"

        def const_of(r: Ref) -> float | None:
            if r.space is Space.FWD:
                return pl.folded.get(pl.root(r.index))
            if r.space is Space.GRAD and g.step[r.index].code is GradCode.CONST:
                return float(g.step[r.index].value)  # type: ignore[arg-type]
            return None

        w.line(f"const {ty} e0 = got[i]; (void)e0;")
        for k, name in enumerate(carry):
            w.line(f"const {ty} e{k + 1} = {name}[i]; (void)e{k + 1};")
        for j, gi in enumerate(g.step):
            if gi.code is GradCode.CONST:
                continue
            w.line(f"const {ty} d{j} = {self._grad_op(gi, [ref(r) for r in gi.args], [const_of(r) for r in gi.args])};")
        w.line(f"gxt[i] = {ref(g.input_grad) if g.input_grad is not None else '0'};")
        for k, r in enumerate(g.state_grads):
            w.line(f"{carry[k]}[i] = {ref(r) if r is not None else '0'};")
        for j, (_, r) in enumerate(g.invariant_grads):
            w.line(f"acc{j}[i] = acc{j}[i] + {ref(r)};")

    def _grad_op(self, gi: GradInstr, a: list[str], consts: list[float | None]) -> str:
        c = gi.code
        if c in _GRAD_AS_CODE:
            return self.op(_GRAD_AS_CODE[c], a, consts)
        if c is GradCode.SIGN:
            return f"({self.ty})(({a[0]} > 0) - ({a[0]} < 0))"
        if c in _CMP:
            return f"({a[0]} {_CMP[c]} {a[1]} ? (({self.ty})1) : (({self.ty})0))"
        if c is GradCode.SPIKE_GRAD:
            k = self.pl.spike_args.index(self.pl.root(gi.args[1].index))
            return f"{a[0]} * dsg{k}[t * n + i]"
        raise AssertionError(c)

    def parallel(self, w: Writer) -> None:
        ty, suf = self.ty, self.suf
        w.line(f"void snn_prog_forward_parallel_{suf}(int32_t threads, int64_t nT, int64_t M, int64_t blk,")
        w.line(f"        const {ty} *x, int64_t xs, const {ty} *const *s0, const double *fill, const double *inv,")
        with _cblock(w, f"        {ty} *out, {ty} *const *fin, {ty} *vseq) {{"):
            w.line("const int64_t per = chunk_of(M, threads), chunks = (M + per - 1) / per;")
            w.line("#pragma omp parallel for num_threads(threads) schedule(static, 1)")
            with _cblock(w, "for (int64_t c = 0; c < chunks; c++) {"):
                w.line("const int64_t b1 = (c + 1) * per < M ? (c + 1) * per : M;")
                w.line(f"snn_prog_forward_{suf}(nT, M, c * per, b1, blk, x, xs, s0, fill, inv, out, fin, vseq);")
        w.line()
        w.line("/* sums: NACC doubles per chunk, summed by the caller in chunk order. */")
        w.line(f"int32_t snn_prog_backward_parallel_{suf}(int32_t threads, int64_t nT, int64_t M, int64_t blk,")
        w.line(f"        const {ty} *x, int64_t xs, const {ty} *const *s0, const double *fill, const double *inv,")
        w.line(f"        int32_t sg_id, double sg_a, double sg_b, const {ty} *gout, const {ty} *const *glast,")
        with _cblock(w, f"        const {ty} *gvseq, {ty} *gx, {ty} *const *gs0, double *sums) {{"):
            w.line("const int64_t per = chunk_of(M, threads), chunks = (M + per - 1) / per;")
            w.line("int32_t status = 0;")
            w.line("#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(|:status)")
            with _cblock(w, "for (int64_t c = 0; c < chunks; c++) {"):
                w.line("const int64_t b1 = (c + 1) * per < M ? (c + 1) * per : M;")
                w.line(f"status |= snn_prog_backward_{suf}(nT, M, c * per, b1, blk, x, xs, s0, fill, inv, sg_id, "
                       "sg_a, sg_b, gout, glast, gvseq, gx, gs0, sums + c * NACC);")
            w.line("return status;")


def layout(program: NeuronProgram) -> CLayout:
    """What :func:`c_source`'s kernel of ``program`` takes and returns."""
    return _Plan(program).layout()


def c_source(program: NeuronProgram) -> str:
    """The C source of ``program``'s CPU kernel (see the module docstring)."""
    plan = _Plan(program)
    w = Writer()
    w.line("/* Generated by snndsl.codegen.neuron_c from a neuron program; do not edit.")
    w.line(f" * states: {', '.join(plan.snames) or '-'}; saved per step: {len(plan.saved)};"
           f" invariants: {len(plan.inv_used)}; accumulated: {len(plan.acc)} */")
    for inc in ("<math.h>", "<stdint.h>", "<stdlib.h>", "<string.h>", '"surrogates.h"'):
        w.line(f"#include {inc}")
    w.line()
    w.line(f"#define NACC {max(len(plan.acc), 1)}")
    w.line()
    w.line("int32_t snn_prog_openmp(void) {")
    w.line("#ifdef _OPENMP")
    w.line("    return 1;")
    w.line("#else")
    w.line("    return 0;")
    w.line("#endif")
    w.line("}")
    w.line()
    w.line("static int64_t chunk_of(int64_t M, int32_t threads) {")
    w.line("    int64_t per = (M + threads - 1) / threads;")
    w.line("    return (per + 63) / 64 * 64;")
    w.line("}")
    for ty, suf in _TYPES:
        e = _Emit(plan, ty, suf)
        w.line()
        e.forward(w)
        w.line()
        e.backward(w)
        w.line()
        e.parallel(w)
    return w.text()


def host_source(program: NeuronProgram) -> str:
    """Python functions ``invariants(sg, *params)`` (the values :func:`c_source`'s
    ``inv[]`` holds, torch ops as ``Fused`` computes them) and ``param_grads(sg,
    *params, *sums)`` (the params' gradients from the summed invariant gradients, the
    derived final instructions in torch)."""
    plan = _Plan(program)
    pr = _Printer(program, plan.g, {})
    return "import torch\n\n\n" + host_functions(pr, plan.inv_used, plan.acc).text()


# the runtime runs these kernels but does not import the code generator: it is told here
program_native.register_source(c_source, host_source, layout)
