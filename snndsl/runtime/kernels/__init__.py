"""Multi-step neuron kernels: one fused operation for the whole time loop.

:func:`multi_step` picks the implementation per call (:func:`path_for` says which).
Each has one name, used for its module, for the path string :func:`path_for` and
:func:`.torch_neuron.select_path` return (and tests force), for ``SNNDSL_CPU_KERNEL``,
in the docs and in the benchmarks' output:

==========  ========================  =======================================================
name        module                    when
==========  ========================  =======================================================
``triton``  :mod:`.triton_neuron`     CUDA tensors, Triton imports, a surrogate it knows
``native``  :mod:`.native_neuron`     CPU float32, one of the eight spiking surrogates: the
                                      compiled C loop of ``csrc/neuron.c``
``aten``    :mod:`.aten_neuron`       other CPU float32/float64 spiking cases, or the C
                                      kernel off or not built: in-place ATen ops on
                                      cache-sized blocks
``mirror``  :mod:`.torch_neuron`      everything else, and while ``torch.compile`` traces:
                                      the reference step ops themselves
==========  ========================  =======================================================

``native``, ``aten`` and ``mirror`` run inside the ``autograd.Function``
:class:`.torch_neuron.MultiStepNeuron`; ``triton`` has its own
(:class:`.triton_neuron.TritonMultiStepNeuron`). ``SNNDSL_CPU_KERNEL`` chooses between
the two CPU kernels: ``auto`` (default: ``native`` when it builds, else ``aten``),
``native`` (or an error), ``aten``. All reproduce :mod:`.reference` (the single-step
equations) bit for bit in the forward pass. :mod:`.buffer_pool` holds the large CPU
buffers that ``native`` and ``aten`` reuse between calls.
"""

from __future__ import annotations

import torch

from . import triton_neuron
from .reference import NeuronSpec
from .torch_neuron import MultiStepNeuron, in_memory_order, select_path

__all__ = ["NeuronSpec", "multi_step", "path_for", "PATHS"]

#: the implementations, by name (see the table above)
PATHS = ("triton", "native", "aten", "mirror")


def path_for(spec: NeuronSpec, x_seq: torch.Tensor) -> str:
    """The implementation a :func:`multi_step` call on ``x_seq`` takes: ``'triton'``,
    ``'native'``, ``'aten'`` or ``'mirror'``."""
    if triton_neuron.available(spec, x_seq):
        return "triton"
    return select_path(spec, x_seq)


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
    path = path_for(spec, x_seq)
    if path == "triton":
        if not isinstance(v_init, torch.Tensor):
            v_init = torch.full_like(x_seq[0], float(v_init))
        spikes, v_out = in_memory_order(
            lambda x, v: triton_neuron.TritonMultiStepNeuron.apply(x, v, w, spec, store_v_seq),
            x_seq, v_init, store_v_seq,
        )  # fmt: skip
    else:
        if isinstance(v_init, torch.Tensor):
            v_tensor, v_fill = v_init, 0.0
        else:
            v_tensor, v_fill = None, float(v_init)
        spikes, v_out = MultiStepNeuron.apply(x_seq, v_tensor, w, spec, store_v_seq, path, v_fill)
    if store_v_seq:
        return spikes, v_out[-1], v_out
    return spikes, v_out, None
