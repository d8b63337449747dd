r"""Neurons as SpikingJelly 2.0.0 defines them: IF, LIF and parametric LIF. (The other
neurons, ``LI``, ``CubaLIF``, ``KLIF``, ``Izhikevich``, ``ALIF``, are written in the
language, ``grammars/prelude.snn``, and generated: :mod:`.program`.)

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

These equations are written once, in the language: ``grammars/core_neurons.snn``
defines ``IF``, ``LIF`` and ``PLIF``, and each neuron here runs the class the code
generator prints from its definition for the neuron's constants
(:func:`.program.core_class`; ``import snndsl`` registers the generator). In ``'s'`` mode
a call is one step of that class's ``step`` (torch ops, autograd for the gradient). In
``'m'`` mode a call on ``[T, N, *]`` is one fused operation (:func:`.program.fused_call`):
the generated C kernel on the CPU (float32/float64, the surrogates of
``surrogate.KERNEL_IDS``), the generated Triton kernels on CUDA, else the generated
torch Function: the same spikes and ``v`` bit for bit, gradients within rounding of the
step loop. The input may be non-contiguous (e.g. ``x.expand(T, ...)``, channels-last
steps). With a non-spiking surrogate, and while ``torch.compile`` traces, ``'m'`` is the
step loop (dynamo then traces the neuron's ops with the layers around it).

Differences from SpikingJelly, on purpose: integer arguments are accepted where floats
are expected (SpikingJelly asserts floats); the default surrogate is a fresh
``surrogate.Sigmoid()`` per neuron rather than one instance shared by every neuron.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn as nn

from . import program, surrogate
from .base import MemoryModule, RecordingModule

__all__ = [
    "BaseNode",
    "IFNode",
    "LIFNode",
    "ParametricLIFNode",
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
    """Common state and step logic; subclasses say which core neuron (``_core``)."""

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: surrogate.SurrogateFunctionBase | None = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        store_v_seq: bool = False,
        **constants: Any,
    ) -> None:
        """``constants``: a subclass's own (LIF's ``tau`` and ``decay_input``), set before
        the class generated for them all is looked up."""
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
        for key, value in constants.items():
            setattr(self, key, value)
        self.generated()  # now, so that torch.compile traces no lookup

    # -- the neuron as data ------------------------------------------------------------
    #: the core neuron (``grammars/core_neurons.snn``) this class runs
    _core = "IF"

    def _core_args(self) -> dict[str, Any]:
        """The header arguments of the core neuron: this neuron's constants."""
        return {"v_threshold": self.v_threshold, "v_reset": self.v_reset, "detach_reset": self.detach_reset}

    def generated(self) -> type[program.ProgramNode]:
        """The class generated from the core neuron for this neuron's constants (kept
        until one of them changes: ``torch.compile`` then traces no lookup)."""
        key = tuple(self._core_args().items())
        cached = self.__dict__.get("_generated")
        if cached is None or cached[0] != key:
            cached = self.__dict__["_generated"] = (key, program.core_class(self._core, **dict(key)))
        return cached[1]

    def _params(self) -> list[torch.Tensor]:
        """The learnable parameters of the core neuron, in its order (PLIF's ``w``)."""
        return []

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the generated class (a module of this process only)."""
        state = self.__dict__.copy()
        state.pop("_generated", None)
        return state

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
        spike, (v,) = self.generated().step(self, x, v)  # type: ignore[arg-type]
        self.v = v
        if self.store_v_seq:
            self._append_v_seq(v)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """All ``T`` steps of ``x_seq`` (``[T, N, *]``) as one fused operation."""
        _check_sequence(self, x_seq)
        if not self.surrogate_function.spiking or torch.compiler.is_compiling():
            return program.step_loop(self, x_seq, "v")
        cls = self.generated()
        v = self._initial_v(x_seq[0])
        out, v_last, v_seq = program.fused_call(
            cls.PROGRAM, cls.Fused, self.surrogate_function, self.store_v_seq, x_seq, [v], self._params()
        )
        self.v = v_last
        if self.store_v_seq:
            self.v_seq = v_seq
        return out

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, "
            f"detach_reset={self.detach_reset}, step_mode={self.step_mode}"
        )


class IFNode(BaseNode):
    r"""Integrate-and-fire: ``H[t] = V[t-1] + X[t]`` (a perfect integrator)."""

    _core = "IF"


class LIFNode(BaseNode):
    r"""Leaky integrate-and-fire with membrane time constant ``tau`` (> 1).

    ``H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) / tau`` when ``decay_input``, else
    ``H[t] = V[t-1] - (V[t-1] - vr) / tau + X[t]``.
    """

    _core = "LIF"

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
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq,
            tau=tau, decay_input=bool(decay_input),
        )

    def _core_args(self) -> dict[str, Any]:
        return {**super()._core_args(), "tau": self.tau, "decay_input": self.decay_input}

    def extra_repr(self) -> str:
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"


class ParametricLIFNode(BaseNode):
    r"""LIF with a learnt decay ``k = sigmoid(w)`` (= 1/tau), ``w`` initialised to
    ``-log(init_tau - 1)`` so that ``tau`` starts at ``init_tau`` (Fang et al., 2021).

    ``H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) k`` when ``decay_input``, else
    ``H[t] = V[t-1] - (V[t-1] - vr) k + X[t]``.
    """

    _core = "PLIF"

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
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq,
            decay_input=bool(decay_input),
        )
        self.w = nn.Parameter(torch.as_tensor(-math.log(init_tau - 1.0)))

    def _core_args(self) -> dict[str, Any]:  # init_tau only sets w's initial value
        return {**super()._core_args(), "decay_input": self.decay_input}

    def _params(self) -> list[torch.Tensor]:
        return [self.w]

    def extra_repr(self) -> str:
        with torch.no_grad():
            tau = 1.0 / self.w.sigmoid().item()
        return super().extra_repr() + f", tau={tau}, decay_input={self.decay_input}"
