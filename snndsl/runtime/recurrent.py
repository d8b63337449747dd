r"""A recurrent Linear + neuron region as one fused operation over the whole time loop.

:func:`recurrent_neuron` computes, for ``t = 0 .. T-1``,

.. math::

    I[t] = X[t] + S[t-1] W^T (+ b), \qquad S[t], V[t] = \text{neuron step}(I[t], V[t-1])

where ``X`` (``[T, *batch, H]``) is the already-projected input (its Linear runs outside
the loop, batched over ``T``), ``W`` (``[H, H]``) and ``b`` are the recurrent Linear's
weight and bias, ``S[-1]`` is ``s_init`` (zeros by default) and ``V[-1]`` is the neuron's
current ``v`` (its reset value after ``reset()``). The neuron step is the runtime's
charge / fire / reset (``grammars/core_neurons.snn``). It is the ``.snn`` region::

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
neuron step per ``t``, no autograd graph), and saves the neuron's input ``I`` and every
``V``; backward runs BPTT by hand, one step at a time::

    grad_S[t] = (caller's grad_S[t]) + grad_I[t+1] W
    grad_I[t], grad_V[t-1] = neuron step backward(grad_S[t], grad_V[t])

and then ``grad_W = sum_t grad_I[t]^T S[t-1]`` (one ``mm`` over all steps), ``grad_b``
the sum of ``grad_I``, ``grad_X = grad_I``. The neuron step in both directions is the
generated C kernel of the neuron's core definition (``grammars/core_neurons.snn``)
called with ``T = 1`` (:class:`.kernels.program_native.StepCalls`): the same code as the
neuron's own fused multi-step forward. Where that kernel does not run the call (not
CPU float32/float64, a surrogate it does not implement, no compiler), neurons other
than exactly ``IFNode``/``LIFNode``/``ParametricLIFNode`` (a subclass may change the
step), and while ``torch.compile`` traces, the region is the plain step loop with
autograd.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from . import neuron as neurons
from .functional import as_call
from .kernels import buffer_pool, program_native

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
    prog = neuron.generated().PROGRAM
    sg = neuron.surrogate_function
    if prog is None or not (sg.spiking and program_native.supports(prog, sg, x)):
        return step_loop(x, weight, bias, neuron, s_init)
    v = neuron._initial_v(x[0])
    v_init, v_fill = (v, 0.0) if isinstance(v, torch.Tensor) else (None, float(v))
    spikes, v_out = RecurrentNeuron.apply(
        x, weight, bias, v_init, s_init, prog, sg, neuron.store_v_seq, v_fill, *neuron._params()
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


class RecurrentNeuron(torch.autograd.Function):
    """``(x [T, *, H], weight, bias, v_init [*, H] | None, s_init [*, H] | None, program,
    sg, store_v_seq, v_fill, *params) -> (spikes [T, *, H], v_seq [T, *, H] | v_last
    [*, H])``; ``v_init=None``: every neuron starts at ``v_fill``; ``params``: the
    neuron program's (PLIF's ``w``)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        v_init: Tensor | None,
        s_init: Tensor | None,
        program: Any,
        sg: Any,
        store_v_seq: bool,
        v_fill: float,
        *params: Tensor,
    ) -> tuple[Tensor, Tensor]:
        T, H = x.shape[0], x.shape[-1]
        x3 = x.reshape(T, -1, H)
        N = x3.shape[1]
        M = N * H
        calls = program_native.StepCalls(program, sg, x.dtype, M, [p.detach() for p in params])
        wt = weight.t()
        s0 = None if s_init is None else s_init.reshape(N, H)
        v0 = None if v_init is None else v_init.detach().to(x.dtype).reshape(M).contiguous()
        inp = _empty((T, N, H), x3)  # I[t], the neuron's input
        spikes = _empty((T, N, H), x3)
        v_rows = _empty((T, M), x3)  # V[t]: the backward starts each step from V[t-1]
        # row views made once (a select per step and tensor is measurable at T=100)
        ins, sps, xs = inp.unbind(0), spikes.unbind(0), x3.unbind(0)
        row = M * inp.element_size()  # step t's rows at base + t * row
        s_base, v_base = spikes.data_ptr(), v_rows.data_ptr()
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
            v_prev = _ptr(v0) if t == 0 else v_base + (t - 1) * row
            calls.forward(it.data_ptr(), v_prev, v_fill, s_base + t * row, v_base + t * row)
        v_out = v_rows.view(T, *x.shape[1:]) if store_v_seq else v_rows[T - 1].view(x.shape[1:])
        ctx.save_for_backward(inp, spikes, v_rows, v0, weight, s0)
        ctx.calls, ctx.store_v_seq, ctx.v_fill = calls, store_v_seq, v_fill
        ctx.has_bias = bias is not None
        ctx.x_shape = x.shape
        ctx.set_materialize_grads(False)
        return spikes.view(x.shape), v_out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_s: Tensor | None, grad_v: Tensor | None) -> tuple[Tensor | None, ...]:
        inp, spikes, v_rows, v0, weight, s0 = ctx.saved_tensors
        calls: program_native.StepCalls = ctx.calls
        T, N, H = inp.shape
        M = N * H
        gs_ext = None if grad_s is None else grad_s.reshape(T, N, H).to(inp.dtype)
        gv_seq = gv_last = None
        if grad_v is not None:
            if ctx.store_v_seq:
                gv_seq = grad_v.reshape(T, M).to(inp.dtype)
            else:
                gv_last = grad_v.reshape(M)
        g = torch.zeros((M,), dtype=inp.dtype)  # grad_V[t]
        if gv_last is not None:
            g.copy_(gv_last)
        g_prev = torch.empty_like(g)  # grad_V[t-1]
        gi = _empty((T, N, H), inp)  # grad_I = grad_X
        gs_buf = torch.empty((N, H), dtype=inp.dtype)
        totals: list[float] = []
        gis = gi.unbind(0)
        gss = None if gs_ext is None else gs_ext.unbind(0)
        row = M * inp.element_size()  # step t's rows at base + t * row
        in_base, v_base, gi_base = inp.data_ptr(), v_rows.data_ptr(), gi.data_ptr()
        for t in range(T - 1, -1, -1):
            if gv_seq is not None:
                g.add_(gv_seq[t])
            # everything reaching S[t]: the caller's and through I[t+1]
            if t < T - 1:
                if gss is None:
                    gs = torch.mm(gis[t + 1], weight, out=gs_buf)
                else:
                    gs = torch.addmm(gss[t], gis[t + 1], weight, out=gs_buf)
            else:
                gs = gs_buf.zero_() if gss is None else gs_buf.copy_(gss[t])
            v_prev = _ptr(v0) if t == 0 else v_base + (t - 1) * row
            sums = calls.backward(in_base + t * row, v_prev, ctx.v_fill, gs.data_ptr(), g.data_ptr(),
                                  gi_base + t * row, g_prev.data_ptr())  # fmt: skip
            totals = sums if not totals else [a + b for a, b in zip(totals, sums)]
            g, g_prev = g_prev, g
        need = ctx.needs_input_grad
        g_weight = g_bias = g_v0 = g_s0 = None
        if need[1]:
            g_weight = gi[1:].reshape(-1, H).t().mm(spikes[:-1].reshape(-1, H))
            if s0 is not None:
                g_weight.addmm_(gi[0].t(), s0)
        if need[2] and ctx.has_bias:
            g_bias = gi.sum((0, 1))
        if need[3]:
            g_v0 = g.view(ctx.x_shape[1:])
        if need[4] and s0 is not None:
            g_s0 = gi[0].mm(weight).view(ctx.x_shape[1:])
        g_x = gi.view(ctx.x_shape) if need[0] else None
        g_params = calls.param_grads(totals) if calls.params else []
        return (g_x, g_weight, g_bias, g_v0, g_s0, None, None, None, None, *g_params)


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()
