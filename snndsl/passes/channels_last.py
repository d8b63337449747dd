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

Tokens (``[C, L]`` samples, the transformers' ``Conv1d(k=1) -> BatchNorm1d``) get the
same treatment in one dimension: a region with a pointwise ``Conv1d`` on ``[C, L]`` is
channels-last too (``[N, L, C]`` in memory). Its pointwise convolutions (``weight_layout``)
run as 1x1 convolutions on the channels-last ``[N, C, 1, L]`` view of the tokens
(``fused.pointwise_conv1d``; measured on Spikformer's shapes, forward and backward on one
thread, ~20 % faster than the Conv1d on ``[N, C, L]`` and than MKL's GEMM on the
``[N*L, C]`` matrix), and its ``BatchNorm1d`` on ``[C, L]`` (``layout``) normalises the
``[N*L, C]`` token matrix (~2x faster than over ``[N, C, L]``). A channels-last
``[C, H, W]`` value reshaped into tokens is already ``[N, L, C]`` in memory, so nothing is
transposed between a convolutional stem and the encoder; a ``[C, L]`` value in the other
layout (an attention product) is converted inside the convolution.

The memory format never changes what a layer computes, only the order of floating-point
reductions: eval-mode outputs agree with the contiguous model to rounding, and the
pass is optional (``disable=("channels-last",)``).

    sn1 -> sn1~flat -> pool1 -> conv2          (region1)
    ==>  sn1 -> sn1~flat -> sn1~flat~nhwc -> pool1 -> conv2   (region1 channels_last)
    t -> qkv.0 (Conv1d k=1) -> qkv.1 (BatchNorm1d)   ==>  the same, weight_layout/layout channels_last
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


#: Conv1d's arguments in order, and those a pointwise convolution leaves at their default
_CONV_ARGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
              "padding_mode")
_POINTWISE = {"kernel_size": 1, "stride": 1, "padding": 0, "dilation": 1, "groups": 1, "padding_mode": "zeros"}


def _pointwise(ir: IR, path: str) -> bool:
    """A ``Conv1d`` with kernel size 1 (no stride, padding, dilation or groups) on ``[C, L]``."""
    op = ir.node(path).op
    if not (isinstance(op, ops.Conv) and op.dims == 1):
        return False
    given = dict(zip(_CONV_ARGS, op.args)) | dict(op.kwargs)
    if len(op.args) > len(_CONV_ARGS) or not set(given) <= set(_CONV_ARGS) or "kernel_size" not in given:
        return False
    if any(given.get(k, v) not in (v, (v,), [v]) for k, v in _POINTWISE.items()):
        return False
    sources = ir.inputs_of(path)
    return bool(sources) and len(ir.node(sources[0]).shape or ()) == 2


def _tokens_norm(ir: IR, path: str) -> bool:
    """A ``BatchNorm1d`` on ``[C, L]`` (not on ``[C]`` features, already a matrix)."""
    op = ir.node(path).op
    sources = ir.inputs_of(path)
    return (isinstance(op, ops.BatchNorm) and op.dims == 1 and not op.time_repeated and bool(sources)
            and len(ir.node(sources[0]).shape or ()) == 2)


def channels_last(ir: IR) -> IR:
    candidates = [n for n in ir.nodes() if n.region is not None and not ir.regions[n.region].recurrent]
    spatial = {n.region for n in candidates if _benefits(ir, n.path)}  # these convert [C, H, W] inputs
    marked = spatial | {n.region for n in candidates if _pointwise(ir, n.path)}
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
        op = n.op
        if isinstance(op, (ops.Conv, ops.ConvTranspose)) and (op.dims == 2 or _pointwise(ir, n.path)):
            ir.set(n.replace(op=replace(op, weight_layout=ops.Layout.CHANNELS_LAST)))
        elif isinstance(op, ops.BatchNorm) and _tokens_norm(ir, n.path):
            ir.set(n.replace(op=replace(op, layout=ops.Layout.CHANNELS_LAST)))
        for src in dict.fromkeys(ir.inputs_of(n.path)):
            if n.region not in spatial or len(ir.node(src).shape or ()) != 3 or is_nhwc(src):
                continue
            if src not in converted:
                converted[src] = plumbing(ir, src, ops.ToLayout(ops.Layout.CHANNELS_LAST), "nhwc", n.region).path
            ir.redirect(src, n.path, converted[src])
    return ir
