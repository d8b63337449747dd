r"""A recurrent Linear + neuron region as one fused operation over the whole time loop.

:func:`recurrent_neuron` computes, for ``t = 0 .. T-1``,

.. math::

    I[t] = X[t] + S[t-1] W^T (+ b), \qquad S[t], V[t] = \text{neuron step}(I[t], V[t-1])

where ``X`` (``[T, *batch, H]``) is the already-projected input (its Linear runs outside
the loop, batched over ``T``), ``W`` (``[H, H]``) and ``b`` are the recurrent Linear's
weight and bias, ``S[-1]`` is ``s_init`` (zeros by default) and ``V[-1]`` is the neuron's
current ``v`` (its reset value after ``reset()``). The neuron step is the runtime's
charge / fire / reset (:mod:`.kernels.reference`). It is the ``.snn`` region::

    s = add(x -> fc: Linear(n_in, n), prev(s) -> rec: Linear(n, n)) -> sn: LIF()

Contract.

* The neuron module's forward pre-hooks and hooks run once with ``(x,)`` and the spikes,
  as for its own multi-step forward (monitors see the region's spikes).
* Returns the spikes ``S`` (``[T, *batch, H]``; ``S[-1]`` is the next call's ``s_init``
  when the state is carried). Like the neuron's own ``multi_step_forward``, the neuron
  module's ``v`` becomes ``V[T-1]`` (a tensor shaped like one step) and, with
  ``store_v_seq``, its ``v_seq`` becomes every step's ``V``.
* Forward values are bit for bit those of the plain step loop
  ``s = neuron.single_step_forward(x[t] + F.linear(s, W, b))`` (``torch.equal``; the
  loop's first step adds ``F.linear(0, W, b)``, i.e. ``b`` or zeros, which can only turn
  a ``-0.0`` into ``+0.0``). Per step the recurrent product is ``torch.mm(S, W^T)`` (or
  ``torch.addmm(b, S, W^T)``, which is what ``F.linear`` calls) followed by ``+ X[t]``:
  one ``addmm(X[t], S, W^T)`` would round differently.
* Gradients (within rounding of autograd through the step loop) for ``x``, ``weight``,
  ``bias``, PLIF's ``w``, a tensor ``v`` the neuron starts from, and ``s_init``; also
  from a gradient arriving at the neuron's ``v`` / ``v_seq``.

How. The whole loop is one ``torch.autograd.Function`` (:class:`RecurrentNeuron`):
forward writes every step into preallocated ``[T, M]`` buffers (one ``mm`` and one
neuron step per ``t``, no autograd graph), and saves the neuron's input ``I``, ``-H``
and the spikes; backward runs BPTT by hand, one step at a time::

    grad_S[t] = (caller's grad_S[t]) + grad_I[t+1] W
    grad_I[t], grad_V[t-1] = neuron step backward(grad_S[t], grad_V[t])

and then ``grad_W = sum_t grad_I[t]^T S[t-1]`` (one ``mm`` over all steps), ``grad_b``
the sum of ``grad_I``, ``grad_X = grad_I``. The neuron step in both directions is the
fused neuron's own code called with ``T = 1``: the compiled C step of
:mod:`.kernels.native_neuron` (CPU float32, its eight surrogates), else the reference
ops and the mirror backward of :mod:`.kernels.torch_neuron` (any dtype or device, any
surrogate). Neurons other than exactly ``IFNode``/``LIFNode``/``ParametricLIFNode``
(a subclass may change the step), and ``torch.compile`` tracing, take the plain step
loop with autograd instead.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch
from torch.nn import functional as F

from . import neuron as neurons
from .functional import as_call
from .kernels import buffer_pool, native_neuron
from .kernels.reference import NeuronSpec, step
from .kernels.torch_neuron import _backward_mirror

__all__ = ["RecurrentNeuron", "fused", "recurrent_neuron", "step_loop"]

Tensor = torch.Tensor

#: the neuron classes the fused operation implements (exact classes: a subclass may
#: change the step)
FUSED_NEURONS = (neurons.IFNode, neurons.LIFNode, neurons.ParametricLIFNode)


def fused(neuron: torch.nn.Module) -> bool:
    """Whether :func:`recurrent_neuron` runs ``neuron`` as one fused operation (else the
    step loop with autograd)."""
    return type(neuron) in FUSED_NEURONS and not torch.compiler.is_compiling()


def recurrent_neuron(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    neuron: torch.nn.Module,
    s_init: Tensor | None = None,
) -> Tensor:
    """Spikes ``[T, *batch, H]`` of the recurrent region (see the module docstring).

    ``x``: ``[T, *batch, H]``, the input already projected to the ``H`` neurons;
    ``weight``: ``[H, H]`` and ``bias``: ``[H]`` or ``None``, the recurrent Linear's;
    ``neuron``: a runtime neuron module (its ``v`` is the initial state and is updated to
    the final one); ``s_init``: ``S[-1]``, ``[*batch, H]``, or ``None`` for zeros.
    """
    if x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(f"recurrent_neuron expects x of shape [T, *batch, H] with T >= 1, "
                         f"got {tuple(x.shape)}")  # fmt: skip
    H = x.shape[-1]
    if tuple(weight.shape) != (H, H):
        raise ValueError(f"recurrent_neuron: weight must be [{H}, {H}] for {H} neurons, "
                         f"got {tuple(weight.shape)}")  # fmt: skip
    if s_init is not None and s_init.shape != x.shape[1:]:
        raise ValueError(f"recurrent_neuron: s_init must be shaped like one step "
                         f"{tuple(x.shape[1:])}, got {tuple(s_init.shape)}")  # fmt: skip
    # the region stands for the neuron's multi-step forward: its hooks see the region's spikes
    return as_call(neuron, x, lambda x: _region(x, weight, bias, neuron, s_init))


def _region(x: Tensor, weight: Tensor, bias: Tensor | None, neuron: torch.nn.Module,
            s_init: Tensor | None) -> Tensor:
    if not fused(neuron):
        return step_loop(x, weight, bias, neuron, s_init)
    assert isinstance(neuron, neurons.BaseNode)  # FUSED_NEURONS
    spec = neuron.spec()
    v = neuron._initial_v(x[0])
    v_init, v_fill = (v, 0.0) if isinstance(v, torch.Tensor) else (None, float(v))
    native = native_neuron.supports(spec, x)
    spikes, v_out = RecurrentNeuron.apply(
        x, weight, bias, neuron._w(), v_init, s_init, spec, neuron.store_v_seq, v_fill, native
    )
    if neuron.store_v_seq:
        neuron.v, neuron.v_seq = v_out[-1], v_out
    else:
        neuron.v = v_out
    return spikes


def step_loop(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    neuron: torch.nn.Module,
    s_init: Tensor | None = None,
) -> Tensor:
    """The reference (and the path for other neurons): ``neuron.single_step_forward(x[t] +
    F.linear(s, weight, bias))`` per ``t``, autograd throughout; updates ``neuron.v`` too."""
    s = torch.zeros_like(x[0]) if s_init is None else s_init
    out = []
    for t in range(x.shape[0]):
        s = neuron.single_step_forward(x[t] + F.linear(s, weight, bias))  # type: ignore[operator]
        out.append(s)
    return torch.stack(out)


def _empty(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A CPU buffer from the pool (no page faults on reuse), else a plain ``empty``."""
    if like.device.type == "cpu":
        return buffer_pool.empty(shape, like.dtype)
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


class _NativeStep:
    """The C neuron kernel of :mod:`.native_neuron`, one step (``T = 1``) per call, on
    ``[M]`` rows of preallocated buffers: no tensors are made per step."""

    def __init__(self, spec: NeuronSpec, k: Tensor | None, M: int) -> None:
        lib = native_neuron._load()
        assert lib is not None  # native_neuron.supports() said so
        self.lib, self.M = lib, M
        self.threads = native_neuron._threads(M, M)
        self.openmp = self.threads > 1 and bool(native_neuron._state.get("openmp"))
        if not self.openmp:
            self.threads = 1
        self.params = native_neuron._params(spec, k, self.threads)
        self.pp = ctypes.byref(self.params)
        self.plif = spec.kind == "plif"
        self.plif_x = self.plif and spec.decay_input

    def forward(self, i: int, v0: int | None, v_fill: float, s: int, nh: int, v: int) -> None:
        """``S``, ``-H``, ``V`` (at the given addresses) of one step from ``I`` and ``V[t-1]``."""
        M = self.M
        if self.openmp:
            self.lib.snn_forward_parallel(
                self.pp, 1, M, self.threads, i, M, v0, v_fill, s, nh, v, 0
            )
        else:
            self.lib.snn_forward(self.pp, 1, M, 0, M, i, M, v0, v_fill, s, nh, v, 0)

    def backward(
        self, nh: int, gs: int | None, g: int, i: int, v0: int | None, v_fill: float, gi: int
    ) -> float:
        """``grad_I`` of one step into ``gi``; ``g`` (``grad_V[t]``) becomes ``grad_V[t-1]``
        in place (the kernel reads a block's ``g`` before it writes it). Returns PLIF's
        ``grad_k`` share (0 otherwise)."""
        M = self.M
        x = i if self.plif_x else None
        if self.openmp:
            parts = (ctypes.c_double * self.threads)()
            status = self.lib.snn_backward_parallel(
                self.pp, 1, M, self.threads, nh, gs, g, 0, x, M, None, 0, v0, v_fill, gi, g,
                parts if self.plif else None,
            )  # fmt: skip
            total = sum(parts[:])
        else:
            acc = ctypes.c_double(0.0)
            status = self.lib.snn_backward(
                self.pp, 1, M, 0, M, nh, gs, g, 0, x, M, None, 0, v0, v_fill, gi, g,
                ctypes.byref(acc) if self.plif else None,
            )  # fmt: skip
            total = acc.value
        if status:
            raise MemoryError("snndsl recurrent neuron backward: out of memory")
        return total


class RecurrentNeuron(torch.autograd.Function):
    """``(x [T, *, H], weight, bias, w, v_init [*, H] | None, s_init [*, H] | None) ->
    (spikes [T, *, H], v_seq [T, *, H] | v_last [*, H])``; ``v_init=None``: every neuron
    starts at ``v_fill``. ``native``: the C step kernel, else the reference ops."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        w: Tensor | None,
        v_init: Tensor | None,
        s_init: Tensor | None,
        spec: NeuronSpec,
        store_v_seq: bool,
        v_fill: float,
        native: bool,
    ) -> tuple[Tensor, Tensor]:
        T, H = x.shape[0], x.shape[-1]
        x3 = x.reshape(T, -1, H)
        N = x3.shape[1]
        M = N * H
        k = w.detach().sigmoid() if spec.kind == "plif" and w is not None else None
        wt = weight.t()
        s0 = None if s_init is None else s_init.reshape(N, H)
        v0 = None if v_init is None else v_init.reshape(M).contiguous()
        inp = _empty((T, N, H), x3)  # I[t], the neuron's input
        spikes = _empty((T, N, H), x3)
        # V[t] of every step when the backward needs V[t-1] (mirror, PLIF) or the caller
        # wants v_seq; otherwise two rows used in turn
        keep_v = store_v_seq or not native or spec.kind == "plif"
        v_rows = _empty((T, M) if keep_v else (2, M), x3)
        nh = _empty((T, M), x3) if native else None
        kernel = _NativeStep(spec, k, M) if native else None
        v_first: Tensor | float = v_fill if v0 is None else v0
        # row views made once (a select per step and tensor is measurable at T=100)
        ins, sps, xs = inp.unbind(0), spikes.unbind(0), x3.unbind(0)
        row = M * inp.element_size()  # native: step t's rows at base + t * row
        v_base, v_rows_kept = v_rows.data_ptr(), v_rows.shape[0]
        for t in range(T):
            it = ins[t]
            prev = s0 if t == 0 else sps[t - 1]
            if prev is None:  # S[-1] = 0: linear(0, W, b) is b (or 0)
                if bias is None:
                    it.copy_(xs[0])
                else:
                    torch.add(xs[0], bias, out=it)
            else:
                if bias is None:
                    torch.mm(prev, wt, out=it)
                else:
                    torch.addmm(bias, prev, wt, out=it)
                it.add_(xs[t])
            if kernel is not None:
                assert nh is not None
                v_prev = _ptr(v0) if t == 0 else v_base + (t - 1) % v_rows_kept * row
                kernel.forward(it.data_ptr(), v_prev, v_fill, sps[t].data_ptr(),
                               nh.data_ptr() + t * row, v_base + t % v_rows_kept * row)  # fmt: skip
            else:
                v_prev_t = v_first if t == 0 else v_rows[t - 1]
                if not isinstance(v_prev_t, Tensor):
                    v_prev_t = torch.full_like(v_rows[t], v_prev_t)
                s, v, _ = step(spec, it.reshape(M), v_prev_t, k)
                sps[t].copy_(s.view(N, H))
                v_rows[t].copy_(v)
        last = T - 1 if keep_v else (T - 1) % 2
        v_out = v_rows.view(T, *x.shape[1:]) if store_v_seq else v_rows[last].view(x.shape[1:])
        ctx.save_for_backward(inp, spikes, nh, v_rows if keep_v else None, v0, weight, s0, k)
        ctx.spec, ctx.store_v_seq, ctx.v_fill, ctx.native = spec, store_v_seq, v_fill, native
        ctx.has_bias = bias is not None
        ctx.x_shape = x.shape
        ctx.set_materialize_grads(False)
        return spikes.view(x.shape), v_out

    @staticmethod
    def backward(
        ctx: Any, grad_s: Tensor | None, grad_v: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        inp, spikes, nh, v_rows, v0, weight, s0, k = ctx.saved_tensors
        spec: NeuronSpec = ctx.spec
        T, N, H = inp.shape
        M = N * H
        v_fill = ctx.v_fill
        gs_ext = None if grad_s is None else grad_s.reshape(T, N, H)
        gv_seq = gv_last = None
        if grad_v is not None:
            if ctx.store_v_seq:
                gv_seq = grad_v.reshape(T, M)
            else:
                gv_last = grad_v.reshape(M)
        g = torch.zeros((M,), dtype=inp.dtype, device=inp.device)  # grad_V[t]
        if gv_last is not None:
            g.copy_(gv_last)
        gi = _empty((T, N, H), inp)  # grad_I = grad_X
        gs_buf = torch.empty((N, H), dtype=inp.dtype, device=inp.device)
        kernel = _NativeStep(spec, k, M) if ctx.native else None
        gk = 0.0
        gis = gi.unbind(0)
        gss = None if gs_ext is None else gs_ext.unbind(0)
        row = M * inp.element_size()  # native: step t's rows at base + t * row
        nh_base, in_base, gi_base = (
            (0, 0, 0) if nh is None else (nh.data_ptr(), inp.data_ptr(), gi.data_ptr())
        )
        for t in range(T - 1, -1, -1):
            if gv_seq is not None:
                g.add_(gv_seq[t])
            gs: Tensor | None  # everything reaching S[t]: the caller's and through I[t+1]
            if t < T - 1:
                if gss is None:
                    gs = torch.mm(gis[t + 1], weight, out=gs_buf)
                else:
                    gs = torch.addmm(gss[t], gis[t + 1], weight, out=gs_buf)
            else:
                gs = None if gss is None else gss[t].contiguous()
            v_prev = v0 if t == 0 else (None if v_rows is None else v_rows[t - 1])
            if kernel is not None:
                gk += kernel.backward(nh_base + t * row, _ptr(gs), g.data_ptr(), in_base + t * row,
                                      _ptr(v_prev), v_fill, gi_base + t * row)  # fmt: skip
            else:
                if v_prev is None:
                    v_prev = torch.full((M,), v_fill, dtype=inp.dtype, device=inp.device)
                gx, g, gk_t = _backward_mirror(
                    spec, inp[t].reshape(1, M), v_prev.reshape(M), spikes[t].reshape(1, M), k,
                    None if gs is None else gs.reshape(1, M), g, False,
                )  # fmt: skip
                gis[t].copy_(gx.view(N, H))
                if gk_t is not None:
                    gk += float(gk_t)
        need = ctx.needs_input_grad
        g_weight = g_bias = g_w = g_v0 = g_s0 = None
        if need[1]:
            g_weight = gi[1:].reshape(-1, H).t().mm(spikes[:-1].reshape(-1, H))
            if s0 is not None:
                g_weight.addmm_(gi[0].t(), s0)
        if need[2] and ctx.has_bias:
            g_bias = gi.sum((0, 1))
        if need[3] and k is not None:
            g_w = (gk * k * (1.0 - k)).to(k.dtype)
        if need[4]:
            g_v0 = g.view(ctx.x_shape[1:])
        if need[5] and s0 is not None:
            g_s0 = gi[0].mm(weight).view(ctx.x_shape[1:])
        g_x = gi.view(ctx.x_shape) if need[0] else None
        return g_x, g_weight, g_bias, g_w, g_v0, g_s0, None, None, None, None
