"""fold-batchnorm (opt-in, ``-O inference``): a BatchNorm right after a Conv or Linear is
folded into it for eval-mode inference.

In eval mode BatchNorm is an affine map per channel, ``y = (x - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``, so ``bn(conv(x, W, b)) == conv(x, W * s, (b - mean) * s
+ beta)``: one pass over the activations instead of two. The pass marks the BatchNorm
node ``container="folded"``; the generated code then calls
``fused.conv_bn(self.conv1, self.bn1, x)`` (:mod:`snndsl.runtime.fused`), which folds
the *current* parameters and running statistics on every call (a few weight-sized ops),
so the module keeps every layer and ``state_dict`` key, loads trained weights as they
are, stays differentiable, and falls back to ``bn(conv(x))`` whenever the BatchNorm is
in training mode or has no running statistics. Outputs equal the unfolded model's to
float rounding (a spike can flip where ``H`` lands within rounding of ``v_th``).

A pair is folded only when the producer's one user is the BatchNorm (spec: "only when
the producer has one user") and both are in the same region:

    conv1 (Conv2d) container=region  -> bn1 (BatchNorm2d) container=region
    ==>  conv1 (Conv2d) container=region  -> bn1 (BatchNorm2d) container=folded
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR

#: producer kind -> the BatchNorm kinds that can fold into it
FOLDABLE = {
    "Conv1d": ("BatchNorm1d",),
    "Conv2d": ("BatchNorm2d",),
    "Conv3d": ("BatchNorm3d",),
    "Linear": ("BatchNorm1d",),
}


def producer_of(ir: IR, path: str) -> str | None:
    """The Conv/Linear node that the BatchNorm at ``path`` can be folded into, if any."""
    node = ir.node(path)
    if not isinstance(node.op, ops.StatelessLayer) or node.region is None:
        return None
    sources = ir.inputs_of(path)
    if len(sources) != 1:
        return None
    src = ir.node(sources[0])
    if not isinstance(src.op, ops.StatelessLayer) or node.op.kind not in FOLDABLE.get(src.op.kind, ()):
        return None
    if src.region != node.region or ir.users_of(src.path) != [path]:
        return None
    if src.op.kind == "Linear" and len(node.shape or ()) != 1:
        return None  # BatchNorm1d over [C, L] after a Linear normalises the wrong axis
    return src.path


def fold_batchnorm(ir: IR) -> IR:
    for node in list(ir.nodes()):
        if producer_of(ir, node.path) is not None:
            ir.set(node.replace(container="folded"))
    return ir
