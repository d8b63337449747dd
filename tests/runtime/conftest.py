"""Shared fixtures for the runtime tests: SpikingJelly 2.0.0 as the reference oracle.

SpikingJelly is a test-only dependency. Its model zoo (``activation_based.model``) imports
torchvision, which is broken in some environments; these tests never import it, and the
``sj`` fixture stubs ``torchvision.models.utils`` in case something else does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from snndsl.runtime import neuron, surrogate

SURROGATES = [
    "Sigmoid",
    "ATan",
    "PiecewiseQuadratic",
    "PiecewiseExp",
    "SoftSign",
    "Erf",
    "SuperSpike",
    "PiecewiseLeakyReLU",
]

#: Non-default shape parameters, to catch a formula that ignores them.
SURROGATE_PARAMS: dict[str, dict[str, float]] = {
    "Sigmoid": {"alpha": 3.0},
    "ATan": {"alpha": 1.5},
    "PiecewiseQuadratic": {"alpha": 0.8},
    "PiecewiseExp": {"alpha": 1.7},
    "SoftSign": {"alpha": 2.5},
    "Erf": {"alpha": 1.2},
    "SuperSpike": {"alpha": 1.3},
    "PiecewiseLeakyReLU": {"w": 0.7, "c": 0.05},
}


@dataclass
class SJ:
    """The SpikingJelly modules the tests compare against."""

    neuron: Any
    layer: Any
    functional: Any
    surrogate: Any
    base: Any


@pytest.fixture(scope="session")
def sj() -> SJ:
    pytest.importorskip("spikingjelly")
    if "torchvision.models.utils" not in sys.modules:
        stub = types.ModuleType("torchvision.models.utils")
        stub.load_state_dict_from_url = torch.hub.load_state_dict_from_url  # type: ignore[attr-defined]
        sys.modules["torchvision.models.utils"] = stub
    from spikingjelly.activation_based import base, functional, layer
    from spikingjelly.activation_based import neuron as sj_neuron
    from spikingjelly.activation_based import surrogate as sj_surrogate

    return SJ(sj_neuron, layer, functional, sj_surrogate, base)


def make_neurons(
    sj: SJ,
    kind: str,
    *,
    v_reset: float | None = 0.0,
    detach_reset: bool = False,
    decay_input: bool = True,
    tau: float = 2.0,
    sg: str = "Sigmoid",
    spiking: bool = True,
    step_mode: str = "s",
    store_v_seq: bool = False,
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same neuron built by snndsl and by SpikingJelly."""
    params = SURROGATE_PARAMS[sg]
    common = {
        "v_reset": v_reset,
        "detach_reset": detach_reset,
        "step_mode": step_mode,
        "store_v_seq": store_v_seq,
    }
    pair = []
    for lib_neuron, lib_sg in ((neuron, surrogate), (sj.neuron, sj.surrogate)):
        sg_fn = getattr(lib_sg, sg)(spiking=spiking, **params)
        if kind == "if":
            node = lib_neuron.IFNode(surrogate_function=sg_fn, **common)
        elif kind == "lif":
            node = lib_neuron.LIFNode(
                tau=tau, decay_input=decay_input, surrogate_function=sg_fn, **common
            )
        else:
            node = lib_neuron.ParametricLIFNode(
                init_tau=tau, decay_input=decay_input, surrogate_function=sg_fn, **common
            )
        pair.append(node)
    return pair[0], pair[1]


@dataclass
class Run:
    spikes: torch.Tensor
    v: torch.Tensor
    grads: list[torch.Tensor]


def run_neuron(
    node: torch.nn.Module,
    x_seq: torch.Tensor,
    v0: torch.Tensor | None,
    mode: str,
    grad_seed: int = 0,
) -> Run:
    """Run ``x_seq`` through ``node`` in ``mode``; differentiate a loss that uses both the
    spikes and the final ``v`` with respect to the input, the initial ``v`` and the
    parameters."""
    node.step_mode = mode
    x = x_seq.detach().clone().requires_grad_()
    leaves = [x]
    if v0 is not None:
        v = v0.detach().clone().requires_grad_()
        node.v = v
        leaves.append(v)
    if mode == "s":
        spikes = torch.stack([node(x[t]) for t in range(x.shape[0])])
    else:
        spikes = node(x)
    v_last = node.v
    gen = torch.Generator().manual_seed(grad_seed)
    w_s = torch.randn(spikes.shape, generator=gen)
    w_v = torch.randn(v_last.shape, generator=gen)
    loss = (spikes * w_s).sum() + (v_last * w_v).sum()
    leaves += list(node.parameters())
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    return Run(spikes.detach(), v_last.detach(), [g for g in grads if g is not None])


def assert_runs_match(ours: Run, ref: Run, atol: float = 1e-6, rtol: float = 0.0) -> None:
    """Forward bit for bit; gradients within ``atol + rtol * |ref|``.

    A parameter gradient such as PLIF's ``grad_w`` is a sum over every neuron and step;
    on large inputs only a relative tolerance is meaningful for it (float32 sums in a
    different order differ by about ``1e-7`` relative).
    """
    assert torch.equal(ours.spikes, ref.spikes), "spikes differ"
    assert torch.equal(ours.v, ref.v), f"v differs by {(ours.v - ref.v).abs().max()}"
    assert len(ours.grads) == len(ref.grads)
    for i, (a, b) in enumerate(zip(ours.grads, ref.grads, strict=True)):
        err = (a - b).abs().max().item()
        bound = atol + rtol * b.abs().max().item()
        assert err <= bound, f"gradient {i} differs by {err} (bound {bound})"


@pytest.fixture
def neurons(sj: SJ) -> Callable[..., tuple[torch.nn.Module, torch.nn.Module]]:
    """``neurons(kind, **options) -> (ours, spikingjelly's)``."""
    return lambda kind, **kw: make_neurons(sj, kind, **kw)


@pytest.fixture
def run() -> Callable[..., Run]:
    """:func:`run_neuron` as a fixture (test modules do not import conftest)."""
    return run_neuron


@pytest.fixture
def assert_match() -> Callable[..., None]:
    """:func:`assert_runs_match` as a fixture."""
    return assert_runs_match


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_interpreted(script: str, cache_dir: object = None, timeout: int = 600) -> str:
    """Run ``script`` in a fresh interpreter with ``TRITON_INTERPRET=1`` (Triton reads it
    when a kernel is defined) and the checkout on the path; assert that it exits 0 and
    that its last line starts with ``ok``. ``cache_dir``: ``SNNDSL_CACHE_DIR`` for it."""
    env = dict(os.environ, TRITON_INTERPRET="1")
    if cache_dir is not None:
        env["SNNDSL_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert last.startswith("ok"), done.stdout[-4000:]
    return done.stdout


def count_c_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at each call of the generated C kernel's fused
    multi-step entry (``program_native.run_in_memory_order``), for this test."""
    from snndsl.runtime.kernels import program_native

    calls: list[int] = []
    real = program_native.run_in_memory_order

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(program_native, "run_in_memory_order", counted)
    return calls
