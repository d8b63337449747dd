r"""Triton kernels for the multi-step IF/LIF/PLIF: one program per block of neurons, the
time loop inside the program.

The forward kernel reads ``X[t]`` and writes ``S[t]`` and ``H[t]`` (float32, kept for the
backward) for ``t = 0..T-1`` while ``V`` lives in registers. The backward kernel walks
``t = T-1..0`` with the gradient reaching ``V`` in registers, applying the equations of
:mod:`.torch_neuron`'s docstring; PLIF's ``grad_k`` is reduced per program and summed on
the host (deterministic, no atomics).

Bit-exactness with the step loop on CUDA: each op rounds to the input dtype as PyTorch's
element-wise kernels do, floating-point contraction is disabled (``enable_fp_fusion``),
and ``/ tau`` is a multiplication by the float32 ``1/tau`` because that is what PyTorch's
CUDA division by a Python scalar computes. (Checked with ``TRITON_INTERPRET=1`` on CPU,
where the reference divides exactly; see ``tests/runtime/test_triton_kernel.py``.)

This module imports without Triton; :func:`available` then returns ``False``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .. import surrogate as sg
from .reference import SURROGATE_IDS, NeuronSpec

try:  # optional: the PyTorch path is the fallback
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the environment
    triton = None
    tl = None

__all__ = ["available", "supports", "surrogate_args", "surrogate_grad", "TritonMultiStepNeuron"]

_KINDS = {"if": 0, "lif": 1, "plif": 2}
_BLOCK = 1024


def supports(spec: NeuronSpec, x: torch.Tensor) -> bool:
    """Whether the kernels implement this neuron and dtype (device aside)."""
    return (
        triton is not None
        and spec.surrogate.spiking
        and type(spec.surrogate) in SURROGATE_IDS
        and x.dtype in (torch.float32, torch.float16, torch.bfloat16)
    )


def available(spec: NeuronSpec, x: torch.Tensor) -> bool:
    """Whether :func:`.multi_step` should run the Triton kernels for this call."""
    return x.is_cuda and supports(spec, x)


if triton is not None:

    @triton.jit
    def _round(v, DT: tl.constexpr):
        # Round an fp32 intermediate to the input dtype, as a PyTorch op would.
        return v.to(DT, fp_downcast_rounding="rtne").to(tl.float32)

    @triton.jit
    def surrogate_grad(z, SG: tl.constexpr, a, b):
        """``surrogate'(z)`` (float32) of surrogate number ``SG`` (``reference.SURROGATE_IDS``)
        with parameters ``a``, ``b`` (:func:`surrogate_args`), SpikingJelly's formulas; the
        one copy, shared with the generated kernels (:mod:`.program_triton`)."""
        if SG == 0:
            s = tl.sigmoid(a * z)
            r = a * s * (1.0 - s)
        elif SG == 1:
            c = 1.5707963267948966 * a * z
            r = (a * 0.5) / (1.0 + c * c)
        elif SG == 2:
            r = tl.where(tl.abs(z) > 1.0 / a, 0.0, a - a * a * tl.abs(z))
        elif SG == 3:
            r = a * 0.5 * tl.exp(-a * tl.abs(z))
        elif SG == 4:
            d = 1.0 / a + tl.abs(z)
            r = 1.0 / (2.0 * a * d * d)
        elif SG == 5:
            r = a * 0.5641895835477563 * tl.exp(-(a * z) * (a * z))
        elif SG == 6:
            d = tl.abs(z) + 1.0
            r = a / (d * d)
        elif SG == 7:
            r = tl.where(tl.abs(z) < a, 0.5 / a, b)
        else:  # 8: Rect (the generated kernels' table, program_triton.SURROGATES)
            r = tl.where(tl.abs(z) < 0.5 / a, a, 0.0)
        return r

    @triton.jit
    def _decay(d, k, tau, inv_tau, KIND: tl.constexpr, DIV: tl.constexpr, DT: tl.constexpr):
        # ``d / tau`` (LIF) or ``d * k`` (PLIF). PyTorch divides by a Python scalar on CPU
        # but multiplies by its float32 reciprocal on CUDA; follow the device.
        if KIND == 1:
            if DIV:
                r = _round(d / tau, DT)
            else:
                r = _round(d * inv_tau, DT)
        else:
            r = _round(d * k, DT)
        return r

    @triton.jit
    def _charge(
        x, v, k, vr, tau, inv_tau,
        KIND: tl.constexpr, DECAY: tl.constexpr, DIV: tl.constexpr, DT: tl.constexpr,
    ):  # fmt: skip
        if KIND == 0:  # V + X
            h = _round(v + x, DT)
        elif DECAY:  # V + (X - (V - vr)) / tau, or * k
            d = _round(x - _round(v - vr, DT), DT)
            h = _round(v + _decay(d, k, tau, inv_tau, KIND, DIV, DT), DT)
        else:  # V - (V - vr) / tau + X, or * k
            d = _decay(_round(v - vr, DT), k, tau, inv_tau, KIND, DIV, DT)
            h = _round(_round(v - d, DT) + x, DT)
        return h

    @triton.jit
    def _reset(h, spike, v_th, v_reset, HARD: tl.constexpr, DT: tl.constexpr):
        if HARD:
            v = _round(tl.where(spike > 0.0, v_reset, h), DT)
        else:
            v = tl.where(spike > 0.0, _round(h - v_th, DT), h)
        return v

    @triton.jit
    def _forward_kernel(
        x_ptr, v0_ptr, k_ptr, s_ptr, h_ptr, v_ptr, M, T, v_th, v_reset, vr, tau, inv_tau,
        KIND: tl.constexpr, DECAY: tl.constexpr, HARD: tl.constexpr, DIV: tl.constexpr,
        STORE_V_SEQ: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < M
        DT = x_ptr.dtype.element_ty
        v = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        k = 0.0
        if KIND == 2:
            k = tl.load(k_ptr).to(tl.float32)
        for t in range(T):
            x = tl.load(x_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)
            h = _charge(x, v, k, vr, tau, inv_tau, KIND, DECAY, DIV, DT)
            spike = tl.where(_round(h - v_th, DT) >= 0.0, 1.0, 0.0)
            v = _reset(h, spike, v_th, v_reset, HARD, DT)
            tl.store(s_ptr + t * M + offs, spike.to(DT), mask=mask)
            tl.store(h_ptr + t * M + offs, h, mask=mask)
            if STORE_V_SEQ:
                tl.store(v_ptr + t * M + offs, v.to(DT), mask=mask)
        if not STORE_V_SEQ:
            tl.store(v_ptr + offs, v.to(DT), mask=mask)

    @triton.jit
    def _backward_kernel(
        gs_ptr, gv_ptr, h_ptr, x_ptr, v0_ptr, k_ptr, gx_ptr, gv0_ptr, gk_ptr,
        M, T, v_th, v_reset, vr, tau, a, b,
        KIND: tl.constexpr, DECAY: tl.constexpr, HARD: tl.constexpr, DETACH: tl.constexpr,
        SG: tl.constexpr, HAS_GS: tl.constexpr, HAS_GV: tl.constexpr,
        STORE_V_SEQ: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        mask = offs < M
        DT = gx_ptr.dtype.element_ty
        g = tl.zeros([BLOCK], dtype=tl.float32)
        if HAS_GV and not STORE_V_SEQ:
            g = tl.load(gv_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        k = 0.0
        if KIND == 2:
            k = tl.load(k_ptr).to(tl.float32)
        gk = tl.zeros([BLOCK], dtype=tl.float32)
        for i in range(T):
            t = T - 1 - i
            if HAS_GV and STORE_V_SEQ:
                g += tl.load(gv_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)
            h = tl.load(h_ptr + t * M + offs, mask=mask, other=0.0)
            spike = tl.where(h >= v_th, 1.0, 0.0)
            sgr = surrogate_grad(h - v_th, SG, a, b)
            if HARD:
                dv_dh = 1.0 - spike
                if not DETACH:
                    dv_dh += (v_reset - h) * sgr
            else:
                dv_dh = tl.full([BLOCK], 1.0, tl.float32)
                if not DETACH:
                    dv_dh -= v_th * sgr
            grad_h = g * dv_dh
            if HAS_GS:
                grad_h += tl.load(gs_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32) * sgr
            gx = grad_h
            if KIND == 1:
                if DECAY:
                    gx = grad_h / tau
                g = grad_h - grad_h / tau
            elif KIND == 2:
                if DECAY:
                    gx = grad_h * k
                if t == 0:
                    v_prev = tl.load(v0_ptr + offs, mask=mask, other=0.0).to(tl.float32)
                else:
                    h_prev = tl.load(h_ptr + (t - 1) * M + offs, mask=mask, other=0.0)
                    s_prev = tl.where(h_prev >= v_th, 1.0, 0.0)
                    v_prev = _reset(h_prev, s_prev, v_th, v_reset, HARD, DT)
                if DECAY:
                    x = tl.load(x_ptr + t * M + offs, mask=mask, other=0.0).to(tl.float32)
                    gk += grad_h * (x - (v_prev - vr))
                else:
                    gk -= grad_h * (v_prev - vr)
                g = grad_h - grad_h * k
            else:
                g = grad_h
            tl.store(gx_ptr + t * M + offs, gx.to(DT), mask=mask)
        tl.store(gv0_ptr + offs, g.to(DT), mask=mask)
        if KIND == 2:
            tl.store(gk_ptr + pid, tl.sum(tl.where(mask, gk, 0.0), axis=0))


def _in_dtype(value: float, dtype: torch.dtype) -> float:
    return torch.tensor(value, dtype=dtype).item()


def surrogate_args(fn: sg.SurrogateFunctionBase) -> tuple[int, float, float]:
    """``(SG, a, b)`` of :func:`surrogate_grad` for the surrogate ``fn``."""
    if isinstance(fn, sg.PiecewiseLeakyReLU):
        return SURROGATE_IDS[type(fn)], fn.w, fn.c
    return SURROGATE_IDS[type(fn)], fn.params["alpha"], 0.0


class TritonMultiStepNeuron(torch.autograd.Function):
    """Same interface and results as :class:`.torch_neuron.MultiStepNeuron`."""

    @staticmethod
    def forward(
        ctx: Any,
        x_seq: torch.Tensor,
        v_init: torch.Tensor,
        w: torch.Tensor | None,
        spec: NeuronSpec,
        store_v_seq: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        T = x_seq.shape[0]
        x2 = x_seq.reshape(T, -1).contiguous()
        M = x2.shape[1]
        v0 = v_init.reshape(-1).contiguous()
        k = w.detach().sigmoid().reshape(1) if spec.kind == "plif" and w is not None else v0
        spikes = torch.empty_like(x2)
        h_seq = torch.empty(x2.shape, dtype=torch.float32, device=x2.device)
        v_out = torch.empty_like(x2) if store_v_seq else torch.empty_like(v0)
        # PyTorch rounds a Python scalar to the tensor's dtype before adding it (and, on
        # CUDA, before taking the reciprocal it multiplies by); pass the same numbers.
        v_th, vr, tau = (_in_dtype(c, x2.dtype) for c in (spec.v_threshold, spec.vr, spec.tau))
        if x2.is_cuda:
            inv_tau = float(np.float32(1.0) / np.float32(tau))
        else:  # the CPU (TRITON_INTERPRET) divides by the float32 value exactly
            inv_tau, tau = 1.0 / spec.tau, float(np.float32(spec.tau))
        _forward_kernel[(triton.cdiv(M, _BLOCK),)](
            x2, v0, k, spikes, h_seq, v_out, M, T, v_th, vr, vr, tau, inv_tau,
            KIND=_KINDS[spec.kind], DECAY=spec.decay_input, HARD=spec.v_reset is not None,
            DIV=not x2.is_cuda, STORE_V_SEQ=store_v_seq, BLOCK=_BLOCK, enable_fp_fusion=False,
        )  # fmt: skip
        plif = spec.kind == "plif"
        ctx.save_for_backward(h_seq, x2 if plif else None, v0, k if plif else None)
        ctx.spec, ctx.store_v_seq = spec, store_v_seq
        ctx.x_shape, ctx.v_shape = x_seq.shape, v_init.shape
        ctx.set_materialize_grads(False)
        v_shape = x_seq.shape if store_v_seq else v_init.shape
        return spikes.view(x_seq.shape), v_out.view(v_shape)

    @staticmethod
    def backward(
        ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        h_seq, x2, v0, k = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        T, M = h_seq.shape
        dtype = v0.dtype
        gx = torch.empty((T, M), dtype=dtype, device=h_seq.device)
        gv0 = torch.empty_like(v0)
        grid = triton.cdiv(M, _BLOCK)
        gk = torch.empty(grid, dtype=torch.float32, device=h_seq.device)
        gs = grad_s.reshape(T, M).contiguous() if grad_s is not None else gx
        gv = grad_v.reshape(-1).contiguous() if grad_v is not None else gx
        sg_id, a, b = surrogate_args(spec.surrogate)
        _backward_kernel[(grid,)](
            gs, gv, h_seq, x2 if x2 is not None else h_seq, v0, k if k is not None else v0,
            gx, gv0, gk, M, T, spec.v_threshold, spec.vr, spec.vr, spec.tau, a, b,
            KIND=_KINDS[spec.kind], DECAY=spec.decay_input, HARD=spec.v_reset is not None,
            DETACH=spec.detach_reset, SG=sg_id, HAS_GS=grad_s is not None,
            HAS_GV=grad_v is not None, STORE_V_SEQ=ctx.store_v_seq, BLOCK=_BLOCK,
        )  # fmt: skip
        gw = None
        if k is not None and ctx.needs_input_grad[2]:
            kk = k.reshape(())
            gw = (gk.double().sum() * kk * (1.0 - kk)).to(kk.dtype)
        gv_init = gv0.view(ctx.v_shape) if ctx.needs_input_grad[1] else None
        return gx.view(ctx.x_shape), gv_init, gw, None, None
