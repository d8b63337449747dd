"""The reverse-mode derivative of a neuron step, derived symbolically for BPTT.

Given a :class:`~.neuron_program.NeuronProgram`, :func:`derive` returns a
:class:`StepGradient`: the instructions that map the gradients arriving at one step
(at its output and at each state's next value) to the gradients of the step's input,
of each state's previous value and, through the loop-invariant values, of each param.

The instructions split in three kinds:

* *invariant* (``CONST``, ``PARAM`` and operations on those only, e.g. PLIF's
  ``k = sigmoid(w)``): the same at every step, computed once per call;
* *step* (everything that depends on the input or a state): computed every step;
* the backward of one step (:attr:`StepGradient.step`), a second instruction list over
  the forward values, and after the time loop the backward of the invariant values
  (:attr:`StepGradient.final`), from their gradients summed over all steps and elements.

    h = v + x ; s = spike(h - 1.0) ; v' = h - s * 1.0         (IF, soft reset)
    ==>  g_s = g_out + NEG(g_v' * 1.0) ; g_h = g_v' + SPIKE_GRAD(g_s, h - 1.0)
         grad x = g_h ; grad v = g_h ; saved: h (h - 1.0 recomputed, s is the output)

Derivative rules (``g``: the gradient reaching the value ``y = op(a, b)``), chosen as
torch's autograd computes them, so the derived backward agrees with autograd through the
single-step module (within rounding; the tie conventions exactly):

=========  =================================================================
add        ``a += g``, ``b += g``
sub        ``a += g``, ``b += -g``
mul        ``a += g * b``, ``b += g * a``
div        ``a += g / b``, ``b += -(g * (y / b))``
pow        ``a += g * (b * a ** (b - 1))`` (nothing when ``b`` is the constant 0),
           ``b += g * (y * log(a))`` (undefined at ``a == 0``, as torch's is not)
neg        ``a += -g``
exp        ``a += g * y``
log        ``a += g / a``
sqrt       ``a += g / (2 * y)``
abs        ``a += g * sign(a)``           (0 at ``a == 0``)
tanh       ``a += g * (1 - y * y)``
sigmoid    ``a += g * (1 - y) * y``
relu       ``a += g * (y > 0)``           (0 at ``a == 0``)
min, max   of two run-time values (``torch.minimum``/``maximum``): the gradient goes to
           the smaller (larger) operand, and half to each at a tie; with a constant
           operand (``torch.clamp_max``/``clamp_min``): ``g * (a <= c)`` (``a >= c``),
           whole to ``a`` at a tie
clamp      ``a += g * ((a >= lo) * (a <= hi))``   (the bounds pass the gradient)
spike      ``a += SPIKE_GRAD(g, a)`` = ``g * surrogate'(a)``
detach     nothing
=========  =================================================================

What the backward reads of the forward (:attr:`StepGradient.needed`) follows from the
rules: ``mul`` its operands, ``exp``/``tanh``/``sigmoid``/``sqrt``/``relu`` their result,
``spike`` its argument. The fused multi-step operation saves a subset
(:attr:`StepGradient.saved`, one tensor per step each) and recomputes the rest from it
(:attr:`StepGradient.recomputed`); the input and the output are available anyway. The
subset is the smallest (then the one with the fewest recomputed operations).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from .neuron_program import Code, NeuronProgram
from .ops import StrEnum

__all__ = ["GradCode", "Space", "Ref", "GradInstr", "StepGradient", "derive", "invariant_set", "active_set"]


class Space(StrEnum):
    """Where a :class:`Ref` points."""

    FWD = "fwd"  # a forward instruction's value
    SEED = "seed"  # a gradient arriving at the step: 0 the output, 1 + k state k's next value
    GRAD = "grad"  # an earlier instruction of the same backward list
    ACC = "acc"  # (final list) the gradient of invariant instruction ``index``, summed over steps


@dataclass(frozen=True, slots=True)
class Ref:
    space: Space
    index: int

    def __str__(self) -> str:
        return f"{self.space}{self.index}"


class GradCode(StrEnum):
    """What a backward instruction computes (``args`` are :class:`Ref` s)."""

    CONST = "const"  # value: the number
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    NEG = "neg"
    LOG = "log"
    SIGN = "sign"
    GT = "gt"  # (a > b) as 1.0/0.0 in the values' dtype
    GE = "ge"
    LT = "lt"
    LE = "le"
    EQ = "eq"
    SPIKE_GRAD = "spike_grad"  # g * surrogate'(a): args (g, a)


@dataclass(frozen=True, slots=True)
class GradInstr:
    code: GradCode
    args: tuple[Ref, ...] = ()
    value: float | None = None
    #: the forward instruction whose whole gradient this is (for readable names), or -1
    grad_of: int = -1

    def __str__(self) -> str:
        if self.code is GradCode.CONST:
            return f"const {self.value!r}"
        return " ".join([str(self.code), *map(str, self.args)])


@dataclass(frozen=True)
class StepGradient:
    """The derived backward of one neuron step (see the module docstring)."""

    program: NeuronProgram
    invariant: tuple[int, ...]  # forward instructions computed once per call, in order
    steps: tuple[int, ...]  # forward instructions computed every step, in order
    step: tuple[GradInstr, ...]  # the backward of one step
    input_grad: Ref | None  # None: the input gets no gradient
    state_grads: tuple[Ref | None, ...]  # in ``program.states`` order
    #: (invariant instruction, the per-element gradient this step sends it)
    invariant_grads: tuple[tuple[int, Ref], ...]
    final: tuple[GradInstr, ...]  # after the loop: ACC refs -> the params' gradients
    param_grads: tuple[Ref | None, ...]  # in ``program.params`` order
    needed: tuple[int, ...]  # step values the step backward reads (excluding the input)
    saved: tuple[int, ...]  # step values saved per step
    recomputed: tuple[int, ...]  # step values the backward recomputes, in order

    def listing(self) -> str:
        """A printable form (for tests and ``--print-ir``)."""
        lines = [f"saved {list(self.saved)} recomputed {list(self.recomputed)}", "step:"]
        lines += [f"  {j} {ins}" for j, ins in enumerate(self.step)]
        lines.append(f"  input <- {self.input_grad}")
        lines += [f"  {s} <- {r}" for (s, _), r in zip(self.program.states, self.state_grads)]
        lines += [f"  acc{i} += {r}" for i, r in self.invariant_grads]
        lines.append("final:")
        lines += [f"  {j} {ins}" for j, ins in enumerate(self.final)]
        lines += [f"  {p} <- {r}" for (p, _), r in zip(self.program.params, self.param_grads)]
        return "\n".join(lines)


def invariant_set(program: NeuronProgram) -> set[int]:
    """The instructions whose value is the same at every step (no input, no state)."""
    out: set[int] = set()
    for i, ins in enumerate(program.instrs):
        if ins.code in (Code.CONST, Code.PARAM) or (
            ins.code not in (Code.INPUT, Code.STATE) and all(a in out for a in ins.args)
        ):
            out.add(i)
    return out


def active_set(program: NeuronProgram) -> set[int]:
    """The instructions a gradient can flow into (they depend on the input, a state or a
    param other than through ``detach``)."""
    out: set[int] = set()
    for i, ins in enumerate(program.instrs):
        if ins.code in (Code.INPUT, Code.STATE, Code.PARAM) or (
            ins.code not in (Code.CONST, Code.DETACH) and any(a in out for a in ins.args)
        ):
            out.add(i)
    return out


class _Builder:
    """Appends backward instructions; accumulates each value's gradient contributions."""

    def __init__(self) -> None:
        self.instrs: list[GradInstr] = []
        self.contribs: dict[int, list[Ref]] = {}

    def emit(self, code: GradCode, *args: Ref, value: float | None = None) -> Ref:
        self.instrs.append(GradInstr(code, args, value))
        return Ref(Space.GRAD, len(self.instrs) - 1)

    def const(self, value: float) -> Ref:
        return self.emit(GradCode.CONST, value=float(value))

    def send(self, i: int, r: Ref) -> None:
        self.contribs.setdefault(i, []).append(r)

    def total(self, i: int) -> Ref | None:
        """The gradient of forward value ``i``: its contributions added in arrival order."""
        parts = self.contribs.get(i)
        if not parts:
            return None
        acc = parts[0]
        for r in parts[1:]:
            acc = self.emit(GradCode.ADD, acc, r)
        if acc.space is Space.GRAD and self.instrs[acc.index].grad_of < 0:
            ins = self.instrs[acc.index]
            self.instrs[acc.index] = GradInstr(ins.code, ins.args, ins.value, grad_of=i)
        return acc


def _reverse(program: NeuronProgram, through: list[int], b: _Builder, active: set[int]) -> None:
    """Propagate the gradients collected in ``b`` backward through ``through`` (forward
    instruction indices, in forward order)."""
    instrs = program.instrs
    F = lambda i: Ref(Space.FWD, i)  # noqa: E731

    for i in reversed(through):
        g = b.total(i)
        if g is None:
            continue
        ins = instrs[i]
        code, args, y = ins.code, ins.args, F(i)
        live = [a in active for a in args]
        if code is Code.ADD:
            for a, on in zip(args, live):
                if on:
                    b.send(a, g)
        elif code is Code.SUB:
            if live[0]:
                b.send(args[0], g)
            if live[1]:
                b.send(args[1], b.emit(GradCode.NEG, g))
        elif code is Code.MUL:
            if live[0]:
                b.send(args[0], b.emit(GradCode.MUL, g, F(args[1])))
            if live[1]:
                b.send(args[1], b.emit(GradCode.MUL, g, F(args[0])))
        elif code is Code.DIV:
            if live[0]:
                b.send(args[0], b.emit(GradCode.DIV, g, F(args[1])))
            if live[1]:
                q = b.emit(GradCode.DIV, y, F(args[1]))
                b.send(args[1], b.emit(GradCode.NEG, b.emit(GradCode.MUL, g, q)))
        elif code is Code.POW:
            base, expo = args
            if live[0]:
                e = instrs[expo]
                if e.code is Code.CONST:
                    c = float(e.value)  # type: ignore[arg-type]
                    if c != 0.0:
                        p = b.emit(GradCode.POW, F(base), b.const(c - 1.0))
                        b.send(base, b.emit(GradCode.MUL, g, b.emit(GradCode.MUL, b.const(c), p)))
                else:
                    p = b.emit(GradCode.POW, F(base), b.emit(GradCode.SUB, F(expo), b.const(1.0)))
                    b.send(base, b.emit(GradCode.MUL, g, b.emit(GradCode.MUL, F(expo), p)))
            if live[1]:
                lg = b.emit(GradCode.MUL, y, b.emit(GradCode.LOG, F(base)))
                b.send(expo, b.emit(GradCode.MUL, g, lg))
        elif code is Code.NEG:
            b.send(args[0], b.emit(GradCode.NEG, g))
        elif code is Code.EXP:
            b.send(args[0], b.emit(GradCode.MUL, g, y))
        elif code is Code.LOG:
            b.send(args[0], b.emit(GradCode.DIV, g, F(args[0])))
        elif code is Code.SQRT:
            b.send(args[0], b.emit(GradCode.DIV, g, b.emit(GradCode.MUL, b.const(2.0), y)))
        elif code is Code.ABS:
            b.send(args[0], b.emit(GradCode.MUL, g, b.emit(GradCode.SIGN, F(args[0]))))
        elif code is Code.TANH:
            sq = b.emit(GradCode.MUL, y, y)
            b.send(args[0], b.emit(GradCode.MUL, g, b.emit(GradCode.SUB, b.const(1.0), sq)))
        elif code is Code.SIGMOID:
            gy = b.emit(GradCode.MUL, g, b.emit(GradCode.SUB, b.const(1.0), y))
            b.send(args[0], b.emit(GradCode.MUL, gy, y))
        elif code is Code.RELU:
            b.send(args[0], b.emit(GradCode.MUL, g, b.emit(GradCode.GT, y, b.const(0.0))))
        elif code in (Code.MIN, Code.MAX):
            _min_max(program, i, g, b, live)
        elif code is Code.CLAMP:
            a, lo, hi = args
            m = b.emit(GradCode.MUL, b.emit(GradCode.GE, F(a), F(lo)), b.emit(GradCode.LE, F(a), F(hi)))
            b.send(a, b.emit(GradCode.MUL, g, m))
        elif code is Code.SPIKE:
            b.send(args[0], b.emit(GradCode.SPIKE_GRAD, g, F(args[0])))
        elif code is Code.DETACH:
            pass
        else:  # CONST/INPUT/STATE/PARAM are never propagated through
            raise AssertionError(f"{i}: cannot propagate through {code}")


def _min_max(program: NeuronProgram, i: int, g: Ref, b: _Builder, live: list[bool]) -> None:
    ins = program.instrs[i]
    F = lambda j: Ref(Space.FWD, j)  # noqa: E731
    x, y = ins.args
    keep, tie_lose = (GradCode.LE, GradCode.LT) if ins.code is Code.MIN else (GradCode.GE, GradCode.GT)
    consts = [program.instrs[a].code is Code.CONST for a in ins.args]
    if consts[0] or consts[1]:  # clamp_max / clamp_min: the whole gradient to the run-time side
        a, c = (y, x) if consts[0] else (x, y)
        if live[1] if consts[0] else live[0]:
            b.send(a, b.emit(GradCode.MUL, g, b.emit(keep, F(a), F(c))))
        return
    half = b.const(0.5)
    for a, other, on in ((x, y, live[0]), (y, x, live[1])):
        if on:
            tie = b.emit(GradCode.MUL, half, b.emit(GradCode.EQ, F(a), F(other)))
            mask = b.emit(GradCode.ADD, b.emit(tie_lose, F(a), F(other)), tie)
            b.send(a, b.emit(GradCode.MUL, g, mask))


def _choose_saved(program: NeuronProgram, needed: list[int], free: set[int], invariant: set[int]) -> tuple[list[int], list[int]]:
    """The smallest set of step values to save from which every needed one can be
    recomputed (ties: the fewest recomputed operations); returns ``(saved, recomputed)``."""
    instrs = program.instrs
    states = [i for i, ins in enumerate(instrs) if ins.code is Code.STATE]
    # aliases (detach) cost nothing to recompute and are never saved
    candidates = sorted(
        i for i in set(needed) | set(states) if i not in free and i not in invariant and instrs[i].code is not Code.DETACH
    )

    def closure(saved: set[int]) -> list[int] | None:
        have = free | invariant | saved
        ops: list[int] = []
        for i, ins in enumerate(instrs):
            if i not in have and ins.code not in (Code.STATE, Code.INPUT) and all(a in have for a in ins.args):
                have.add(i)
                ops.append(i)
        if not all(n in have for n in needed):
            return None
        # recompute only what the needed values need
        want: set[int] = set()
        stack = [n for n in needed if n in ops]
        while stack:
            n = stack.pop()
            if n in want:
                continue
            want.add(n)
            stack += [a for a in instrs[n].args if a in ops]
        return [i for i in ops if i in want]

    base = [n for n in needed if n not in free and n not in invariant]
    if len(candidates) <= 14:
        for size in range(len(candidates) + 1):
            best: tuple[int, list[int], list[int]] | None = None
            for combo in combinations(candidates, size):
                rec = closure(set(combo))
                cost = None if rec is None else sum(instrs[i].code is not Code.DETACH for i in rec)
                if rec is not None and cost is not None and (best is None or cost < best[0]):
                    best = (cost, list(combo), rec)
            if best is not None:
                return best[1], best[2]
    return base, []


def derive(program: NeuronProgram) -> StepGradient:
    """The symbolic reverse-mode derivative of one step of ``program``."""
    problems = program.problems()
    if problems:
        raise ValueError(f"neuron program {program.name!r} is malformed: " + "; ".join(problems))
    instrs = program.instrs
    invariant = invariant_set(program)
    active = active_set(program)
    steps = [i for i in range(len(instrs)) if i not in invariant]

    # -- one step: seeds at the output and at each state's next value ----------------
    b = _Builder()
    if program.output in active:
        b.send(program.output, Ref(Space.SEED, 0))
    for k, (_, u) in enumerate(program.updates):
        if u in active:
            b.send(u, Ref(Space.SEED, 1 + k))
    through = [i for i in steps if instrs[i].code not in (Code.INPUT, Code.STATE)]
    _reverse(program, through, b, active)
    inp = [i for i in steps if instrs[i].code is Code.INPUT]
    input_grad = _total_of(b, inp)
    state_grads = tuple(
        _total_of(b, [i for i in steps if instrs[i].code is Code.STATE and instrs[i].value == name])
        for name, _ in program.states
    )
    inv_grads = tuple((i, r) for i in sorted(invariant) if i in active and (r := b.total(i)) is not None)
    step_instrs = tuple(b.instrs)

    # -- after the loop: the invariant values' summed gradients down to the params -----
    f = _Builder()
    for i, _ in inv_grads:
        f.send(i, Ref(Space.ACC, i))
    _reverse(program, [i for i in sorted(invariant) if instrs[i].code is not Code.PARAM], f, active)
    param_grads = tuple(
        _total_of(f, [i for i in sorted(invariant) if instrs[i].code is Code.PARAM and instrs[i].value == name])
        for name, _ in program.params
    )

    needed = sorted(
        {r.index for ins in step_instrs for r in ins.args if r.space is Space.FWD and r.index not in invariant}
    )
    free = set(inp) | {program.output}
    saved, recomputed = _choose_saved(program, needed, free, invariant)
    return StepGradient(
        program=program,
        invariant=tuple(sorted(invariant)),
        steps=tuple(steps),
        step=step_instrs,
        input_grad=input_grad,
        state_grads=state_grads,
        invariant_grads=inv_grads,
        final=tuple(f.instrs),
        param_grads=param_grads,
        needed=tuple(needed),
        saved=tuple(saved),
        recomputed=tuple(recomputed),
    )


def _total_of(b: _Builder, leaves: list[int]) -> Ref | None:
    """The summed gradient of several instructions standing for one value (a state read
    twice as two ``STATE`` instructions, say)."""
    parts = [r for i in leaves if (r := b.total(i)) is not None]
    if not parts:
        return None
    acc = parts[0]
    for r in parts[1:]:
        acc = b.emit(GradCode.ADD, acc, r)
    return acc
