"""Multi-step neuron kernels: one fused operation for the whole time loop.

:func:`multi_step` picks the implementation: the Triton kernel (:mod:`.triton_neuron`)
when Triton imports, the tensors are on CUDA and the surrogate is one the kernel knows;
otherwise the fused ``autograd.Function`` of :mod:`.torch_neuron`, which runs the
compiled C loop of :mod:`.native_neuron` on CPU float32 and ATen op sequences elsewhere. Both reproduce
:mod:`.reference` (the single-step equations) bit for bit in the forward pass.
"""

from __future__ import annotations

import torch

from . import triton_neuron
from .reference import NeuronSpec
from .torch_neuron import MultiStepNeuron, in_memory_order, select_path

__all__ = ["NeuronSpec", "multi_step"]


def multi_step(
    x_seq: torch.Tensor,
    v_init: torch.Tensor | float,
    spec: NeuronSpec,
    w: torch.Tensor | None = None,
    store_v_seq: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run ``T = x_seq.shape[0]`` steps; return ``(spikes, v_last, v_seq or None)``.

    ``v_init`` is a tensor with the shape, dtype and device of ``x_seq[0]``, or a float
    every neuron starts at; ``w`` is PLIF's learnt decay parameter (``k = sigmoid(w)``).
    Gradients flow to ``x_seq``, a tensor ``v_init`` and ``w``.
    """
    if triton_neuron.available(spec, x_seq):
        if not isinstance(v_init, torch.Tensor):
            v_init = torch.full_like(x_seq[0], float(v_init))
        spikes, v_out = in_memory_order(
            lambda x, v: triton_neuron.TritonMultiStepNeuron.apply(x, v, w, spec, store_v_seq),
            x_seq, v_init, store_v_seq,
        )  # fmt: skip
    else:
        path = select_path(spec, x_seq)
        if isinstance(v_init, torch.Tensor):
            v_tensor, v_fill = v_init, 0.0
        else:
            v_tensor, v_fill = None, float(v_init)
        spikes, v_out = MultiStepNeuron.apply(x_seq, v_tensor, w, spec, store_v_seq, path, v_fill)
    if store_v_seq:
        return spikes, v_out[-1], v_out
    return spikes, v_out, None
