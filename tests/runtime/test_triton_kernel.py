"""The Triton neuron kernels against the PyTorch fused path, on CPU with ``TRITON_INTERPRET=1``.

Triton reads ``TRITON_INTERPRET`` when a kernel is defined, so the check runs in a fresh
interpreter process. Forward: spikes and ``v`` bit for bit (float32 and float16);
gradients within rounding. bfloat16 is not checked here: the interpreter truncates
float32 -> bfloat16 conversions instead of rounding to nearest, as GPUs do.
"""

from __future__ import annotations

import textwrap

import pytest

pytest.importorskip("triton", reason="Triton is not installed; the PyTorch path is the fallback")

from .conftest import run_interpreted  # noqa: E402 - after the skip

CHECK = textwrap.dedent(
    """
    import itertools, torch
    from snndsl.runtime import surrogate
    from snndsl.runtime.kernels import torch_neuron, triton_neuron
    from snndsl.runtime.kernels.reference import NeuronSpec

    SURROGATES = ["Sigmoid", "ATan", "PiecewiseQuadratic", "PiecewiseExp", "SoftSign",
                  "Erf", "SuperSpike", "PiecewiseLeakyReLU"]
    KINDS = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
    cases = [(k, d, r, torch.float32) for (k, d), r in itertools.product(KINDS, [0.0, None, -0.3])]
    cases += [("lif", True, -0.3, torch.float16), ("plif", False, None, torch.float16)]
    failures = []
    for i, (kind, decay, v_reset, dtype) in enumerate(cases):
        sg = getattr(surrogate, SURROGATES[i % len(SURROGATES)])()
        spec = NeuronSpec(kind, 1.0, v_reset, i % 2 == 1, sg, 3.7, decay)
        store = i % 3 == 0
        gen = torch.Generator().manual_seed(i)
        x = (torch.randn(5, 3, 70, generator=gen) * 1.2 + 0.5).to(dtype)
        v0 = (torch.randn(3, 70, generator=gen) * 0.5).to(dtype)
        w = torch.tensor(0.3, dtype=dtype)
        results = []
        for impl in ("torch", "triton"):
            xx, vv = x.clone().requires_grad_(), v0.clone().requires_grad_()
            ww = w.clone().requires_grad_() if kind == "plif" else None
            if impl == "torch":
                path = torch_neuron.select_path(spec, xx)
                s, v = torch_neuron.MultiStepNeuron.apply(xx, vv, ww, spec, store, path)
            else:
                s, v = triton_neuron.TritonMultiStepNeuron.apply(xx, vv, ww, spec, store)
            gs = torch.randn(s.shape, generator=torch.Generator().manual_seed(1))
            gv = torch.randn(v.shape, generator=torch.Generator().manual_seed(2))
            loss = (s.float() * gs).sum() + (v.float() * gv).sum()
            leaves = [xx, vv] + ([ww] if ww is not None else [])
            results.append((s, v, torch.autograd.grad(loss, leaves)))
        (s1, v1, g1), (s2, v2, g2) = results
        if not (torch.equal(s1, s2) and torch.equal(v1, v2)):
            failures.append(f"forward {kind} {decay} {v_reset} {dtype}")
        atol, rtol = (1e-5, 1e-5) if dtype == torch.float32 else (5e-2, 5e-2)
        for name, a, b in zip(("x", "v", "w"), g1, g2):
            if not torch.allclose(a.float(), b.float(), atol=atol, rtol=rtol):
                err = (a.float() - b.float()).abs().max().item()
                failures.append(f"grad {name} {kind} {decay} {v_reset} {dtype}: {err}")
    print("\\n".join(failures) if failures else f"ok {len(cases)}")
    """
)


def test_triton_kernels_match_the_pytorch_path_in_the_interpreter():
    run_interpreted(CHECK, timeout=300)


def test_the_kernel_module_imports_and_declines_cpu_tensors():
    import torch

    from snndsl.runtime import surrogate
    from snndsl.runtime.kernels import triton_neuron
    from snndsl.runtime.kernels.reference import NeuronSpec

    spec = NeuronSpec("lif", 1.0, 0.0, False, surrogate.Sigmoid())
    assert triton_neuron.supports(spec, torch.zeros(1))
    assert not triton_neuron.available(spec, torch.zeros(1))  # CPU: the PyTorch path
    spec_smooth = NeuronSpec("lif", 1.0, 0.0, False, surrogate.Sigmoid(spiking=False))
    assert not triton_neuron.supports(spec_smooth, torch.zeros(1))
