"""IF, LIF and PLIF against SpikingJelly 2.0.0: spikes and ``v`` bit for bit (``torch.equal``),
gradients for the input, the initial ``v`` and PLIF's ``w`` within ``1e-6`` (float32, CPU).

Each case runs the same input through snndsl and SpikingJelly in ``'s'`` (a step loop) and
``'m'`` (snndsl's fused operation) mode, from a random initial ``v``.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import SURROGATES, make_neurons

RESETS = [0.0, None, -0.25]
KIND_DECAY = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
#: the strategies of a random neuron configuration and input (test_random_configurations)
RANDOM_CONFIGURATION = dict(
    kind_decay=st.sampled_from(KIND_DECAY),
    v_reset=st.sampled_from([0.0, None, -0.5, 0.3]),
    v_threshold=st.sampled_from([1.0, 0.5, 1.25]),
    detach_reset=st.booleans(),
    tau=st.sampled_from([1.5, 2.0, 3.7]),
    sg=st.sampled_from(SURROGATES),
    mode=st.sampled_from("sm"),
    T=st.integers(1, 6),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    seed=st.integers(0, 2**16),
    fresh_v=st.booleans(),
)


def _inputs(seed: int, shape: tuple[int, ...], quantised: bool = False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * 0.8 + 0.45
    if quantised:  # multiples of 1/4 hit H == v_threshold exactly
        x = (x * 4).round() / 4
    v0 = torch.randn(shape[1:], generator=gen) * 0.5
    return x, v0


@pytest.mark.parametrize(
    "kind,decay_input,v_reset,detach_reset,mode",
    [
        (k, d, r, det, m)
        for (k, d), r, det, m in itertools.product(KIND_DECAY, RESETS, [False, True], "sm")
    ],
)
def test_dynamics_match_spikingjelly(
    neurons, run, assert_match, kind, decay_input, v_reset, detach_reset, mode
):
    ours, ref = neurons(
        kind,
        v_reset=v_reset,
        detach_reset=detach_reset,
        decay_input=decay_input,
        tau=2.5,
        sg="ATan",
    )
    x, v0 = _inputs(7, (6, 3, 5), quantised=kind == "if")
    assert_match(run(ours, x, v0, mode), run(ref, x, v0, mode))


@pytest.mark.parametrize("sg", SURROGATES)
@pytest.mark.parametrize("kind", ["lif", "plif"])
def test_every_surrogate_in_the_fused_path(neurons, run, assert_match, sg, kind):
    ours, ref = neurons(kind, sg=sg, tau=3.0)
    x, v0 = _inputs(11, (5, 4, 6))
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"))


@pytest.mark.parametrize("sg", [s for s in SURROGATES if s != "SuperSpike"])
@pytest.mark.parametrize("mode", "sm")
def test_non_spiking_surrogates(neurons, run, assert_match, sg, mode):
    """``spiking=False``: the smooth primitive is the output (SuperSpike has none in SJ)."""
    ours, ref = neurons("lif", sg=sg, spiking=False, v_reset=None)
    x, v0 = _inputs(3, (4, 2, 7))
    assert_match(run(ours, x, v0, mode), run(ref, x, v0, mode))


@pytest.mark.parametrize("kind,decay_input", KIND_DECAY)
@pytest.mark.parametrize("v_reset", [0.0, None])
def test_torch_path_matches_too(
    neurons, run, assert_match, monkeypatch, kind, decay_input, v_reset
):
    """The generated torch Function (the path where the C kernel does not run: no
    compiler, half precision, ``SNNDSL_CPU_KERNEL=aten``) gives SpikingJelly's results."""
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "aten")
    ours, ref = neurons(kind, decay_input=decay_input, v_reset=v_reset, sg="Erf")
    x, v0 = _inputs(5, (5, 3, 4), quantised=kind == "if")
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"))


@pytest.mark.parametrize("block_bytes", [4096, 256 << 10])
def test_blocking_does_not_change_results(neurons, run, assert_match, monkeypatch, block_bytes):
    """Several neuron blocks per call (the C kernel's cache blocking: 1024 neurons a
    forward block, the backward's by its buffers' size), a partial last block."""
    from snndsl.runtime.kernels import program_native

    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "native")
    monkeypatch.setattr(program_native, "_BLOCK_BYTES", block_bytes)
    ours, ref = neurons("plif", v_reset=-0.25, sg="PiecewiseQuadratic")
    x, v0 = _inputs(2, (3, 5, 1000))
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"), rtol=1e-6)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(**RANDOM_CONFIGURATION)
def test_random_configurations(
    sj,
    run,
    assert_match,
    kind_decay,
    v_reset,
    v_threshold,
    detach_reset,
    tau,
    sg,
    mode,
    T,
    shape,
    seed,
    fresh_v,
):
    kind, decay_input = kind_decay
    ours, ref = make_neurons(
        sj,
        kind,
        v_reset=v_reset,
        detach_reset=detach_reset,
        decay_input=decay_input,
        tau=tau,
        sg=sg,
    )
    ours.v_threshold = ref.v_threshold = v_threshold
    x, v0 = _inputs(seed, (T, *shape), quantised=seed % 3 == 0)
    v0 = None if fresh_v else v0
    assert_match(run(ours, x, v0, mode), run(ref, x, v0, mode))
