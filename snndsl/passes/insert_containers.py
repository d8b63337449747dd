"""insert-containers: decide how each node runs in multi-step mode.

=============  ====================================================================
container      meaning (multi-step, input ``[T, N, ...]``)
=============  ====================================================================
``region``     inside a time-batched region: flattened to ``[T*N, ...]`` once at the
               region's entry and unflattened once at its exit (SeqToANN semantics,
               without wrapping layers, so ``state_dict`` keys stay flat)
``native``     a runtime module with a fused multi-step form (neurons, Dropout)
``step-loop``  a single-step module (a stateful ``use`` module) looped over T with
               ``functional.multi_step_forward`` (MultiStep semantics)
``io``         model inputs and outputs
=============  ====================================================================

Single-step mode runs every node directly on ``[N, ...]``; the compiled model
switches between the two with ``functional.set_step_mode`` (StepModeContainer
semantics).

    sn1 (LIF) container=None   ==>   sn1 (LIF) container=native
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR


def container_of(node) -> str:
    if isinstance(node.op, (ops.Input, ops.Output)):
        return "io"
    if node.region is not None:
        return "region"
    if isinstance(node.op, (ops.Neuron, ops.StatefulLayer)):
        return "native"
    return "step-loop"


def insert_containers(ir: IR) -> IR:
    for node in list(ir.nodes()):
        ir.set(node.replace(container=container_of(node)))
    return ir
