"""fuse-recurrent (optional): a recurrent region that is exactly a recurrent Linear and
a neuron becomes one fused operation.

The region ``s = add(x, prev(s) -> rec: Linear(n, n)) -> sn: LIF()`` (in either operand
order; ``IF``, ``LIF`` or ``PLIF`` on ``[n]``) is the recurrent layer of most SHD/SSC
networks. Stepped by the generic loop it costs a few Python-level ops and autograd nodes
per step; as one node it runs as ``recurrent.recurrent_neuron`` (:mod:`snndsl.runtime.
recurrent`): one autograd Function around the whole T loop with a hand-written BPTT,
the same spikes bit for bit. The node takes the neuron's path and holds both layers, so
``state_dict`` keys do not change; the ``prev``'s memory still carries the last step's
spikes (``carry_state``, ``'s'`` mode). The region is gone: the node is a stateful node
outside any region, like a neuron, reading ``x`` as ``[T, N, n]``.

    recurrent0 {prev(s), rec, add, sn}, add reads fc
    ==>  sn (RecurrentNeuron: rec + sn, prev prev_s_0) reads fc
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR
from ..ir.patterns import recurrent_layer


def fuse_recurrent(ir: IR) -> IR:
    by_region: dict[str, list[str]] = {}
    for n in ir.nodes():
        if n.region is not None and ir.regions[n.region].recurrent:
            by_region.setdefault(n.region, []).append(n.path)
    for name, members in by_region.items():
        found = recurrent_layer(ir, members)
        if found is None:
            continue
        prev, linear, add, neuron, x = found
        n = ir.node(neuron)
        assert isinstance(n.op, ops.Layer)
        lin = ir.node(linear).op
        assert isinstance(lin, ops.Layer)
        ir.set(n.replace(op=ops.RecurrentNeuron(lin, linear, n.op, prev), region=None))
        for gone in (prev, linear, add):
            ir.remove(gone)
        ir.connect(x, neuron, 0)
        del ir.regions[name]
    return ir
