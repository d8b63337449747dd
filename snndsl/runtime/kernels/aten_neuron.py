r"""The ``aten`` path of the fused multi-step neurons (CPU, float32/float64, spiking
surrogate): few, in-place ATen ops on cache-sized blocks of neurons.

Every tensor op on CPU costs a pass over memory, so the sequence is built to need as
few as possible, while rounding exactly like :mod:`.reference`:

* The three ``[T, N, *]`` tensors (spikes, saved ``-H``, input gradient) come from
  :mod:`.buffer_pool`, which spares the page faults of fresh allocations.
* The neurons are processed ``BLOCK`` at a time, the whole time loop on one block while
  it is hot in cache.
* ``H`` and ``V`` are kept *negated* (``nh = -H``, ``u = -V``): a hard reset is then one
  op, ``torch.threshold(nh, -v_th, -v_reset)`` (keep ``nh`` where ``nh > -v_th``, i.e.
  ``H < v_th``; else ``-v_reset``), and the spikes of all steps of a block are one
  comparison ``nh <= -v_th`` after the loop. IEEE rounding is symmetric, so each value
  is exactly the negation of the reference's; ``addcdiv`` with ``value=-1`` rounds once,
  as ``/`` then ``-`` do.
* Backward keeps ``r[t] = grad_H[t] / c`` (``c``: the surrogate's scale, see
  :meth:`.SurrogateFunctionBase.mul_derivative_`) in the ``grad_X`` buffer and scales it
  by ``c dH/dX`` once per block. With ``q = dH/dV`` and ``R = r[t+1]`` (plus the
  caller's gradient for ``V[t]``), one step is

      hard:  r[t] = g'(H - v_th)/c (grad_S + q c R (vr - H)) + q R (1 - S)
      soft:  r[t] = g'(H - v_th)/c (grad_S - v_th q c R)   + q R

  (the ``R`` terms inside the first bracket dropped when ``detach_reset``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from . import buffer_pool
from .reference import NeuronSpec

Tensor = torch.Tensor
_Charge = Callable[[Tensor, Tensor, Tensor], Any]

#: Target neurons per block: a few float32 vectors of this size fit in L2.
BLOCK = 1 << 17


def _blocks(M: int) -> tuple[list[tuple[int, int]], int]:
    """Equal blocks of about ``BLOCK`` neurons (a multiple of 16, for vector loads)."""
    count = -(-M // BLOCK)
    per_block = -(-M // count)
    size = min(M, -(-per_block // 16) * 16)
    return [(b, min(b + size, M)) for b in range(0, M, size)], size


def _charge_negated(spec: NeuronSpec, like: Tensor, k: Tensor | None) -> _Charge:
    """``charge(x, u, out=nh)``: ``nh = -H`` from ``u = -V``, rounding like the reference."""
    vr = spec.vr
    if spec.kind == "if":  # -(V + X) = u - X
        return lambda x, u, nh: torch.sub(u, x, out=nh)
    decay = like.new_tensor(spec.tau) if spec.kind == "lif" else None

    def leaky(x: Tensor, u: Tensor, nh: Tensor) -> None:
        d = torch.add(u, vr, out=nh) if vr else u  # -(V - vr)
        if spec.decay_input:  # -(V + (X - (V - vr)) / tau) = u - (X + d) / tau
            torch.add(x, d, out=nh)
            if decay is not None:
                torch.addcdiv(u, nh, decay, value=-1.0, out=nh)
            else:
                assert k is not None  # PLIF: k = sigmoid(w)
                torch.sub(u, nh.mul_(k), out=nh)
        else:  # -(V - (V - vr) / tau + X) = u - d / tau - X
            if decay is not None:
                torch.addcdiv(u, d, decay, value=-1.0, out=nh)
            else:
                assert k is not None  # PLIF: k = sigmoid(w)
                torch.sub(u, torch.mul(d, k, out=nh), out=nh)
            nh.sub_(x)

    return leaky


def forward(
    x2: Tensor,
    v0: Tensor | None,
    v_fill: float,
    k: Tensor | None,
    spec: NeuronSpec,
    store_v_seq: bool,
) -> tuple[Tensor, Tensor, tuple[Tensor | None, ...]]:
    """Spikes, the final ``V`` (or every ``V``) and what :func:`backward` needs.

    ``v0=None``: every neuron starts at ``v_fill``.
    """
    T, M = x2.shape
    nh_seq = buffer_pool.empty((T, M), x2.dtype)
    spikes = buffer_pool.empty((T, M), x2.dtype)
    v_out = buffer_pool.empty((T, M) if store_v_seq else (M,), x2.dtype)
    charge = _charge_negated(spec, x2, k)
    vth, hard = spec.v_threshold, spec.v_reset is not None
    blocks, size = _blocks(M)
    u_buf = torch.empty_like(nh_seq[0, :size])
    for b0, b1 in blocks:
        u = u_buf[: b1 - b0]
        if v0 is None:
            u.fill_(-v_fill)
        else:
            torch.neg(v0[b0:b1], out=u)
        # one call per block for the row views: per-step slicing is measurable overhead
        block = (x2[:, b0:b1], nh_seq[:, b0:b1], spikes[:, b0:b1])
        rows = zip(*(rows.unbind() for rows in block), strict=True)
        for t, (x, nh, s) in enumerate(rows):
            charge(x, u, nh)
            if hard:  # u = -v_reset where H >= v_th, else -H
                torch.threshold(nh, -vth, -spec.vr, out=u)
            else:  # u = -(H - S v_th)
                torch.add(nh, torch.le(nh, -vth, out=s), alpha=vth, out=u)
            if store_v_seq:
                torch.neg(u, out=v_out[t, b0:b1])
        if hard:
            torch.le(nh_seq[:, b0:b1], -vth, out=spikes[:, b0:b1])
        if not store_v_seq:
            torch.neg(u, out=v_out[b0:b1])
    saved = (nh_seq, x2, v0) if spec.kind == "plif" else (nh_seq, None, None)
    return spikes, v_out, saved


def _decay_factors(spec: NeuronSpec, k: Tensor | None) -> tuple[float, float]:
    """``(q, p) = (dH/dV, dH/dX)``."""
    if spec.kind == "if":
        return 1.0, 1.0
    if spec.kind == "lif":
        rate = 1.0 / spec.tau
    else:
        assert k is not None  # PLIF: k = sigmoid(w)
        rate = float(k)
    return 1.0 - rate, rate if spec.decay_input else 1.0


def backward(
    spec: NeuronSpec,
    saved: tuple[Tensor | None, ...],
    v_fill: float,
    k: Tensor | None,
    gs2: Tensor | None,
    gv_out: Tensor | None,
    store_v_seq: bool,
    need_gv0: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """``(grad_X, grad_V_init or None, grad_k)`` for the caller's ``grad_S``, ``grad_V``."""
    nh_seq, x2, v0 = saved
    assert nh_seq is not None
    T, M = nh_seq.shape
    vth, vr, hard, detach = spec.v_threshold, spec.vr, spec.v_reset is not None, spec.detach_reset
    surrogate = spec.surrogate
    q, p = _decay_factors(spec, k)
    blocks, size = _blocks(M)
    tmp, scratch, r_ext = (torch.empty_like(nh_seq[0, :size]) for _ in range(3))
    c = surrogate.mul_derivative_(scratch[:1].zero_(), tmp[:1].zero_(), r_ext[:1])
    qc = q * c
    zeros = torch.zeros_like(tmp) if gs2 is None else None
    gx = buffer_pool.empty((T, M), nh_seq.dtype)
    gv0 = buffer_pool.empty((M,), nh_seq.dtype) if need_gv0 else None
    gk = torch.zeros((), dtype=torch.float64) if spec.kind == "plif" else None
    for b0, b1 in blocks:
        m = b1 - b0
        sc = scratch[:m]
        nhs, rs = nh_seq[:, b0:b1].unbind(), gx[:, b0:b1].unbind()
        gss: Sequence[Tensor]
        if gs2 is not None:
            gss = gs2[:, b0:b1].unbind()
        else:
            assert zeros is not None  # made where gs2 is None
            gss = [zeros[:m]] * T
        for t in range(T - 1, -1, -1):
            nh, r, gs = nhs[t], rs[t], gss[t]
            R = _incoming(rs, gv_out, store_v_seq, t, T, b0, b1, qc, r_ext[:m])
            # r <- grad_S + (the V-gradient's share of the surrogate term)
            if R is None or detach:
                r.copy_(gs)
            elif hard:  # grad_S + q c R (vr - H) = grad_S + q c R (nh + vr)
                d = torch.add(nh, vr, out=sc) if vr else nh
                torch.addcmul(gs, R, d, value=qc, out=r)
            else:  # grad_S - v_th q c R
                torch.add(gs, R, alpha=-vth * qc, out=r)
            surrogate.mul_derivative_(nh, r, sc, shift=-vth, sign=-1.0)  # at H - v_th
            if R is not None:  # + q R (1 - S)  or  + q R
                if hard:
                    torch.ops.aten.threshold_backward.grad_input(R, nh, -vth, grad_input=sc)
                    r.add_(sc, alpha=q)
                else:
                    r.add_(R, alpha=q)
            if gk is not None:
                gk += c * torch.dot(r, _dh_dk(spec, x2, v0, v_fill, nh_seq, t, b0, b1, sc))
        if gv0 is not None:
            torch.mul(gx[0, b0:b1], qc, out=gv0[b0:b1])
        gx[:, b0:b1].mul_(c * p)
    return gx, gv0, gk


def _incoming(
    rs: tuple[Tensor, ...],
    gv_out: Tensor | None,
    store_v_seq: bool,
    t: int,
    T: int,
    b0: int,
    b1: int,
    qc: float,
    buf: Tensor,
) -> Tensor | None:
    """``R``: ``r[t+1]`` plus the caller's gradient for ``V[t]`` over ``q c``; ``None`` = 0."""
    r_next = rs[t + 1] if t < T - 1 else None
    ext = None
    if gv_out is not None:
        if store_v_seq:
            ext = gv_out[t, b0:b1]
        elif t == T - 1:
            ext = gv_out[b0:b1]
    if ext is None:
        return r_next
    if r_next is None:
        return torch.mul(ext, 1.0 / qc, out=buf)
    return torch.add(r_next, ext, alpha=1.0 / qc, out=buf)


def _dh_dk(
    spec: NeuronSpec,
    x2: Tensor | None,
    v0: Tensor | None,
    v_fill: float,
    nh_seq: Tensor,
    t: int,
    b0: int,
    b1: int,
    out: Tensor,
) -> Tensor:
    """PLIF's ``dH[t]/dk``: ``X - (V[t-1] - vr)`` (``decay_input``) or ``-(V[t-1] - vr)``."""
    assert x2 is not None
    vth = spec.v_threshold
    if t == 0:
        u = out.fill_(-v_fill) if v0 is None else torch.neg(v0[b0:b1], out=out)
    elif spec.v_reset is not None:
        u = torch.threshold(nh_seq[t - 1, b0:b1], -vth, -spec.vr, out=out)
    else:
        s = torch.le(nh_seq[t - 1, b0:b1], -vth, out=out)
        u = torch.add(nh_seq[t - 1, b0:b1], s, alpha=vth, out=out)
    if spec.vr:
        u.add_(spec.vr)  # -(V - vr)
    return u.add_(x2[t, b0:b1]) if spec.decay_input else u
