"""The kernels of the neurons: generated from neuron programs, built and run.

Every neuron's formulas exist once, in the language (``grammars/core_neurons.snn`` for
IF/LIF/PLIF, ``grammars/prelude.snn`` for the others, or a user's ``neuron``
definition); the code generator prints from each program a torch step, a fused torch
``autograd.Function`` and the kernels below, and :func:`snndsl.runtime.program.fused_call`
picks, per ``'m'``-mode call:

==========  ===========================  ================================================
path        module                       when
==========  ===========================  ================================================
C           :mod:`.program_native`       CPU float32/float64, a surrogate of
                                         ``surrogate.KERNEL_IDS``, no per-step
                                         transcendental, the kernel builds, not
                                         ``SNNDSL_CPU_KERNEL=aten``
Triton      :mod:`.program_triton`       CUDA, Triton imports, float32/16/bfloat16
torch       the generated ``Fused``      everything else (one warning where the C
                                         kernel does not build)
==========  ===========================  ================================================

:mod:`.build` compiles and caches the C (sha256 of the source, atomic);
:mod:`.parallel` splits a call over threads and reads non-contiguous steps in memory
order; :mod:`.buffer_pool` holds large CPU buffers reused between calls;
``csrc/surrogates.h`` the surrogates' derivatives the C includes.
"""
