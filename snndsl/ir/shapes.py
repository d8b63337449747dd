"""Per-sample shape rules of the built-in ops.

Each rule takes the bound arguments (every parameter, defaults included) and the
incoming per-sample shape, and returns the output shape, or raises
:class:`ShapeProblem` with a sentence that infer-shapes turns into a located error.
``T`` and ``N`` never appear: ``[C, H, W]`` is one sample at one time step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import ops

Shape = tuple[int, ...]


class ShapeProblem(Exception):
    """The op cannot take this shape or these arguments; the message says why."""


def fmt(shape: Shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _tuple(v: Any, n: int, name: str) -> tuple[int, ...]:
    if isinstance(v, tuple):
        if len(v) != n:
            raise ShapeProblem(f"{name} has {len(v)} values but the layer works on {n} spatial dims")
        return v
    return (v,) * n


def _expect_rank(shape: Shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ShapeProblem(f"expects a per-sample shape {what} ({rank} dims), got {fmt(shape)}")


def _spatial(name: str, n: int) -> str:
    return {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}[n]


def _check_channels(a: dict, key: str, shape: Shape) -> None:
    if a[key] != shape[0]:
        raise ShapeProblem(f"{key}={a[key]} but the incoming value has {shape[0]} channels ({fmt(shape)})")


def _positive(a: dict, *keys: str) -> None:
    for k in keys:
        v = a[k]
        vals = v if isinstance(v, tuple) else (v,)
        if any(x <= 0 for x in vals):
            raise ShapeProblem(f"{k} must be positive, got {v}")


def _out_dims(sizes: Shape, out: list[int]) -> Shape:
    if any(d <= 0 for d in out):
        raise ShapeProblem(f"the output would be empty: {fmt(sizes)} shrinks to {fmt(tuple(out))}")
    return tuple(out)


def conv(n: int) -> Callable[[dict, Shape], Shape]:
    def rule(a: dict, shape: Shape) -> Shape:
        _expect_rank(shape, n + 1, _spatial("", n))
        _check_channels(a, "in_channels", shape)
        _positive(a, "out_channels", "kernel_size", "stride", "dilation", "groups")
        g = a["groups"]
        if a["in_channels"] % g or a["out_channels"] % g:
            raise ShapeProblem(f"in_channels and out_channels must be divisible by groups={g}")
        k, s, d = (_tuple(a[x], n, x) for x in ("kernel_size", "stride", "dilation"))
        pad = a["padding"]
        if pad == "same":
            p = tuple(di * (ki - 1) - di * (ki - 1) // 2 for ki, di in zip(k, d))  # the larger side of "same"
            _check_reflect(a, shape, p)
            return (a["out_channels"], *shape[1:])
        p = (0,) * n if pad == "valid" else _tuple(pad, n, "padding")
        _check_reflect(a, shape, p)
        out = [(shape[i + 1] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(n)]
        return (a["out_channels"], *_out_dims(shape[1:], out))

    return rule


def _check_reflect(a: dict, shape: Shape, pad: tuple[int, ...]) -> None:
    """torch reflects by less than the input size and wraps around (circular) at most once."""
    mode = a["padding_mode"]
    limit = {"reflect": 1, "circular": 0}.get(mode)
    if limit is not None and any(p > size - limit for p, size in zip(pad, shape[1:])):
        most = "smaller than" if limit else "at most"
        raise ShapeProblem(f'padding_mode="{mode}" needs padding {most} the input size, '
                           f"got padding={a['padding']} for {fmt(shape)}")


def conv_transpose(n: int) -> Callable[[dict, Shape], Shape]:
    def rule(a: dict, shape: Shape) -> Shape:
        _expect_rank(shape, n + 1, _spatial("", n))
        _check_channels(a, "in_channels", shape)
        _positive(a, "out_channels", "kernel_size", "stride", "dilation", "groups")
        g = a["groups"]
        if a["in_channels"] % g or a["out_channels"] % g:
            raise ShapeProblem(f"in_channels and out_channels must be divisible by groups={g}")
        k, s, d, p, op = (_tuple(a[x], n, x) for x in ("kernel_size", "stride", "dilation", "padding", "output_padding"))
        out = [(shape[i + 1] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(n)]
        return (a["out_channels"], *_out_dims(shape[1:], out))

    return rule


def pool(n: int, kind: str) -> Callable[[dict, Shape], Shape]:
    def rule(a: dict, shape: Shape) -> Shape:
        _expect_rank(shape, n + 1, _spatial("", n))
        if a.get("return_indices"):
            raise ShapeProblem("return_indices=true is not supported (a layer yields one value)")
        k = _tuple(a["kernel_size"], n, "kernel_size")
        s = _tuple(a["stride"] if a["stride"] is not None else a["kernel_size"], n, "stride")
        p = _tuple(a["padding"], n, "padding")
        d = _tuple(a.get("dilation", 1), n, "dilation")
        _positive({"kernel_size": k, "stride": s}, "kernel_size", "stride")
        if any(2 * p[i] > k[i] for i in range(n)):
            raise ShapeProblem(f"padding {a['padding']} must be at most half of kernel_size {a['kernel_size']}")
        out = []
        for i in range(n):
            num = shape[i + 1] + 2 * p[i] - d[i] * (k[i] - 1) - 1
            o = (-(-num // s[i]) if a["ceil_mode"] else num // s[i]) + 1
            if a["ceil_mode"] and (o - 1) * s[i] >= shape[i + 1] + p[i]:
                o -= 1
            out.append(o)
        return (shape[0], *_out_dims(shape[1:], out))

    return rule


def adaptive(n: int) -> Callable[[dict, Shape], Shape]:
    def rule(a: dict, shape: Shape) -> Shape:
        if len(shape) != n + 1:
            _expect_rank(shape, n + 1, _spatial("", n))
        size = a["output_size"]
        vals = size if isinstance(size, tuple) else (size,) * n
        if len(vals) != n:
            raise ShapeProblem(f"output_size has {len(vals)} values, expected {n}")
        if n == 1 and None in vals:  # torch's 1-d adaptive pool takes no None
            raise ShapeProblem("AdaptiveAvgPool1d needs an integer output size (`none` keeps a size only "
                               f"in 2-d and 3-d pools); to keep the length, write {shape[1]}")
        return (shape[0], *(shape[i + 1] if v is None else v for i, v in enumerate(vals)))

    return rule


def batchnorm(n: int) -> Callable[[dict, Shape], Shape]:
    def rule(a: dict, shape: Shape) -> Shape:
        ok = {1: (1, 2), 2: (3,), 3: (4,)}[n]
        if len(shape) not in ok:
            want = {1: "[C] or [C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}[n]
            raise ShapeProblem(f"expects a per-sample shape {want}, got {fmt(shape)}")
        if a["num_features"] != shape[0]:
            raise ShapeProblem(f"num_features={a['num_features']} but the incoming value has {shape[0]} channels ({fmt(shape)})")
        return shape

    return rule


def linear(a: dict, shape: Shape) -> Shape:
    if not shape:
        raise ShapeProblem("expects at least one per-sample dim")
    if a["in_features"] != shape[-1]:
        hint = " (add Flatten() before it?)" if len(shape) > 1 else ""
        raise ShapeProblem(f"in_features={a['in_features']} but the incoming value is {fmt(shape)}{hint}")
    _positive(a, "out_features")
    return (*shape[:-1], a["out_features"])


def layer_norm(a: dict, shape: Shape) -> Shape:
    ns = a["normalized_shape"]
    ns = ns if isinstance(ns, tuple) else (ns,)
    if tuple(shape[len(shape) - len(ns):]) != ns or len(ns) > len(shape):
        raise ShapeProblem(f"normalized_shape {fmt(ns)} does not match the trailing dims of {fmt(shape)}")
    return shape


def group_norm(a: dict, shape: Shape) -> Shape:
    if not shape or a["num_channels"] != shape[0]:
        raise ShapeProblem(f"num_channels={a['num_channels']} but the incoming value is {fmt(shape)}")
    if a["num_groups"] <= 0 or a["num_channels"] % a["num_groups"]:
        raise ShapeProblem(f"num_channels={a['num_channels']} is not divisible by num_groups={a['num_groups']}")
    return shape


def flatten(a: dict, shape: Shape) -> Shape:
    r = len(shape)
    s, e = a["start_dim"], a["end_dim"]
    s2, e2 = s + r if s < 0 else s, e + r if e < 0 else e
    if not (0 <= s2 < max(r, 1)) or not (0 <= e2 < max(r, 1)) or s2 > e2:
        raise ShapeProblem(f"start_dim={s}, end_dim={e} are out of range for the per-sample shape {fmt(shape)} "
                           f"(per-sample dims count from 0)")
    return (*shape[:s2], math.prod(shape[s2 : e2 + 1]), *shape[e2 + 1 :])


_MODE_RANK = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def upsample(a: dict, shape: Shape) -> Shape:
    n = len(shape) - 1
    if n not in (1, 2, 3):
        raise ShapeProblem(f"expects [C, L], [C, H, W] or [C, D, H, W], got {fmt(shape)}")
    want = _MODE_RANK.get(a["mode"])
    if want is not None and want != n:
        raise ShapeProblem(f'mode="{a["mode"]}" works on {_spatial("", want)}, got {fmt(shape)}')
    if (a["size"] is None) == (a["scale_factor"] is None):
        raise ShapeProblem("give exactly one of size and scale_factor")
    if a["size"] is not None:
        return (shape[0], *_tuple(a["size"], n, "size"))
    f = a["scale_factor"]
    fs = f if isinstance(f, tuple) else (f,) * n
    if len(fs) != n:
        raise ShapeProblem(f"scale_factor has {len(fs)} values, but {fmt(shape)} has {n} spatial "
                           f"dim{'s' if n != 1 else ''}")
    return (shape[0], *_out_dims(shape[1:], [int(math.floor(shape[i + 1] * fs[i])) for i in range(n)]))


def voting(a: dict, shape: Shape) -> Shape:
    v = a["voting_size"]
    if len(shape) != 1 or v <= 0:
        raise ShapeProblem(f"voting_size must be positive and the value must be a vector [C], got {fmt(shape)} "
                           "(add Flatten() before it?)")
    if shape[-1] % v:
        raise ShapeProblem(f"the last dim {shape[-1]} is not divisible by voting_size={v}")
    return (*shape[:-1], shape[-1] // v)


def same(a: dict, shape: Shape) -> Shape:
    return shape


def dropout2d(a: dict, shape: Shape) -> Shape:
    if len(shape) < 2:
        raise ShapeProblem(f"Dropout2d expects a per-sample shape with channels, e.g. [C, H, W], got {fmt(shape)}")
    return shape


def probability(a: dict, shape: Shape) -> Shape:
    if not 0 <= a["p"] < 1:
        raise ShapeProblem(f"p must be in [0, 1), got {a['p']}")
    return shape


# -- tensor operations (per-sample dims; negative dims count from the end) ---------------


def _dim(d: int, rank: int, what: str = "dim") -> int:
    """``d`` as an index into a per-sample shape of ``rank`` dims."""
    if not -rank <= d < rank:
        raise ShapeProblem(f"{what}={d} is out of range for a per-sample shape of {rank} dims "
                           f"(dims count from 0, or from -1 at the end; T and N are implicit)")
    return d % rank


def _dims(v: Any, rank: int) -> tuple[int, ...]:
    dims = tuple(_dim(d, rank) for d in (v if isinstance(v, tuple) else (v,)))
    if len(set(dims)) != len(dims):
        raise ShapeProblem(f"dim {v} names a dimension twice")
    return dims


def reshape(a: dict, shape: Shape) -> Shape:
    want = a["shape"]
    if not want:
        raise ShapeProblem("Reshape needs the new per-sample sizes, e.g. Reshape(4, -1)")
    if sum(1 for d in want if d == -1) > 1:
        raise ShapeProblem(f"Reshape{tuple(want)}: only one size may be -1")
    if any(d == 0 or d < -1 for d in want):
        raise ShapeProblem(f"Reshape{tuple(want)}: sizes must be positive (or one -1)")
    total, known = math.prod(shape), math.prod(d for d in want if d != -1)
    if -1 in want:
        if total % known:
            raise ShapeProblem(f"cannot reshape {fmt(shape)} ({total:,} elements) to {fmt(want)}: "
                               f"{total:,} is not divisible by {known:,}")
        return tuple(total // known if d == -1 else d for d in want)
    if known != total:
        raise ShapeProblem(f"cannot reshape {fmt(shape)} ({total:,} elements) to {fmt(want)} "
                           f"({known:,} elements): the sizes must multiply out to the same number")
    return tuple(want)


def permute(a: dict, shape: Shape) -> Shape:
    dims = a["dims"]
    if len(dims) != len(shape):
        raise ShapeProblem(f"Permute{tuple(dims)} names {len(dims)} dims but the value {fmt(shape)} has {len(shape)}")
    order = _dims(tuple(dims), len(shape))
    return tuple(shape[d] for d in order)


def transpose(a: dict, shape: Shape) -> Shape:
    d0, d1 = _dim(a["dim0"], len(shape), "dim0"), _dim(a["dim1"], len(shape), "dim1")
    out = list(shape)
    out[d0], out[d1] = out[d1], out[d0]
    return tuple(out)


def reduce(a: dict, shape: Shape) -> Shape:
    dims = _dims(a["dim"], len(shape))
    if a["keepdim"]:
        return tuple(1 if i in dims else d for i, d in enumerate(shape))
    out = tuple(d for i, d in enumerate(shape) if i not in dims)
    if not out:
        raise ShapeProblem(f"reducing every dim of {fmt(shape)} leaves a scalar per sample; "
                           "keep one dim (keepdim=true) or reduce fewer")
    return out


def scale(a: dict, shape: Shape) -> Shape:
    if not math.isfinite(a["factor"]):
        raise ShapeProblem(f"factor must be a finite number, got {a['factor']}")
    return shape


def select(a: dict, shape: Shape) -> Shape:
    d = _dim(a["dim"], len(shape))
    if not -shape[d] <= a["index"] < shape[d]:
        raise ShapeProblem(f"index {a['index']} is out of range for dim {a['dim']} of size {shape[d]} ({fmt(shape)})")
    out = shape[:d] + shape[d + 1:]
    if not out:
        raise ShapeProblem(f"selecting from {fmt(shape)} leaves a scalar per sample")
    return out


def chunk(a: dict, shape: Shape) -> Shape:
    d = _dim(a["dim"], len(shape))
    n = a["chunks"]
    if shape[d] % n:
        raise ShapeProblem(f"cannot split dim {a['dim']} of {fmt(shape)} ({shape[d]}) into {n} equal chunks")
    return (*shape[:d], shape[d] // n, *shape[d + 1:])


def matmul(ins: list[Shape]) -> Shape:
    """``torch.matmul`` of two per-sample tensors of rank >= 2 with the same leading dims."""
    a, b = ins
    if len(a) < 2 or len(b) < 2:
        raise ShapeProblem(f"matmul needs values of at least 2 dims, got {fmt(a)} and {fmt(b)}")
    if a[:-2] != b[:-2]:
        raise ShapeProblem(f"matmul of {fmt(a)} and {fmt(b)}: the leading dims {fmt(a[:-2])} and "
                           f"{fmt(b[:-2])} differ")
    if a[-1] != b[-2]:
        raise ShapeProblem(f"matmul of {fmt(a)} and {fmt(b)}: inner dims {a[-1]} and {b[-2]} differ")
    return (*a[:-1], b[-1])


def broadcast(ins: list[Shape]) -> Shape:
    """The shape of an element-wise merge with ``broadcast=true``: equal ranks, each dim
    equal or 1 in all but one operand."""
    first = ins[0]
    for s in ins[1:]:
        if len(s) != len(first):
            raise ShapeProblem(f"broadcast=true needs operands of equal rank, got {fmt(first)} and {fmt(s)}")
    out = []
    for i in range(len(first)):
        sizes = {s[i] for s in ins} - {1}
        if len(sizes) > 1:
            raise ShapeProblem(f"cannot broadcast {' and '.join(fmt(s) for s in ins)}: dim {i} has sizes "
                               f"{sorted(sizes)} (each dim must be equal or 1)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


#: the shape rule of every built-in layer class
RULES: dict[type, Callable[[dict, Shape], Shape]] = {
    ops.Conv1d: conv(1), ops.Conv2d: conv(2), ops.Conv3d: conv(3),
    ops.ConvTranspose1d: conv_transpose(1), ops.ConvTranspose2d: conv_transpose(2),
    ops.Linear: linear,
    ops.BatchNorm1d: batchnorm(1), ops.BatchNorm2d: batchnorm(2), ops.BatchNorm3d: batchnorm(3),
    ops.LayerNorm: layer_norm, ops.GroupNorm: group_norm,
    ops.MaxPool1d: pool(1, "max"), ops.MaxPool2d: pool(2, "max"), ops.MaxPool3d: pool(3, "max"),
    ops.AvgPool1d: pool(1, "avg"), ops.AvgPool2d: pool(2, "avg"), ops.AvgPool3d: pool(3, "avg"),
    ops.AdaptiveAvgPool1d: adaptive(1), ops.AdaptiveAvgPool2d: adaptive(2), ops.AdaptiveAvgPool3d: adaptive(3),
    ops.Flatten: flatten, ops.Identity: same, ops.Upsample: upsample,
    ops.ReLU: same, ops.Sigmoid: same, ops.Tanh: same, ops.GELU: same,
    ops.VotingLayer: voting,
    ops.Reshape: reshape, ops.Permute: permute, ops.Transpose: transpose, ops.Sum: reduce, ops.Mean: reduce,
    ops.Scale: scale, ops.Select: select, ops.Chunk: chunk, ops.Poisson: same,
    ops.IF: same, ops.LIF: same, ops.PLIF: same, ops.Delay: same,
    ops.Dropout: probability, ops.Dropout2d: lambda a, s: probability(a, dropout2d(a, s)),
}

#: which dim of the incoming shape an inferable (`_`) argument takes
INFER_FROM: dict[str, Callable[[Shape], Any]] = {
    "in_channels": lambda s: s[0],
    "num_features": lambda s: s[0],
    "num_channels": lambda s: s[0],
    "in_features": lambda s: s[-1],
    "normalized_shape": lambda s: s[-1],
}
