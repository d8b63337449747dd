"""Layers computed in another form than their module's call: folded together for eval-mode
inference (the fold-batchnorm pass), or on channels-last tokens (the channels-last pass).

``conv_bn(conv, bn, x)`` equals ``bn(conv(x))`` and ``linear_bn(linear, bn, x)`` equals
``bn(linear(x))``. When ``bn`` is in eval mode with running statistics, the BatchNorm's
per-channel affine map is folded into the weight and bias first, so the activations are
read and written once instead of twice. With gradients enabled the folding runs on
every call (a few weight-sized ops), so gradients flow to every parameter; under
``no_grad`` the folded tensors are cached on the BatchNorm module and recomputed when any
tensor they come from changes (version counter, storage, dtype or device), so
``load_state_dict``, an optimiser step or ``.to()`` never leave a stale fold.
(``torch.nn.utils.fusion`` has the same formulas but returns new ``nn.Parameter``
objects, which would not carry gradients back to the layers.)

``pointwise_conv1d(conv, x)`` equals ``conv(x)`` for a Conv1d with kernel size 1 on
``[N, C, L]``, and ``tokens_batch_norm(bn, x)`` equals ``bn(x)`` for a BatchNorm1d on
``[N, C, L]``, both to rounding: they compute on the tokens as ``[N, L, C]`` memory (a view
when ``x`` is channels-last) and return that layout.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["conv_bn", "linear_bn", "pointwise_conv1d", "repeated_batch_norm", "tokens_batch_norm"]

_Conv = nn.Conv1d | nn.Conv2d | nn.Conv3d


def _foldable(bn: _BatchNorm) -> bool:
    return not bn.training and bn.running_mean is not None and bn.running_var is not None


def _fold(weight: torch.Tensor, bias: torch.Tensor | None, bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    mean, var = bn.running_mean, bn.running_var
    assert mean is not None and var is not None  # _foldable(bn)
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = bn.weight * scale
    shift = -mean * scale if bias is None else (bias - mean) * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    w = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return w, shift


def _folded(layer: _Conv | nn.Linear, bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """The folded weight and bias; under ``no_grad`` cached on ``bn`` until a tensor they
    come from changes (its version counter moves: optimiser steps, ``load_state_dict``)
    or is replaced (``.to()``, a copy)."""
    if torch.is_grad_enabled() or torch.compiler.is_compiling():
        return _fold(layer.weight, layer.bias, bn)
    sources = (layer.weight, layer.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)
    key = (float(bn.eps),) + tuple(
        None if t is None else (t.data_ptr(), t._version, t.dtype, t.device) for t in sources
    )
    cached = bn.__dict__.get("_snndsl_folded")
    if cached is not None and cached[0] == key:
        return cached[1]
    folded = _fold(layer.weight, layer.bias, bn)
    bn.__dict__["_snndsl_folded"] = (key, folded)
    return folded


def repeated_batch_norm(bn: _BatchNorm, x: torch.Tensor, repeats: int) -> torch.Tensor:
    """``bn`` on ``x`` as if ``x`` were repeated ``repeats`` times along the batch (a
    static image shown at every one of T steps), without making the copies.

    The output is the same either way: repeating changes neither the batch mean nor the
    biased variance that normalise it. Only the running variance differs: its unbiased
    estimate divides by ``repeats * n - 1`` rather than ``n - 1``; this updates the running
    statistics exactly as ``bn`` would on the repeated batch (SpikingJelly's
    ``x.repeat(T, ...)``)."""
    if not (bn.training and bn.track_running_stats and bn.running_mean is not None
            and bn.running_var is not None) or repeats == 1:
        return bn(x)
    bn._check_input_dim(x)
    out = F.batch_norm(x, None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
    with torch.no_grad():
        assert bn.num_batches_tracked is not None
        bn.num_batches_tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
        dims = [0, *range(2, x.dim())]
        n = repeats * (x.numel() // x.shape[1])
        mean = x.mean(dims)
        var = x.var(dims, correction=0) * (n / (n - 1))
        bn.running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
        bn.running_var.mul_(1.0 - momentum).add_(var, alpha=momentum)
    return out


def conv_bn(conv: _Conv, bn: _BatchNorm, x: torch.Tensor, repeats: int = 1) -> torch.Tensor:
    """``bn(conv(x))`` for a Conv1d/2d/3d followed by its BatchNorm (``repeats``: see
    :func:`repeated_batch_norm`)."""
    if not _foldable(bn):
        return repeated_batch_norm(bn, conv(x), repeats)
    weight, bias = _folded(conv, bn)
    return conv._conv_forward(x, weight, bias)


def linear_bn(linear: nn.Linear, bn: _BatchNorm, x: torch.Tensor, repeats: int = 1) -> torch.Tensor:
    """``bn(linear(x))`` for a Linear followed by a BatchNorm1d over its features."""
    if not _foldable(bn):
        return repeated_batch_norm(bn, linear(x), repeats)
    weight, bias = _folded(linear, bn)
    return F.linear(x, weight, bias)


def pointwise_conv1d(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a pointwise Conv1d (kernel 1, stride 1, no padding, one group) on
    ``[N, C, L]``, as a 1x1 Conv2d on the ``[N, C, 1, L]`` view: when ``x`` is channels-last
    (``[N, L, C]`` in memory) that view is channels-last too and oneDNN runs its 1x1
    channels-last kernel, forward and backward; the result keeps the layout. (Measured on
    Spikformer's shapes, forward and backward: 20 % faster than the Conv1d on contiguous
    tokens and than MKL's GEMM on the ``[N*L, C]`` matrix.)"""
    if x.dim() != 3:
        return conv(x)
    return F.conv2d(x.unsqueeze(2), conv.weight.unsqueeze(-1), conv.bias).squeeze(2)


def tokens_batch_norm(bn: _BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """``bn(x)`` for a BatchNorm1d on ``[N, C, L]``: the same statistics (per channel, over
    the ``N*L`` tokens), computed on the ``[N*L, C]`` token matrix; the result is
    channels-last."""
    if x.dim() != 3:
        return bn(x)
    tokens = x.transpose(1, 2)
    return bn(tokens.reshape(-1, x.shape[1])).view(tokens.shape).transpose(1, 2)
