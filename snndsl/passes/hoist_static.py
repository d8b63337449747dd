"""hoist-static: run regions that see only ``static`` inputs once, not T times.

A region whose every incoming value comes from a ``static`` model input (the same
image at every time step) computes the same thing at every step. It is marked
``static``: the generated code runs it once on ``[N, ...]`` and broadcasts its outputs
over T with ``expand`` (a view, no copy) before the first stateful node. The result
equals feeding the image repeated T times (in training mode BatchNorm's running
variance uses N instead of T*N samples for its unbiased correction; outputs agree).

    region0 {conv1, bn1} static=False   ==>   region0 {conv1, bn1} static=True
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import ops
from ..ir.graph import IR


def hoist_static(ir: IR) -> IR:
    by_region: dict[str, set[str]] = {name: set() for name in ir.regions}
    for n in ir.nodes():
        if n.region is not None:
            by_region[n.region].add(n.path)
    for name in list(ir.regions):
        members = by_region[name]
        sources = {src for p in members for src in ir.inputs_of(p) if src not in members}
        static = bool(sources) and all(
            isinstance(ir.node(s).op, ops.Input) and ir.node(s).op.static for s in sources  # type: ignore[attr-defined]
        )
        ir.regions[name] = replace(ir.regions[name], static=static)
    return ir
