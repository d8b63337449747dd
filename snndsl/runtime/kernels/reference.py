r"""One neuron step, written op for op as SpikingJelly 2.0.0 writes it.

These functions are the *reference*: the single-step neurons call them directly, and
every fused multi-step path (PyTorch in-place, Triton) must reproduce their spikes and
``V`` bit for bit. With ``vr = 0`` for soft reset and ``vr = v_reset`` otherwise:

charge
    IF: ``H = V + X``;
    LIF: ``H = V + (X - (V - vr)) / tau`` (``decay_input``) or ``H = V - (V - vr) / tau + X``;
    PLIF: the LIF lines with ``* k`` in place of ``/ tau``, ``k = sigmoid(w)``.
fire
    ``S = surrogate(H - v_th)``, i.e. ``heaviside(H - v_th)`` when spiking.
reset
    (``S`` detached when ``detach_reset``) hard: ``V = S * v_reset + (1 - S) * H``;
    soft: ``V = H - S * v_th``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import surrogate as sg
from ..surrogate import SurrogateFunctionBase

__all__ = ["NeuronSpec", "charge", "fire", "reset", "step"]

KINDS = ("if", "lif", "plif")

#: the surrogates the compiled kernels (C, Triton) implement, by their number there;
#: exact classes only (a subclass may change the derivative)
SURROGATE_IDS: dict[type, int] = {
    sg.Sigmoid: 0,
    sg.ATan: 1,
    sg.PiecewiseQuadratic: 2,
    sg.PiecewiseExp: 3,
    sg.SoftSign: 4,
    sg.Erf: 5,
    sg.SuperSpike: 6,
    sg.PiecewiseLeakyReLU: 7,
}

#: the surrogates the kernels generated from neuron programs (C, Triton) implement: the
#: eight above and ``Rect`` (number 8 in ``csrc/surrogates.h`` and ``surrogate_grad``)
PROGRAM_SURROGATE_IDS: dict[type, int] = {**SURROGATE_IDS, sg.Rect: 8}


@dataclass(frozen=True, eq=False)
class NeuronSpec:
    """Everything a kernel needs to know about a neuron, besides its tensors.

    ``tau`` is used by ``'lif'`` only; PLIF's decay ``k = sigmoid(w)`` is a tensor
    passed next to the spec because it is learnt.
    """

    kind: str
    v_threshold: float
    v_reset: float | None
    detach_reset: bool
    surrogate: SurrogateFunctionBase
    tau: float = 2.0
    decay_input: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown neuron kind {self.kind!r}; expected one of {KINDS}")

    @property
    def vr(self) -> float:
        """The rest potential in the charge equation: 0 for soft reset."""
        return 0.0 if self.v_reset is None else self.v_reset


def charge(
    spec: NeuronSpec, x: torch.Tensor, v: torch.Tensor, k: torch.Tensor | None = None
) -> torch.Tensor:
    """``H[t]`` from ``X[t]`` and ``V[t-1]`` (see the module docstring)."""
    if spec.kind == "if":
        return v + x
    vr = spec.vr
    if spec.kind == "lif":
        if spec.decay_input:
            return v + (x - (v - vr)) / spec.tau
        return v - (v - vr) / spec.tau + x
    if k is None:
        raise ValueError("PLIF charge needs k = sigmoid(w)")
    if spec.decay_input:
        return v + (x - (v - vr)) * k
    return v - (v - vr) * k + x


def fire(spec: NeuronSpec, h: torch.Tensor) -> torch.Tensor:
    """``S[t] = surrogate(H[t] - v_th)``."""
    return spec.surrogate(h - spec.v_threshold)


def reset(spec: NeuronSpec, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``V[t]`` from ``H[t]`` and ``S[t]``: hard or soft reset."""
    if spec.detach_reset:
        s = s.detach()
    if spec.v_reset is None:
        return h - s * spec.v_threshold
    return s * spec.v_reset + (1.0 - s) * h


def step(
    spec: NeuronSpec, x: torch.Tensor, v: torch.Tensor, k: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One charge/fire/reset step; returns ``(S, V, H)``."""
    h = charge(spec, x, v, k)
    s = fire(spec, h)
    return s, reset(spec, h, s), h
