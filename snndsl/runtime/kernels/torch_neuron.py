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

Two op sequences compute this:

* *fast* (:mod:`.cpu_neuron`; CPU, float32/float64, spiking surrogate): in-place
  ops on cache-sized blocks, saving ``-H`` for the backward;
* *mirror* (here; everything else: other devices without Triton, float16/bfloat16,
  ``spiking=False``): the reference step ops themselves, so the
  result is bit-identical whatever the device's kernels do (CUDA's ``x / tau``, for one,
  multiplies by ``1/tau``). It saves only the inputs and the spikes (the output) and
  recomputes ``H`` in the backward.

Both give spikes and ``V`` bit-identical to the step loop of :mod:`.reference`.
"""

from __future__ import annotations

from typing import Any

import torch

from . import cpu_neuron
from .reference import NeuronSpec, charge, reset, step

__all__ = ["MultiStepNeuron", "use_fast_path"]

Tensor = torch.Tensor


def use_fast_path(spec: NeuronSpec, x: Tensor) -> bool:
    """Whether the in-place CPU sequence applies (and is bit-exact) for this call."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and spec.surrogate.spiking
    )


class MultiStepNeuron(torch.autograd.Function):
    """``(x_seq [T, *], v_init [*] | None, w | None) -> (spikes [T, *], v_seq | v_last)``.

    ``v_init=None`` means every neuron starts at the float ``v_fill`` (a fresh state):
    the fast path then needs no ``[N, *]`` tensor of it.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x_seq: Tensor,
        v_init: Tensor | None,
        w: Tensor | None,
        spec: NeuronSpec,
        store_v_seq: bool,
        fast: bool,
        v_fill: float = 0.0,
    ) -> tuple[Tensor, Tensor]:
        T = x_seq.shape[0]
        k = w.detach().sigmoid() if spec.kind == "plif" and w is not None else None
        x2 = x_seq.reshape(T, -1)
        if v_init is None and not fast:
            v_init = torch.full_like(x_seq[0], v_fill)
        v0 = None if v_init is None else v_init.reshape(-1)
        if fast:
            spikes, v_out, saved = cpu_neuron.forward(x2, v0, v_fill, k, spec, store_v_seq)
        else:
            spikes, v_out = _forward_mirror(x2, v0, k, spec, store_v_seq)
            saved = (x2, v0, spikes)
        ctx.save_for_backward(k, *saved)
        ctx.spec, ctx.store_v_seq, ctx.fast, ctx.v_fill = spec, store_v_seq, fast, v_fill
        ctx.x_shape = x_seq.shape
        ctx.set_materialize_grads(False)
        v_shape = x_seq.shape if store_v_seq else x_seq.shape[1:]
        return spikes.view(x_seq.shape), v_out.view(v_shape)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad_s: Tensor | None, grad_v: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        k, *saved = ctx.saved_tensors
        T = ctx.x_shape[0]
        M = saved[0].numel() // T
        gs2 = None if grad_s is None else grad_s.reshape(T, M)
        gv = None if grad_v is None else grad_v.reshape((T, M) if ctx.store_v_seq else (M,))
        if ctx.fast:
            gx, gv0, gk = cpu_neuron.backward(
                ctx.spec, tuple(saved), ctx.v_fill, k, gs2, gv, ctx.store_v_seq,
                ctx.needs_input_grad[1],
            )  # fmt: skip
        else:
            x2, v0, spikes = saved
            gx, gv0, gk = _backward_mirror(ctx.spec, x2, v0, spikes, k, gs2, gv, ctx.store_v_seq)
        gw = None
        if k is not None and ctx.needs_input_grad[2]:
            gw = (gk * k * (1.0 - k)).to(k.dtype)
        gv_init = gv0.view(ctx.x_shape[1:]) if ctx.needs_input_grad[1] else None
        return gx.view(ctx.x_shape), gv_init, gw, None, None, None, None


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
