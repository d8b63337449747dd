"""The runtime's IF/LIF/PLIF on their generated Triton kernels, against the same neurons
on the CPU (the generated C kernel), on CPU with ``TRITON_INTERPRET=1``.

Each neuron's program (``LIFNode(...).generated().PROGRAM``, from
``grammars/core_neurons.snn``) runs through ``program_triton.TritonProgram``, the
function :func:`snndsl.runtime.program.fused_call` takes on CUDA. Triton reads
``TRITON_INTERPRET`` when a kernel is defined, so the check runs in a fresh interpreter
process. Forward: spikes and ``v`` bit for bit (float32 and float16); gradients within
rounding. bfloat16 is not checked here: the interpreter truncates float32 -> bfloat16
conversions instead of rounding to nearest, as GPUs do.
"""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("triton", reason="Triton is not installed; the PyTorch path is the fallback")

from .conftest import run_interpreted  # noqa: E402 - after the skip

CHECK = textwrap.dedent(
    """
    import itertools, torch
    from snndsl.runtime import neuron, surrogate
    from snndsl.runtime.kernels import program_triton

    SURROGATES = ["Sigmoid", "ATan", "PiecewiseQuadratic", "PiecewiseExp", "SoftSign",
                  "Erf", "SuperSpike", "PiecewiseLeakyReLU", "Rect"]
    KINDS = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
    cases = [(k, d, r, torch.float32) for (k, d), r in itertools.product(KINDS, [0.0, None, -0.3])]
    cases += [("lif", True, -0.3, torch.float16), ("plif", False, None, torch.float16)]

    def make(kind, decay, v_reset, detach, sg, store):
        common = dict(v_reset=v_reset, detach_reset=detach, surrogate_function=sg,
                      step_mode="m", store_v_seq=store)
        if kind == "if":
            return neuron.IFNode(**common)
        if kind == "lif":
            return neuron.LIFNode(tau=3.7, decay_input=decay, **common)
        return neuron.ParametricLIFNode(init_tau=1.8, decay_input=decay, **common)

    failures = []
    for i, (kind, decay, v_reset, dtype) in enumerate(cases):
        sg = getattr(surrogate, SURROGATES[i % len(SURROGATES)])()
        store = i % 3 == 0
        gen = torch.Generator().manual_seed(i)
        x = (torch.randn(5, 3, 70, generator=gen) * 1.2 + 0.5).to(dtype)
        v0 = (torch.randn(3, 70, generator=gen) * 0.5).to(dtype)
        results = []
        for impl in ("cpu", "triton"):
            node = make(kind, decay, v_reset, i % 2 == 1, sg, store).to(dtype)
            xx, vv = x.clone().requires_grad_(), v0.clone().requires_grad_()
            params = list(node.parameters())
            if impl == "cpu":
                node.v = vv
                s = node(xx)
                v = node.v_seq if store else node.v
            else:
                prog = node.generated().PROGRAM
                assert program_triton.supports(prog, sg, xx, force=True)
                s, v_last, v_seq = program_triton.TritonProgram.apply(prog, sg, store, xx, vv, *params)
                v = v_seq if store else v_last
            gs = torch.randn(s.shape, generator=torch.Generator().manual_seed(1))
            gv = torch.randn(v.shape, generator=torch.Generator().manual_seed(2))
            loss = (s.float() * gs).sum() + (v.float() * gv).sum()
            results.append((s, v, torch.autograd.grad(loss, [xx, vv, *params])))
        (s1, v1, g1), (s2, v2, g2) = results
        if not (torch.equal(s1, s2) and torch.equal(v1, v2)):
            failures.append(f"forward {kind} {decay} {v_reset} {dtype}")
        atol, rtol = (1e-5, 1e-5) if dtype == torch.float32 else (5e-2, 5e-2)
        for name, a, b in zip(("x", "v", "w"), g1, g2):
            if not torch.allclose(a.float(), b.float(), atol=atol, rtol=rtol):
                err = (a.float() - b.float()).abs().max().item()
                failures.append(f"grad {name} {kind} {decay} {v_reset} {dtype}: {err}")
    # channels-last steps: read in memory order (as fused_call runs the kernels on CUDA)
    from snndsl.runtime.kernels import parallel
    node = neuron.LIFNode(step_mode="m", tau=2.5)
    base = torch.randn(4 * 2, 3, 5, 6, generator=torch.Generator().manual_seed(9)) + 0.6
    x_cl = base.contiguous(memory_format=torch.channels_last).unflatten(0, (4, 2)).requires_grad_()
    prog, sg = node.generated().PROGRAM, node.surrogate_function
    s_cl, v_cl, _ = parallel.in_memory_order(
        lambda x, st: program_triton.TritonProgram.apply(prog, sg, False, x, *st), x_cl, [torch.zeros(2, 3, 5, 6)])
    ref = node(x_cl)
    if not (torch.equal(s_cl, ref) and torch.equal(v_cl, node.v) and s_cl.stride() == x_cl.stride()):
        failures.append(f"channels-last: strides {s_cl.stride()} for {x_cl.stride()}")
    print("\\n".join(failures) if failures else f"ok {len(cases)}")
    """
)


def test_triton_kernels_match_the_cpu_paths_in_the_interpreter():
    run_interpreted(CHECK, timeout=300)


def test_the_kernel_module_declines_cpu_tensors_and_smooth_surrogates():
    import torch

    from snndsl.runtime import neuron, surrogate
    from snndsl.runtime.kernels import program_triton

    prog = neuron.LIFNode().generated().PROGRAM
    assert not program_triton.supports(prog, surrogate.Sigmoid(), torch.zeros(1))  # CPU
    assert not program_triton.supports(prog, surrogate.Sigmoid(spiking=False), torch.zeros(1), force=True)
