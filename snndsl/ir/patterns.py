"""Subgraphs that a pass rewrites, found by one function that the pass and the verifier
(which checks that none is left) share."""

from __future__ import annotations

from . import ops
from .graph import IR

#: neurons the fused operation implements
FUSABLE = (ops.IF, ops.LIF, ops.PLIF)


def recurrent_layer(ir: IR, members: list[str]) -> tuple[str, str, str, str, str] | None:
    """``(prev, linear, add, neuron, x)`` when the region is exactly the recurrent layer."""
    if len(members) != 4:
        return None
    by_class = {type(ir.node(p).op): p for p in members}
    prev = by_class.get(ops.Prev)
    linear = by_class.get(ops.Linear)
    add = by_class.get(ops.Merge)
    neuron = next((p for p in members if isinstance(ir.node(p).op, FUSABLE)), None)
    if None in (prev, linear, add, neuron):
        return None
    assert prev and linear and add and neuron
    p, lin, a, n = (ir.node(q) for q in (prev, linear, add, neuron))
    assert isinstance(p.op, ops.Prev) and isinstance(a.op, ops.Merge)
    if p.op.source != neuron or a.op.kind is not ops.MergeKind.ADD or a.op.broadcast:
        return None
    if ir.inputs_of(linear) != [prev] or ir.inputs_of(neuron) != [add] or ir.users_of(prev) != [linear]:
        return None
    if ir.users_of(linear) != [add] or ir.users_of(add) != [neuron] or len(n.shape or ()) != 1:
        return None
    xs = [s for s in ir.inputs_of(add) if s != linear]
    if len(xs) != 1 or sorted(ir.inputs_of(add)) != sorted([xs[0], linear]):
        return None
    return prev, linear, add, neuron, xs[0]


