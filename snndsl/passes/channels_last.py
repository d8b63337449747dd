"""channels-last: regions of 2-d convolutions, pools and BatchNorm run in NHWC memory.

On CPU (oneDNN) and on CUDA (cuDNN) these layers are faster on channels-last tensors:
measured on the CSNN here, a 2x2 max-pool 5-20x, the first convolution 5x, BatchNorm
1.5x. A region with such a layer (:class:`~snndsl.ir.ops.Spatial`, ``dims == 2``)
acting on a ``[C, H, W]`` sample gets ``layout=channels_last``: each ``[C, H, W]``
value entering it goes through one ``ToLayout`` node (``.contiguous(memory_format=
torch.channels_last)``, a no-op when the value already is), and its 2-d convolutions
keep their weights channels-last (``weight_layout``). Inside, every layer keeps the
format. Neurons are element-wise and run on any dense layout without a copy, so the
spikes keep it and the next region's conversion costs nothing.

The memory format never changes what a layer computes, only the order of floating-point
reductions: eval-mode outputs agree with the contiguous model to rounding, and the
pass is optional (``disable=("channels-last",)``).

    sn1 -> sn1~flat -> pool1 -> conv2          (region1)
    ==>  sn1 -> sn1~flat -> sn1~flat~nhwc -> pool1 -> conv2   (region1 channels_last)
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import ops
from ..ir.graph import IR
from .insert_containers import plumbing


def _benefits(ir: IR, path: str) -> bool:
    node = ir.node(path)
    if not (isinstance(node.op, ops.Spatial) and node.op.dims == 2):
        return False
    sources = ir.inputs_of(path)
    return bool(sources) and len(ir.node(sources[0]).shape or ()) == 3


def channels_last(ir: IR) -> IR:
    marked = {n.region for n in ir.nodes() if n.region is not None and not ir.regions[n.region].recurrent
              and _benefits(ir, n.path)}
    for name in ir.regions:
        if name in marked:
            ir.regions[name] = replace(ir.regions[name], layout=ops.Layout.CHANNELS_LAST)

    def is_nhwc(path: str) -> bool:
        n = ir.node(path)
        return isinstance(n.op, ops.ToLayout) or (
            n.region in marked and not isinstance(n.op, ops.Plumbing))

    converted: dict[str, str] = {}
    for n in [n for unit in ir.schedule() for n in unit]:  # converted where first read (as flatten)
        if n.region not in marked or isinstance(n.op, ops.Plumbing):
            continue
        if isinstance(n.op, (ops.Conv, ops.ConvTranspose)) and n.op.dims == 2:
            ir.set(n.replace(op=replace(n.op, weight_layout=ops.Layout.CHANNELS_LAST)))
        for src in dict.fromkeys(ir.inputs_of(n.path)):
            if len(ir.node(src).shape or ()) != 3 or is_nhwc(src):
                continue
            if src not in converted:
                converted[src] = plumbing(ir, src, ops.ToLayout(ops.Layout.CHANNELS_LAST), "nhwc", n.region).path
            ir.redirect(src, n.path, converted[src])
    return ir
