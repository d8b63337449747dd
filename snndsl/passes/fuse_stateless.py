"""fuse-stateless: group stateless nodes into regions that run once on ``[T*N, ...]``.

A region is a connected set of stateless compute nodes (layers and merges) with the
same *stateful depth*: the largest number of stateful nodes on any path from an input
to the node. Depth never decreases along an edge and grows by one after each stateful
node, so a path that leaves a region and comes back would have to cross a stateful
node and could not return to the same depth: regions never form a cycle (the proof
is in docs/architecture.md). Within a depth, regions are maximal: a run
``conv -> bn -> pool -> flatten -> linear``, parallel branches and the merge that joins
them (a residual ``add`` after two BatchNorms) form one region. Merges whose inputs
are all in one region join it.

Nodes of recurrent regions (schedule-recurrence) keep their region; a recurrent region
counts as one stateful node for the depth, so no region can feed it and read it too.

    conv1, bn1 -> sn1 -> conv2, bn2, add   ==>   region0 {conv1, bn1}, region1 {conv2, bn2, add}
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR, Region


def stateful_depth(ir: IR) -> dict[str, int]:
    depth: dict[str, int] = {}
    for node in ir.order():
        d = 0
        for src in ir.inputs_of(node.path):
            s = ir.node(src)
            d = max(d, depth[src] + (1 if s.stateful or s.region is not None else 0))
        depth[node.path] = d
    return depth


def _is_compute(node) -> bool:
    return not isinstance(node.op, (ops.Input, ops.Output))


def fuse_stateless(ir: IR) -> IR:
    depth = stateful_depth(ir)
    parent: dict[str, str] = {}

    def find(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    order = ir.order()
    for node in order:
        if _is_compute(node) and not node.stateful and node.region is None:
            parent[node.path] = node.path
    for node in order:
        if node.path not in parent:
            continue
        for src in ir.inputs_of(node.path):
            if src in parent and depth[src] == depth[node.path]:
                a, b = find(src), find(node.path)
                if a != b:
                    parent[b] = a
    names: dict[str, str] = {}
    for node in order:  # regions are numbered by their first node in execution order
        if node.path not in parent:
            continue
        root = find(node.path)
        if root not in names:
            names[root] = f"region{len(names)}"
            ir.regions[names[root]] = Region(names[root])
        ir.set(node.replace(region=names[root]))
    return ir
