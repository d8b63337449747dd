"""channels-last: regions of 2-d convolutions, pools and BatchNorm run in NHWC memory.

On CPU (oneDNN) and on CUDA (cuDNN) these layers are faster on channels-last tensors:
measured on the CSNN here, a 2x2 max-pool 5-20x, the first convolution 5x, BatchNorm
1.5x. A region that contains such a layer acting on a ``[C, H, W]`` sample is marked
``layout="channels_last"``; the generated code converts the region's ``[*, C, H, W]``
entries once (``.contiguous(memory_format=torch.channels_last)``, a no-op when the
value already is) and every layer keeps the format. Neurons are element-wise and run on
any dense layout without a copy, so the spikes keep it and the next region's entry
costs nothing.

The memory format never changes what a layer computes, only the order of floating-point
reductions: eval-mode outputs agree with the contiguous model to rounding, and the
pass is optional (``disable=("channels-last",)``).

    region1 {pool1, conv2, bn2}   ==>   region1 {pool1, conv2, bn2} layout=channels_last
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import ops
from ..ir.graph import IR

#: Layers that are faster on a channels-last ``[N, C, H, W]`` input.
SPATIAL_2D = frozenset(
    {"Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d"}
)


def _benefits(ir: IR, path: str) -> bool:
    node = ir.node(path)
    if not isinstance(node.op, ops.StatelessLayer) or node.op.kind not in SPATIAL_2D:
        return False
    sources = ir.inputs_of(path)
    return bool(sources) and len(ir.node(sources[0]).shape or ()) == 3


def channels_last(ir: IR) -> IR:
    marked: set[str] = set()
    for n in ir.nodes():
        if n.region is not None and n.region not in marked and _benefits(ir, n.path):
            marked.add(n.region)
    for name in marked:
        ir.regions[name] = replace(ir.regions[name], layout="channels_last")
    return ir
