"""mark-state: ``stateful`` on every node.

Neurons, Dropout and stateful ``use`` modules keep state across time steps; every
other node (inputs and outputs included) is stateless. The op class decides.

    sn1 (LIF)  stateful=None   ==>   sn1 (LIF)  stateful=True
"""

from __future__ import annotations

from ..ir.graph import IR


def mark_state(ir: IR) -> IR:
    for node in list(ir.nodes()):
        ir.set(node.replace(stateful=node.op.is_stateful()))
    return ir
