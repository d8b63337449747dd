"""A neuron program as equations a person reads: one time step, for tooltips and the report.

The program (:class:`~snndsl.ir.neuron_program.NeuronProgram`) is the definition with
the call's arguments bound and compile-time values folded, so the equations show the
numbers this layer runs with. A value used once is written inline; one used twice or
more, a state's next value and a spike get a line of their own, in the order they are
computed. A state read on the right is its value before the step; its next value is
primed (``v'``). Parentheses follow the evaluation order exactly (``a + (b + c)`` keeps
its parentheses: operations are evaluated as written, without reassociation)::

    c = c * c_decay + x ; h = v * v_decay + c ; s = spike(h - v_threshold) ; ...
    ==>  c' = c * 0.5 + x
         t1 = v * 0.75 + c'
         s = spike(t1 - 0.5)
         v' = s * 0.0 + (1.0 - s) * t1
         return s
"""

from __future__ import annotations

from ..ir.neuron_program import Code, NeuronProgram

_INFIX = {Code.ADD: ("+", 1), Code.SUB: ("-", 1), Code.MUL: ("*", 2), Code.DIV: ("/", 2), Code.POW: ("**", 4)}
_NEG = 3
_ATOM = 9


def program_lines(program: NeuronProgram) -> list[str]:
    """The step of ``program`` as equations, one per line, ending with ``return ...``."""
    instrs = program.instrs
    uses = [0] * len(instrs)
    for ins in instrs:
        for a in ins.args:
            uses[a] += 1
    updates: dict[int, list[str]] = {}  # instruction -> the states it is the next value of
    for name, i in program.updates:
        if not (instrs[i].code is Code.STATE and instrs[i].value == name):  # a state kept as it is
            updates.setdefault(i, []).append(name)
    for i in (*updates, program.output):
        uses[i] += 1
    lines: list[str] = []
    exprs: list[tuple[str, int]] = []  # each instruction as (text, precedence)
    spikes = temps = 0
    for i, ins in enumerate(instrs):
        text, prec = _expr(ins.code, ins.value, [exprs[a] for a in ins.args])
        leaf = ins.code in (Code.CONST, Code.INPUT, Code.STATE, Code.PARAM)
        if not leaf and (uses[i] > 1 or i in updates or ins.code is Code.SPIKE):
            if i in updates:
                name = updates[i][0] + "'"
            elif ins.code is Code.SPIKE:
                spikes += 1
                name = "s" if spikes == 1 else f"s{spikes}"
            else:
                temps += 1
                name = f"t{temps}"
            lines.append(f"{name} = {text}")
            text, prec = name, _ATOM
        exprs.append((text, prec))
        lines += [f"{other}' = {text}" for other in updates.get(i, [])[0 if leaf else 1:]]
    lines.append(f"return {exprs[program.output][0]}")
    return lines


def _expr(code: Code, value: float | str | None, args: list[tuple[str, int]]) -> tuple[str, int]:
    if code is Code.CONST:
        text = repr(value)
        return (f"({text})" if text.startswith("-") else text), _ATOM
    if code in (Code.INPUT, Code.STATE, Code.PARAM):
        return str(value), _ATOM
    if code in _INFIX:
        sym, prec = _INFIX[code]
        (left, lp), (right, rp) = args
        # every operand of the same precedence on the right keeps its parentheses (evaluation
        # order); ** groups to the right, so there it is the left operand that needs them
        if lp < prec or (code is Code.POW and lp == prec):
            left = f"({left})"
        if rp < prec or (rp == prec and code is not Code.POW):
            right = f"({right})"
        return f"{left} {sym} {right}", prec
    if code is Code.NEG:
        operand, p = args[0]
        return (f"-{operand}" if p > _NEG else f"-({operand})"), _NEG
    return f"{code.value}({', '.join(a for a, _ in args)})", _ATOM
