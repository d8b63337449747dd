r"""Neurons as SpikingJelly 2.0.0 defines them: IF, LIF, parametric LIF, current-based LIF
(``CUBALIFNode``) and the non-spiking leaky integrator (``NonSpikingLIFNode``).

IF, LIF and PLIF keep one memory, the membrane potential ``v``; with ``vr = 0`` for soft
reset (``v_reset=None``) and ``vr = v_reset`` otherwise, one step is, in this order:

=================  ==========================================================
charge (IF)        ``H[t] = V[t-1] + X[t]``
charge (LIF)       ``H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) / tau``  (``decay_input``)
                   ``H[t] = V[t-1] - (V[t-1] - vr) / tau + X[t]``    (otherwise)
charge (PLIF)      the LIF lines with ``* k``, ``k = sigmoid(w)``, in place of ``/ tau``
fire               ``S[t] = heaviside(H[t] - v_threshold)``, ``heaviside(x) = (x >= 0)``
reset (hard)       ``V[t] = S[t] v_reset + (1 - S[t]) H[t]``
reset (soft)       ``V[t] = H[t] - S[t] v_threshold``
=================  ==========================================================

``S`` is detached inside the reset when ``detach_reset``. ``v`` starts as the float ``vr``
and becomes a tensor shaped like one input step at the first call; a later input of
another shape silently restarts it from ``vr`` (SpikingJelly 2.0.0 does the same).

In ``'s'`` mode a call is one step (autograd through the ops above). In ``'m'`` mode a call
on ``[T, N, *]`` is one fused operation (:func:`.kernels.multi_step`): the same spikes and
``v`` bit for bit, gradients within rounding of the step loop, much faster. The input may
be non-contiguous (e.g. ``x.expand(T, ...)``). Under ``torch.compile`` the results equal
eager mode; dynamo breaks the graph at the fused neuron (``torch._dynamo.explain`` counts
2 breaks for Linear-LIF-Linear-PLIF on CPU, from a ``Tensor.item()`` in the traced
backward), and compiles the layers around it.

``CUBALIFNode`` keeps two memories, the synaptic current ``c`` and ``v`` (both start at
``0``, ``v`` at ``v_reset`` for a hard reset), and has constant decay factors, not time
constants. One step is ``functional.cuba_lif_step``:

=================  ==========================================================
current            ``C[t] = C[t-1] c_decay + X[t]``
charge             ``H[t] = V[t-1] v_decay + C[t]``
fire, reset        as above, with ``v_threshold`` (default 0.5) and ``v_reset``
=================  ==========================================================

Its ``'m'`` mode is the loop of that step over ``T``, as in SpikingJelly (no fused kernel).

``NonSpikingLIFNode`` never fires: its output is the membrane potential itself, a leaky
integrator (a readout), with one memory ``v`` starting at ``0``:

=================  ==========================================================
charge             ``V[t] = V[t-1] + (X[t] - V[t-1]) / tau``
output             ``V[t]`` (``'m'``: ``[T, N, *]``, or reduced over ``T`` by ``decode``)
=================  ==========================================================

Its ``'m'`` mode is one ``autograd.Function`` (:class:`_LeakyIntegrate`): the same ops in
place into the output, and a backward that needs no saved tensor (the map is linear).

Differences from SpikingJelly, on purpose: integer arguments are accepted where floats
are expected (SpikingJelly asserts floats); the default surrogate is a fresh
``surrogate.Sigmoid()`` (``surrogate.Rect()`` for ``CUBALIFNode``) per neuron rather than
one instance shared by every neuron. ``CUBALIFNode`` also takes ``detach_reset``,
``step_mode`` and ``store_v_seq`` (SpikingJelly's has the attributes, not the arguments).
SpikingJelly's ``NonSpikingLIFNode`` is a multi-step-only module that returns a Python
list of the ``T`` potentials and restarts from ``v = 0`` at every call; ours is a memory
module like the others: ``step_mode`` ``'m'`` (its default, so SpikingJelly code runs
unchanged) or ``'s'``, a ``[T, N, *]`` tensor (``torch.stack`` of SpikingJelly's list), and
``v`` kept between calls until ``reset()`` (the same values on a fresh or reset module).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn as nn

from . import kernels, surrogate
from .base import MemoryModule, RecordingModule
from .kernels import reference
from .kernels.reference import NeuronSpec

__all__ = [
    "BaseNode",
    "IFNode",
    "LIFNode",
    "ParametricLIFNode",
    "CUBALIFNode",
    "NonSpikingLIFNode",
]


def _as_float(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    return float(value)


def _time_constant(owner: str, name: str, value: Any) -> float:
    """A membrane time constant: a real number > 1 (the membrane keeps ``1 - 1/tau``)."""
    tau = _as_float(owner, name, value)
    if not tau > 1.0:
        raise ValueError(f"{owner}: {name} must be > 1, got {tau}")
    return tau


def _state_for(state: torch.Tensor | float, x: torch.Tensor, fill: float) -> torch.Tensor | float:
    """A memory for a step shaped like ``x``: the stored tensor (moved to ``x``'s dtype and
    device), or a float to start every neuron at (a fresh state, or ``fill`` when the
    stored tensor has another shape: the state restarts, as in SpikingJelly 2.0.0)."""
    if not isinstance(state, torch.Tensor):
        return float(state)
    if state.shape != x.shape:
        return fill
    if state.dtype != x.dtype or state.device != x.device:
        return state.to(dtype=x.dtype, device=x.device)
    return state


def _tensor_for(state: torch.Tensor | float, x: torch.Tensor, fill: float) -> torch.Tensor:
    """:func:`_state_for` as a tensor shaped like ``x``."""
    value = _state_for(state, x, fill)
    return value if isinstance(value, torch.Tensor) else torch.full_like(x, value)


def _check_sequence(owner: MemoryModule, x_seq: Any) -> None:
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1 or x_seq.shape[0] < 1:
        shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq)
        raise ValueError(
            f"{type(owner).__name__}(step_mode='m') expects a sequence x_seq of shape "
            f"[T, N, *] with T >= 1, got {shape}; pass the whole sequence, or set "
            "step_mode='s' to feed one step [N, *] per call"
        )


class BaseNode(RecordingModule):
    """Common state and step logic; subclasses say which charge equation (``_kind``)."""

    _kind = "if"

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: surrogate.SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.v_threshold = _as_float(name, "v_threshold", v_threshold)
        self.v_reset = None if v_reset is None else _as_float(name, "v_reset", v_reset)
        if not isinstance(detach_reset, bool):
            raise TypeError(f"{name}: detach_reset must be a bool, got {detach_reset!r}")
        self.detach_reset = detach_reset
        if surrogate_function is None:
            surrogate_function = surrogate.Sigmoid()
        self.surrogate_function = surrogate_function
        self.register_memory("v", 0.0 if self.v_reset is None else self.v_reset)
        self.step_mode = step_mode
        self.store_v_seq = store_v_seq

    # -- the neuron as data ------------------------------------------------------------
    def spec(self) -> NeuronSpec:
        """This neuron's constants, as the kernels take them."""
        return NeuronSpec(
            kind=self._kind,
            v_threshold=self.v_threshold,
            v_reset=self.v_reset,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate_function,
            **self._decay_args(),
        )

    def _decay_args(self) -> dict[str, Any]:
        return {}

    def _k(self) -> torch.Tensor | None:
        """PLIF's ``k = sigmoid(w)`` (as a differentiable tensor); ``None`` otherwise."""
        return None

    def _w(self) -> torch.Tensor | None:
        return None

    def _initial_v(self, x: torch.Tensor) -> torch.Tensor | float:
        """``v`` for a step shaped like ``x``: the stored tensor, or a float to start all
        neurons at (a fresh state, or a restart because the shape changed)."""
        return _state_for(self.v, x, 0.0 if self.v_reset is None else self.v_reset)

    def _materialize_v(self, x: torch.Tensor) -> torch.Tensor:
        """``v`` as a tensor shaped like one step ``x``."""
        return _tensor_for(self.v, x, 0.0 if self.v_reset is None else self.v_reset)

    # -- forward ------------------------------------------------------------------------
    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One charge/fire/reset step on ``x`` of shape ``[N, *]``; returns ``S[t]``."""
        v = self._materialize_v(x)
        spike, v, _ = reference.step(self.spec(), x, v, self._k())
        self.v = v
        if self.store_v_seq:
            self._append_v_seq(v)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """All ``T`` steps of ``x_seq`` (``[T, N, *]``) as one fused operation."""
        _check_sequence(self, x_seq)
        v = self._initial_v(x_seq[0])
        spikes, v_last, v_seq = kernels.multi_step(
            x_seq, v, self.spec(), self._w(), self.store_v_seq
        )
        self.v = v_last
        if self.store_v_seq:
            self.v_seq = v_seq
        return spikes

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode}"
        )


class IFNode(BaseNode):
    r"""Integrate-and-fire: ``H[t] = V[t-1] + X[t]`` (a perfect integrator)."""

    _kind = "if"


class LIFNode(BaseNode):
    r"""Leaky integrate-and-fire with membrane time constant ``tau`` (> 1).

    ``H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) / tau`` when ``decay_input``, else
    ``H[t] = V[t-1] - (V[t-1] - vr) / tau + X[t]``.
    """

    _kind = "lif"

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: surrogate.SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        tau = _time_constant(type(self).__name__, "tau", tau)
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq
        )
        self.tau = tau
        self.decay_input = bool(decay_input)

    def _decay_args(self) -> dict[str, Any]:
        return {"tau": self.tau, "decay_input": self.decay_input}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"


class ParametricLIFNode(BaseNode):
    r"""LIF with a learnt decay ``k = sigmoid(w)`` (= 1/tau), ``w`` initialised to
    ``-log(init_tau - 1)`` so that ``tau`` starts at ``init_tau`` (Fang et al., 2021).

    ``H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) k`` when ``decay_input``, else
    ``H[t] = V[t-1] - (V[t-1] - vr) k + X[t]``.
    """

    _kind = "plif"

    def __init__(
        self,
        init_tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: surrogate.SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        init_tau = _time_constant(type(self).__name__, "init_tau", init_tau)
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq
        )
        self.decay_input = bool(decay_input)
        self.w = nn.Parameter(torch.as_tensor(-math.log(init_tau - 1.0)))

    def _decay_args(self) -> dict[str, Any]:
        return {"decay_input": self.decay_input}

    def _k(self) -> torch.Tensor:
        return self.w.sigmoid()

    def _w(self) -> torch.Tensor:
        return self.w

    def extra_repr(self) -> str:
        with torch.no_grad():
            tau = 1.0 / self.w.sigmoid().item()
        return super().extra_repr() + f", tau={tau}, decay_input={self.decay_input}"


class CUBALIFNode(BaseNode):
    r"""Current-based LIF: a synaptic current ``c`` that feeds the membrane ``v``.

    ``C[t] = C[t-1] c_decay + X[t]``, ``H[t] = V[t-1] v_decay + C[t]``, then fire and
    reset as every neuron here. ``c_decay`` and ``v_decay`` are the fractions kept per
    step (SpikingJelly checks no range; neither do we). ``'m'`` is the step loop.
    """

    _kind = "cubalif"
    c: torch.Tensor | float  # a memory (register_memory)

    def __init__(
        self,
        c_decay: float = 0.5,
        v_decay: float = 0.75,
        v_threshold: float = 0.5,
        v_reset: float | None = 0.0,
        surrogate_function: surrogate.SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        name = type(self).__name__
        c_decay = _as_float(name, "c_decay", c_decay)
        v_decay = _as_float(name, "v_decay", v_decay)
        if surrogate_function is None:
            surrogate_function = surrogate.Rect()
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq
        )
        self.register_memory("c", 0.0)
        self.c_decay = c_decay
        self.v_decay = v_decay

    def spec(self) -> NeuronSpec:
        raise NotImplementedError(
            "CUBALIFNode has no fused kernel (it runs its own step loop), so no NeuronSpec"
        )

    def _step(
        self, x: torch.Tensor, c: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(S[t], C[t], V[t])``, op for op as SpikingJelly's ``cuba_lif_step``."""
        c = c * self.c_decay + x
        h = v * self.v_decay + c
        s = self.surrogate_function(h - self.v_threshold)
        s_reset = s.detach() if self.detach_reset else s
        if self.v_reset is None:
            return s, c, h - s_reset * self.v_threshold
        return s, c, s_reset * self.v_reset + (1.0 - s_reset) * h

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step on ``x`` of shape ``[N, *]``; returns ``S[t]``."""
        v = self._materialize_v(x)
        c = _tensor_for(self.c, v, 0.0)
        spike, self.c, self.v = self._step(x, c, v)
        if self.store_v_seq:
            self._append_v_seq(self.v)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """The step loop over ``x_seq`` (``[T, N, *]``); returns ``S``, ``[T, N, *]``."""
        _check_sequence(self, x_seq)
        v = self._materialize_v(x_seq[0])
        c = _tensor_for(self.c, v, 0.0)
        spikes, vs = [], []
        for x in x_seq.unbind(0):
            spike, c, v = self._step(x, c, v)
            spikes.append(spike)
            if self.store_v_seq:
                vs.append(v)
        self.c, self.v = c, v
        if self.store_v_seq:
            self.v_seq = torch.stack(vs)
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", c_decay={self.c_decay}, v_decay={self.v_decay}"


#: SpikingJelly's reductions of a non-spiking neuron's ``[T, N, *]`` potentials
DECODES = ("max-mem", "max-abs-mem", "mean-mem", "last_mem")


class _LeakyIntegrate(torch.autograd.Function):
    """``V[t] = V[t-1] + (X[t] - V[t-1]) / tau`` for all ``t``, written in place into the
    output; ``(x_seq [T, *], v_init [*], tau) -> V [T, *]``.

    The map is linear, so the backward needs no saved tensor: with ``G[t]`` the gradient
    reaching ``V[t]``, ``grad_X[t] = G[t] / tau`` and ``V[t-1]`` receives
    ``G[t] - G[t] / tau``.
    """

    @staticmethod
    def forward(ctx: Any, x_seq: torch.Tensor, v_init: torch.Tensor, tau: float) -> torch.Tensor:
        v_seq = torch.empty_like(x_seq)
        delta = torch.empty_like(v_seq[0])
        v = v_init
        for t in range(x_seq.shape[0]):
            torch.sub(x_seq[t], v, out=delta)
            delta.div_(tau)
            v = torch.add(v, delta, out=v_seq[t])
        ctx.tau = tau
        return v_seq

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, None]:
        tau = ctx.tau
        grad_x = torch.empty_like(grad_v)
        carry = torch.zeros_like(grad_v[0])  # the gradient reaching V[t] from step t + 1
        scaled = torch.empty_like(carry)
        for t in range(grad_v.shape[0] - 1, -1, -1):
            g = torch.add(grad_v[t], carry, out=grad_x[t])
            torch.div(g, tau, out=scaled)
            torch.sub(g, scaled, out=carry)
            g.copy_(scaled)
        return grad_x, (carry if ctx.needs_input_grad[1] else None), None


class NonSpikingLIFNode(MemoryModule):
    r"""Non-spiking LIF, a leaky integrator that outputs its membrane potential:
    ``V[t] = V[t-1] + (X[t] - V[t-1]) / tau``, ``V`` starting at 0; no threshold, no reset.

    ``'m'`` (the default, SpikingJelly's only mode) returns ``V`` as ``[T, N, *]``, or, with
    ``decode``, SpikingJelly's reduction over ``T``: ``'max-mem'`` (max), ``'max-abs-mem'``
    (the max or the min, whichever is larger in magnitude; the min on a tie),
    ``'mean-mem'`` (mean) or ``'last_mem'`` (``V[T-1]``). ``'s'`` returns ``V[t]``
    (``decode`` must then be ``None``: it needs the whole sequence).
    """

    v: torch.Tensor | float  # a memory (register_memory)

    def __init__(self, tau: float = 2.0, decode: str | None = None, step_mode: str = "m") -> None:
        super().__init__()
        name = type(self).__name__
        self.tau = _time_constant(name, "tau", tau)
        if decode is not None and decode not in DECODES:
            raise ValueError(f"{name}: decode must be None or one of {DECODES}, got {decode!r}")
        self.decode = decode
        self.register_memory("v", 0.0)
        self.step_mode = step_mode

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step on ``x`` of shape ``[N, *]``; returns ``V[t]``."""
        if self.decode is not None:
            raise ValueError(
                f"{type(self).__name__}(decode={self.decode!r}) decodes a whole sequence; "
                "use step_mode='m', or decode=None to get V[t] per step"
            )
        v = _tensor_for(self.v, x, 0.0)
        self.v = v + (x - v) / self.tau
        return self.v

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``V`` for every step of ``x_seq`` (``[T, N, *]``), decoded if ``decode`` says so."""
        _check_sequence(self, x_seq)
        v_seq = _LeakyIntegrate.apply(x_seq, _tensor_for(self.v, x_seq[0], 0.0), self.tau)
        self.v = v_seq[-1]
        return self._decoded(v_seq)

    def _decoded(self, v_seq: torch.Tensor) -> torch.Tensor:
        if self.decode == "max-mem":
            return v_seq.max(0).values
        if self.decode == "max-abs-mem":
            max_mem, min_mem = v_seq.max(0).values, v_seq.min(0).values
            return max_mem * (max_mem.abs() > min_mem.abs()) + min_mem * (
                max_mem.abs() <= min_mem.abs()
            )
        if self.decode == "mean-mem":
            return v_seq.mean(0)
        if self.decode == "last_mem":
            return v_seq[-1]
        return v_seq

    def extra_repr(self) -> str:
        decode = f", decode={self.decode!r}" if self.decode is not None else ""
        return f"tau={self.tau}{decode}, step_mode={self.step_mode}"
