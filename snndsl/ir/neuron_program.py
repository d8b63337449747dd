"""A neuron program: one time step of a neuron model as an expression DAG.

A ``neuron`` definition (a file's own, or the prelude's) is elaborated, with its header
parameters bound, into a :class:`NeuronProgram`; the backends print it: the single-step
PyTorch function, the fused multi-step autograd Function with its derived backward
(BPTT), and the kernels. The instructions are in the order the equations are written
and each operand is an earlier instruction, so evaluating them in order *is* evaluating
the equations as written, operation by operation (no reassociation, no fused
multiply-add): a neuron written in SpikingJelly's order gives SpikingJelly's values bit
for bit.

Compile-time values (header parameters, ``a if cond else b`` with a compile-time
``cond``) are resolved by elaboration: a program holds only numbers (``CONST``), the
step's input (``INPUT``), the state variables' values from the previous step
(``STATE``), the learnable scalars (``PARAM``) and operations.

    h = v + (x - v) / tau ; s = spike(h - 1.0) ; v = h - s * 1.0
    ==>  0 STATE v; 1 INPUT x; 2 SUB 1 0; 3 CONST 2.0; 4 DIV 2 3; 5 ADD 0 4;
         6 CONST 1.0; 7 SUB 5 6; 8 SPIKE 7; 9 MUL 8 6; 10 SUB 5 9
         updates v <- 10; output 8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ops import StrEnum, SurrogateValue


class Code(StrEnum):
    """What an instruction computes (``args`` are instruction indices)."""

    CONST = "const"  # value: the number
    INPUT = "input"  # value: the input's name
    STATE = "state"  # value: the state's name; its value from the previous step
    PARAM = "param"  # value: the learnable scalar's name
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    NEG = "neg"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    ABS = "abs"
    TANH = "tanh"
    SIGMOID = "sigmoid"
    RELU = "relu"
    MIN = "min"  # elementwise minimum of two values (torch.minimum)
    MAX = "max"  # elementwise maximum (torch.maximum)
    CLAMP = "clamp"  # clamp(e, lo, hi): lo and hi are CONST instructions
    SPIKE = "spike"  # heaviside(e) forward (e >= 0), the surrogate's gradient backward
    DETACH = "detach"  # the value, with no gradient


#: how many operands each code takes
ARITY: dict[Code, int] = {
    Code.CONST: 0, Code.INPUT: 0, Code.STATE: 0, Code.PARAM: 0,
    Code.ADD: 2, Code.SUB: 2, Code.MUL: 2, Code.DIV: 2, Code.POW: 2, Code.MIN: 2, Code.MAX: 2,
    Code.NEG: 1, Code.EXP: 1, Code.LOG: 1, Code.SQRT: 1, Code.ABS: 1, Code.TANH: 1, Code.SIGMOID: 1,
    Code.RELU: 1, Code.SPIKE: 1, Code.DETACH: 1,
    Code.CLAMP: 3,
}


@dataclass(frozen=True, slots=True)
class Instr:
    """One operation; ``value`` is the number of a ``CONST`` or the name of an
    ``INPUT``/``STATE``/``PARAM``."""

    code: Code
    args: tuple[int, ...] = ()
    value: float | str | None = None


@dataclass(frozen=True, slots=True)
class NeuronProgram:
    """One step of a neuron model.

    ``states``: each state variable and its value after ``reset()``, in declaration order
    (also the order of the step's state arguments). ``params``: the learnable scalars
    and their initial values (``state_dict`` entries ``<label>.NAME``). ``updates``: the
    instruction giving each state's next value, in ``states`` order (a state never
    assigned keeps its value: its update is its own ``STATE`` instruction). ``output``:
    the returned instruction. ``surrogate``: what ``SPIKE`` uses backward.
    """

    name: str
    instrs: tuple[Instr, ...]
    states: tuple[tuple[str, float], ...]
    params: tuple[tuple[str, float], ...]
    updates: tuple[tuple[str, int], ...]
    output: int
    surrogate: SurrogateValue

    @property
    def spiking(self) -> bool:
        """Whether the returned value is a spike train (``return s`` of a ``spike``)."""
        return self.instrs[self.output].code is Code.SPIKE

    def problems(self) -> list[str]:
        """What is wrong with the program (empty when it is well formed): the invariant
        every producer of a program (elaboration) establishes and every backend relies on."""
        out: list[str] = []
        names = {Code.INPUT: set(), Code.STATE: {s for s, _ in self.states}, Code.PARAM: {p for p, _ in self.params}}
        inputs = 0
        for i, ins in enumerate(self.instrs):
            if len(ins.args) != ARITY[ins.code]:
                out.append(f"{i}: {ins.code} takes {ARITY[ins.code]} operands, has {len(ins.args)}")
            if any(not 0 <= a < i for a in ins.args):
                out.append(f"{i}: an operand is not an earlier instruction")
            if ins.code is Code.CONST and not isinstance(ins.value, float):
                out.append(f"{i}: a constant must be a float")
            if ins.code in (Code.STATE, Code.PARAM) and ins.value not in names[ins.code]:
                out.append(f"{i}: {ins.code} {ins.value!r} is not declared")
            inputs += ins.code is Code.INPUT
            if ins.code is Code.CLAMP and any(self.instrs[a].code is not Code.CONST for a in ins.args[1:]):
                out.append(f"{i}: clamp bounds must be constants")
        if inputs > 1 and len({ins.value for ins in self.instrs if ins.code is Code.INPUT}) > 1:
            out.append("a neuron has one input")
        if [s for s, _ in self.updates] != [s for s, _ in self.states]:
            out.append("updates must list every state, in order")
        if any(not 0 <= i < len(self.instrs) for _, i in self.updates) or not 0 <= self.output < len(self.instrs):
            out.append("an update or the output is not an instruction")
        return out

    # -- as plain data (the generated class carries its program as a literal) ----------
    def to_data(self) -> dict[str, object]:
        """The program as plain literals (str, float, int, tuples, a dict), in a fixed
        order: what :func:`repr` prints is a readable Python literal that
        :func:`ast.literal_eval` reads back and :meth:`from_data` rebuilds."""
        return {
            "name": self.name,
            "instrs": tuple((str(ins.code), ins.args, ins.value) for ins in self.instrs),
            "states": self.states,
            "params": self.params,
            "updates": self.updates,
            "output": self.output,
            "surrogate": (self.surrogate.name, self.surrogate.kwargs),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> NeuronProgram:
        """The program :meth:`to_data` gave ``data`` for (only literals are read)."""
        sg_name, sg_kwargs = data["surrogate"]
        return cls(
            name=str(data["name"]),
            instrs=tuple(Instr(Code(c), tuple(int(a) for a in args), value) for c, args, value in data["instrs"]),
            states=tuple((str(n), float(v)) for n, v in data["states"]),
            params=tuple((str(n), float(v)) for n, v in data["params"]),
            updates=tuple((str(n), int(i)) for n, i in data["updates"]),
            output=int(data["output"]),
            surrogate=SurrogateValue(str(sg_name), tuple((str(k), v) for k, v in sg_kwargs)),
        )
