r"""Fused multi-step IF/LIF/PLIF in PyTorch: one ``autograd.Function`` for all T steps.

Forward runs the T-step loop; backward runs backpropagation through time by hand.
Writing ``g`` for the gradient reaching ``V[t]`` (from ``H[t+1]`` and from the caller)
and ``sg = surrogate'(H[t] - v_th)``:

    dV/dH = (1 - S) + (vr - H) sg     hard reset      (the ``sg`` term dropped when
    dV/dH = 1 - v_th sg               soft reset       ``detach_reset``)
    grad_H = grad_S sg + g dV/dH
    grad_X[t] = grad_H dH/dX          (1 for IF and for ``decay_input=False``; 1/tau or k)
    g <- grad_H dH/dV                 (1 for IF; 1 - 1/tau or 1 - k)
    grad_k += sum(grad_H (X - (V[t-1] - vr)))    PLIF, ``decay_input``
    grad_k -= sum(grad_H (V[t-1] - vr))          PLIF, otherwise

and finally ``grad_V[-1] = g`` and ``grad_w = grad_k k (1 - k)``.

Three implementations compute this, chosen per call by :func:`select_path`:

* *native* (:mod:`.native_neuron`; CPU, float32, the eight spiking surrogates): the whole
  loop as one compiled C pass over memory; it saves the input, not ``H``, and the
  backward recomputes ``H`` block by block (the same operations) while it is in cache;
* *aten* (:mod:`.aten_neuron`; CPU, float32/float64, spiking surrogate, when the native
  kernel is off or cannot be built): in-place ATen ops on cache-sized blocks, saving
  ``-H`` too;
* *mirror* (here; everything else: other devices without Triton, float16/bfloat16,
  ``spiking=False``): the reference step ops themselves, so the
  result is bit-identical whatever the device's kernels do (CUDA's ``x / tau``, for one,
  multiplies by ``1/tau``). It saves only the inputs and the spikes (the output) and
  recomputes ``H`` in the backward.

All give spikes and ``V`` bit-identical to the step loop of :mod:`.reference`.

Any dense layout is accepted without a copy (e.g. ``[T, N, C, H, W]`` whose steps are
channels-last): the neurons are element-wise, so the kernels run over the memory order
and the outputs get the input's strides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from . import aten_neuron, native_neuron
from .reference import NeuronSpec, charge, reset, step

__all__ = ["MultiStepNeuron", "in_memory_order", "select_path"]

Tensor = torch.Tensor

_IMPLEMENTATIONS = {"native": native_neuron, "aten": aten_neuron}


def select_path(spec: NeuronSpec, x: Tensor) -> str:
    """``'native'``, ``'aten'`` or ``'mirror'``: the implementation for this call.

    While ``torch.compile`` traces, the mirror: plain tensor ops that Inductor fuses.
    """
    if torch.compiler.is_compiling():
        return "mirror"
    if native_neuron.supports(spec, x):
        return "native"
    if (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and spec.surrogate.spiking
    ):
        return "aten"
    return "mirror"


def _memory_order(x: Tensor) -> list[int] | None:
    """A permutation ``p`` with ``p[0] == 0`` and ``x.permute(p)``'s steps contiguous
    (``x[0]`` dense in that order), if ``x`` is not already in that form."""
    if x.is_contiguous() or x.dim() < 2:
        return None
    strides = x.stride()
    rest = sorted(range(1, x.dim()), key=lambda d: -strides[d])
    order = [0, *rest]
    if x[0].permute([d - 1 for d in rest]).is_contiguous():
        return order
    return None


def in_memory_order(
    fn: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]],
    x_seq: Tensor,
    v_init: Tensor,
    store_v_seq: bool,
) -> tuple[Tensor, Tensor]:
    """``fn(x_seq, v_init) -> (spikes, v)`` run on ``x_seq`` permuted to its memory order
    (a view; autograd undoes the permutation), so a kernel that flattens its input reads
    e.g. channels-last steps without a copy and its outputs keep the input's layout."""
    order = _memory_order(x_seq)
    if order is None:
        return fn(x_seq, v_init)
    rest = [d - 1 for d in order[1:]]
    spikes, v = fn(x_seq.permute(order), v_init.permute(rest))
    inv = _inverse(order)
    return spikes.permute(inv), v.permute(inv if store_v_seq else [d - 1 for d in inv[1:]])


def _inverse(order: list[int]) -> list[int]:
    inv = [0] * len(order)
    for i, d in enumerate(order):
        inv[d] = i
    return inv


class MultiStepNeuron(torch.autograd.Function):
    """``(x_seq [T, *], v_init [*] | None, w | None) -> (spikes [T, *], v_seq | v_last)``.

    ``v_init=None`` means every neuron starts at the float ``v_fill`` (a fresh state):
    the native and aten paths then need no ``[N, *]`` tensor of it.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x_seq: Tensor,
        v_init: Tensor | None,
        w: Tensor | None,
        spec: NeuronSpec,
        store_v_seq: bool,
        path: str,
        v_fill: float = 0.0,
    ) -> tuple[Tensor, Tensor]:
        T = x_seq.shape[0]
        k = w.detach().sigmoid() if spec.kind == "plif" and w is not None else None
        order = _memory_order(x_seq) if path != "mirror" else None
        if order is not None:  # run over the memory order; outputs get x's strides
            x_seq = x_seq.permute(order)
            if v_init is not None:
                v_init = v_init.permute([d - 1 for d in order[1:]])
        x2 = x_seq.reshape(T, -1)
        if v_init is None and path == "mirror":
            v_init = torch.full_like(x_seq[0], v_fill)
        v0 = None if v_init is None else v_init.reshape(-1)
        if path == "mirror":
            assert v0 is not None  # filled in above for the mirror path
            spikes, v_out = _forward_mirror(x2, v0, k, spec, store_v_seq)
            saved = (x2, v0, spikes)
        else:
            impl = _IMPLEMENTATIONS[path]
            spikes, v_out, saved = impl.forward(x2, v0, v_fill, k, spec, store_v_seq)
        ctx.save_for_backward(k, *saved)
        ctx.spec, ctx.store_v_seq, ctx.path, ctx.v_fill = spec, store_v_seq, path, v_fill
        ctx.x_shape, ctx.order = x_seq.shape, order
        ctx.set_materialize_grads(False)
        v_shape = x_seq.shape if store_v_seq else x_seq.shape[1:]
        spikes, v_out = spikes.view(x_seq.shape), v_out.view(v_shape)
        if order is not None:
            inv = _inverse(order)
            spikes = spikes.permute(inv)
            v_out = v_out.permute(inv if store_v_seq else [d - 1 for d in inv[1:]])
        return spikes, v_out

    @staticmethod
    def backward(
        ctx: Any, grad_s: Tensor | None, grad_v: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        k, *saved = ctx.saved_tensors
        T = ctx.x_shape[0]
        M = math.prod(ctx.x_shape[1:])
        order = ctx.order
        if order is not None:  # the gradients in the forward's memory order
            if grad_s is not None:
                grad_s = grad_s.permute(order)
            if grad_v is not None:
                grad_v = grad_v.permute(order if ctx.store_v_seq else [d - 1 for d in order[1:]])
        gs2 = None if grad_s is None else grad_s.reshape(T, M)
        gv = None if grad_v is None else grad_v.reshape((T, M) if ctx.store_v_seq else (M,))
        if ctx.path == "mirror":
            x2, v0, spikes = saved
            gx, gv0, gk = _backward_mirror(ctx.spec, x2, v0, spikes, k, gs2, gv, ctx.store_v_seq)
        else:
            gx, gv0, gk = _IMPLEMENTATIONS[ctx.path].backward(
                ctx.spec, tuple(saved), ctx.v_fill, k, gs2, gv, ctx.store_v_seq,
                ctx.needs_input_grad[1],
            )  # fmt: skip
        gw = None
        if k is not None and ctx.needs_input_grad[2]:
            gw = (gk * k * (1.0 - k)).to(k.dtype)
        gx = gx.view(ctx.x_shape)
        gv_init = gv0.view(ctx.x_shape[1:]) if ctx.needs_input_grad[1] else None
        if order is not None:
            inv = _inverse(order)
            gx = gx.permute(inv)
            if gv_init is not None:
                gv_init = gv_init.permute([d - 1 for d in inv[1:]])
        return gx, gv_init, gw, None, None, None, None


# -- mirror: the reference ops, one whole step at a time -----------------------------------
def _forward_mirror(
    x2: Tensor, v0: Tensor, k: Tensor | None, spec: NeuronSpec, store_v_seq: bool
) -> tuple[Tensor, Tensor]:
    spikes = torch.empty(x2.shape, dtype=x2.dtype, device=x2.device)
    v_seq = torch.empty_like(spikes) if store_v_seq else None
    v = v0
    for t in range(x2.shape[0]):
        s, v, _ = step(spec, x2[t], v, k)
        spikes[t] = s
        if v_seq is not None:
            v_seq[t] = v
    return spikes, (v_seq if v_seq is not None else v)


def _backward_mirror(
    spec: NeuronSpec,
    x2: Tensor,
    v0: Tensor,
    spikes: Tensor,
    k: Tensor | None,
    gs2: Tensor | None,
    gv_out: Tensor | None,
    store_v_seq: bool,
) -> tuple[Tensor, Tensor, Tensor | None]:
    T = spikes.shape[0]
    vth, vr = spec.v_threshold, spec.vr
    v_prev, h_seq = [v0], []
    for t in range(T):  # recompute H[t] and V[t-1] exactly as the forward did
        h_seq.append(charge(spec, x2[t], v_prev[-1], k))
        v_prev.append(reset(spec, h_seq[-1], spikes[t]))
    gx = torch.empty_like(spikes)
    g = torch.zeros_like(v0) if gv_out is None or store_v_seq else gv_out.clone()
    gk = torch.zeros((), dtype=torch.float64, device=v0.device) if k is not None else None
    for t in range(T - 1, -1, -1):
        if store_v_seq and gv_out is not None:
            g = g + gv_out[t]
        h, s = h_seq[t], spikes[t]
        sg = spec.surrogate.derivative(h - vth)
        if spec.v_reset is None:
            dv_dh = 1.0 if spec.detach_reset else 1.0 - vth * sg
        else:
            dv_dh = 1.0 - s if spec.detach_reset else (1.0 - s) + (vr - h) * sg
        grad_h = g * dv_dh
        if gs2 is not None:
            grad_h = grad_h + gs2[t] * sg
        if spec.kind == "if":
            gx[t] = g = grad_h
        elif spec.kind == "lif":
            gx[t] = grad_h / spec.tau if spec.decay_input else grad_h
            g = grad_h - grad_h / spec.tau
        else:
            assert k is not None and gk is not None
            gx[t] = grad_h * k if spec.decay_input else grad_h
            dh_dk = x2[t] - (v_prev[t] - vr) if spec.decay_input else -(v_prev[t] - vr)
            gk += (grad_h * dh_dk).sum(dtype=torch.float64)
            g = grad_h - grad_h * k
    return gx, g, gk
