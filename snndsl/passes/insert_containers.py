"""insert-containers: how each node runs in multi-step mode, and explicit region borders.

=============  ====================================================================
container      meaning (multi-step, input ``[T, N, ...]``)
=============  ====================================================================
``region``     inside a time-batched region, on ``[T*N, ...]`` (SeqToANN semantics,
               without wrapping layers, so ``state_dict`` keys stay flat)
``native``     a runtime module with a fused multi-step form (neurons, Dropout)
``step-loop``  a single-step module (a stateful ``use`` module) looped over T with
               ``functional.multi_step_forward`` (MultiStep semantics)
``recurrent``  inside a recurrent region: one step at a time on ``[N, ...]``, in a loop
               over T that reads ``[T, N, ...]`` values from outside at step ``t``
``io``         model inputs and outputs
``border``     plumbing outside any region (a static input broadcast over T)
=============  ====================================================================

Every value that enters a region from outside goes through one ``FlattenTime`` node
(``[T, N, ...] -> [T*N, ...]``, a member of the first region that reads it; later
regions read the same node), and every value that leaves a region for a node outside
any region through one ``UnflattenTime`` node (a member of the region it leaves). A
static input (``[N, ...]``) reaches everything through one ``BroadcastTime`` view.
Values passed from region to region stay flat. In single-step mode all three are the
identity; the compiled model switches modes with ``functional.set_step_mode``.

    sn1 (LIF) -> fc2 (region3) -> sn4   ==>   sn1 -> sn1~flat -> fc2 -> fc2~unflat -> sn4
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR, Node


def container_of(ir: IR, node: Node) -> ops.Container:
    if isinstance(node.op, (ops.Input, ops.Output)):
        return ops.Container.IO
    if node.region is not None:
        return ops.Container.RECURRENT if ir.regions[node.region].recurrent else ops.Container.REGION
    if isinstance(node.op, (ops.Neuron, ops.StatefulLayer, ops.RecurrentNeuron)):
        return ops.Container.NATIVE
    return ops.Container.STEP_LOOP


def plumbing(ir: IR, src: str, op: ops.Plumbing, suffix: str, region: str | None) -> Node:
    """A new plumbing node reading ``src`` (its users are connected by the caller)."""
    s = ir.node(src)
    node = Node(f"{src}~{suffix}", op, s.span, shape=s.shape, stateful=False, region=region,
                container=ops.Container.BORDER if region is None else ops.Container.REGION, generated=True)
    ir.add(node)
    ir.connect(src, node.path, 0)
    return node


def _batched(ir: IR, n: Node) -> bool:
    """Is ``n`` in a time-batched region (not a recurrent one)?"""
    return n.region is not None and not ir.regions[n.region].recurrent


def _flat(ir: IR, n: Node) -> bool:
    """Is ``n``'s value ``[T*N, ...]`` in multi-step mode (so far: before hoist-static)?"""
    return _batched(ir, n) and not isinstance(n.op, (ops.UnflattenTime, ops.BroadcastTime))


def insert_containers(ir: IR) -> IR:
    for node in list(ir.nodes()):
        if not isinstance(node.op, ops.Plumbing):
            ir.set(node.replace(container=container_of(ir, node)))
    flat: dict[str, str] = {}  # value -> its FlattenTime node
    unflat: dict[str, str] = {}  # region member -> its UnflattenTime node
    bcast: dict[str, str] = {}  # static input -> its BroadcastTime node
    # in program order: a value read by several regions is flattened in the one that runs
    # first, so the others reading it there cannot make the regions wait on each other
    for dst in [n for unit in ir.schedule() for n in unit]:
        for src in dict.fromkeys(ir.inputs_of(dst.path)):
            s = ir.node(src)
            if isinstance(s.op, ops.Input) and s.op.static and not isinstance(dst.op, ops.BroadcastTime):
                if src not in bcast:
                    bcast[src] = plumbing(ir, src, ops.BroadcastTime(), "bcast", None).path
                ir.redirect(src, dst.path, bcast[src])
                src = bcast[src]
                s = ir.node(src)
            if isinstance(dst.op, ops.Plumbing):
                continue
            if _batched(ir, dst) and not _flat(ir, s):
                if src not in flat:
                    flat[src] = plumbing(ir, src, ops.FlattenTime(), "flat", dst.region).path
                ir.redirect(src, dst.path, flat[src])
            elif not _batched(ir, dst) and _flat(ir, s):
                if src not in unflat:
                    unflat[src] = plumbing(ir, src, ops.UnflattenTime(), "unflat", s.region).path
                ir.redirect(src, dst.path, unflat[src])
    return ir
