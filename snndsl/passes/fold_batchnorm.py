"""fold-batchnorm (opt-in, ``-O inference``): a BatchNorm right after a Conv or Linear is
folded into it for eval-mode inference.

In eval mode BatchNorm is an affine map per channel, ``y = (x - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``, so ``bn(conv(x, W, b)) == conv(x, W * s, (b - mean) * s
+ beta)``: one pass over the activations instead of two. The pass replaces the pair by
one ``FoldedNorm`` node (at the BatchNorm's path, holding both layers' ops); it runs as
``fused.conv_bn(self.conv1, self.bn1, x)`` (:mod:`snndsl.runtime.fused`), which folds
the *current* parameters and running statistics on every call (a few weight-sized ops),
so the module keeps every layer and ``state_dict`` key, loads trained weights as they
are, stays differentiable, and falls back to ``bn(conv(x))`` whenever the BatchNorm is
in training mode or has no running statistics. Outputs equal the unfolded model's to
float rounding (a spike can flip where ``H`` lands within rounding of ``v_th``).

A pair is folded only when the producer's one user is the BatchNorm (spec: "only when
the producer has one user"), both are in the same region, and the BatchNorm normalises
the producer's channels (``ConvNd`` + ``BatchNormNd``; ``Linear`` + ``BatchNorm1d`` over
``[C]``):

    x -> conv1 (Conv2d) -> bn1 (BatchNorm2d) -> sn1
    ==>  x -> bn1 (FoldedNorm: conv1 + bn1) -> sn1
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR


def foldable(producer: ops.Op, norm: ops.Op, norm_shape: tuple[int, ...] | None) -> bool:
    if not isinstance(norm, ops.BatchNorm):
        return False
    if isinstance(producer, ops.Conv):
        return producer.dims == norm.dims
    # BatchNorm1d over [C, L] after a Linear normalises the wrong axis
    return isinstance(producer, ops.Linear) and norm.dims == 1 and len(norm_shape or ()) == 1


def producer_of(ir: IR, path: str) -> str | None:
    """The Conv/Linear node that the BatchNorm at ``path`` can be folded into, if any."""
    node = ir.node(path)
    sources = ir.inputs_of(path)
    if node.region is None or len(sources) != 1:
        return None
    src = ir.node(sources[0])
    if not foldable(src.op, node.op, node.shape) or src.region != node.region or ir.users_of(src.path) != [path]:
        return None
    return src.path


def fold_batchnorm(ir: IR) -> IR:
    for node in list(ir.nodes()):
        producer = producer_of(ir, node.path)
        if producer is None:
            continue
        p = ir.node(producer)
        (x,) = ir.inputs_of(producer)
        assert isinstance(p.op, ops.Layer) and isinstance(node.op, ops.Layer)  # foldable() checked both
        op = ops.FoldedNorm(p.op, producer, node.op)
        ir.set(node.replace(op=op, generated=False))
        ir.remove(producer)
        ir.connect(x, node.path, 0)
    return ir
