"""The fused recurrent Linear + neuron region (``snndsl.runtime.recurrent``) against the
plain step loop it replaces: spikes and ``v`` bit for bit, gradients within 1e-5."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from snndsl.runtime import neuron, surrogate
from snndsl.runtime.recurrent import fused, recurrent_neuron, step_loop

from .conftest import SURROGATES

T, N, H = 12, 3, 16


def _inputs(seed: int, bias: bool, dtype: torch.dtype = torch.float32):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, N, H, generator=gen, dtype=dtype) * 0.8 + 0.4).requires_grad_()
    w = (torch.randn(H, H, generator=gen, dtype=dtype) * 0.4).requires_grad_()
    b = (torch.randn(H, generator=gen, dtype=dtype) * 0.1).requires_grad_() if bias else None
    return x, w, b


def _close(a: torch.Tensor, r: torch.Tensor) -> None:
    """Within 1e-5 of the gradient's scale: the sums over T and N (``grad_W`` is one
    ``mm`` over all steps here, T accumulated ones in autograd) round in another order,
    which moves entries that cancel to near zero by more than 1e-5 of themselves."""
    err = (a - r).abs().max().item()
    assert err <= 1e-5 * r.abs().max().item() + 1e-7, (err, r.abs().max().item())


def _neuron_pair(make):
    a, r = make(), make()
    r.load_state_dict(a.state_dict())
    return a, r


def _compare(make, bias=False, seed=0, s_init=None, warm_v=False, dtype=torch.float32,
             grad_v=False):  # fmt: skip
    x, w, b = _inputs(seed, bias, dtype)
    ours, ref = _neuron_pair(make)
    if warm_v:  # a carried state: both neurons start from the same tensor v
        v0 = (torch.rand(N, H, dtype=dtype) * 0.5).requires_grad_()
        ours.v, ref.v = v0, v0
    s_ours = recurrent_neuron(x, w, b, ours, s_init)
    # the generated C kernel ran the region, one step per call (not the step loop)
    assert type(s_ours.grad_fn).__name__ == "RecurrentNeuronBackward", s_ours.grad_fn
    s_ref = step_loop(x, w, b, ref, s_init)
    assert torch.equal(s_ours, s_ref)
    assert torch.equal(ours.v, ref.v)
    assert 0.0 < s_ref.mean().item() < 1.0  # the case exercises firing and not firing
    gen = torch.Generator().manual_seed(seed + 1)
    g = torch.randn(s_ref.shape, generator=gen, dtype=dtype)
    inputs = [x, w, *([b] if bias else [])]

    def grads(s, node, extra):
        loss = (s * g).sum() + ((node.v * 0.3).sum() if grad_v else 0.0)
        return torch.autograd.grad(loss, inputs + extra + list(node.parameters()))

    extra = [s_init] if s_init is not None and s_init.requires_grad else []
    if warm_v:
        extra.append(v0)
    for a, r in zip(grads(s_ours, ours, extra), grads(s_ref, ref, extra), strict=True):
        _close(a, r)


KINDS = {
    "IF": lambda **kw: neuron.IFNode(**kw),
    "LIF": lambda **kw: neuron.LIFNode(tau=1.7, **kw),
    "LIF-nodecay": lambda **kw: neuron.LIFNode(decay_input=False, **kw),
    "PLIF": lambda **kw: neuron.ParametricLIFNode(init_tau=2.5, **kw),
    "PLIF-nodecay": lambda **kw: neuron.ParametricLIFNode(decay_input=False, **kw),
}
RESETS = {"hard0": {}, "hard-0.3": {"v_reset": -0.3}, "soft": {"v_reset": None}}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("reset", list(RESETS))
@pytest.mark.parametrize("detach", [False, True])
def test_kinds_and_resets(kind, reset, detach):
    _compare(lambda: KINDS[kind](detach_reset=detach, **RESETS[reset]), bias=reset == "soft")


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogates(name):
    _compare(lambda: neuron.LIFNode(surrogate_function=getattr(surrogate, name)()), bias=True)


@pytest.mark.parametrize("name", ["Sigmoid", "ATan"])
def test_non_spiking_surrogate_runs_the_reference_ops(name):
    # spiking=False: the step loop itself (no C kernel), the same values
    make = lambda: neuron.LIFNode(surrogate_function=getattr(surrogate, name)(spiking=False))  # noqa: E731
    x, w, b = _inputs(3, True)
    a, r = _neuron_pair(make)
    torch.testing.assert_close(recurrent_neuron(x, w, b, a), step_loop(x, w, b, r), rtol=0, atol=0)


def test_float64():
    _compare(lambda: neuron.ParametricLIFNode(), bias=True, dtype=torch.float64)


def test_initial_state_carried():
    s0 = (torch.rand(N, H) < 0.3).float().requires_grad_()
    _compare(lambda: neuron.LIFNode(), s_init=s0, warm_v=True)
    _compare(lambda: neuron.ParametricLIFNode(v_reset=None), bias=True, s_init=s0, warm_v=True)


def test_gradient_through_final_v():
    _compare(lambda: neuron.LIFNode(), grad_v=True)
    _compare(lambda: neuron.ParametricLIFNode(), grad_v=True, bias=True)


def test_two_calls_carry_state_like_one():
    """Chunks of a sequence, the state carried (neuron.v and the last spikes): the same
    spikes as one call over the whole sequence."""
    x, w, _ = _inputs(4, False)
    whole, parts = neuron.LIFNode(), neuron.LIFNode()
    s_whole = recurrent_neuron(x, w, None, whole)
    first = recurrent_neuron(x[:5], w, None, parts)
    second = recurrent_neuron(x[5:], w, None, parts, s_init=first[-1])
    assert torch.equal(torch.cat((first, second)), s_whole)
    assert torch.equal(parts.v, whole.v)


def test_store_v_seq():
    x, w, b = _inputs(5, True)
    ours, ref = _neuron_pair(lambda: neuron.LIFNode(store_v_seq=True))
    recurrent_neuron(x, w, b, ours)
    step_loop(x, w, b, ref)
    assert torch.equal(ours.v_seq, ref.v_seq)
    assert torch.equal(ours.v, ref.v_seq[-1])
    g_ours = torch.autograd.grad(ours.v_seq.sum(), [x, w])
    g_ref = torch.autograd.grad(ref.v_seq.sum(), [x, w])
    for a, r in zip(g_ours, g_ref, strict=True):
        _close(a, r)


def test_extra_batch_dims_and_matches_linear_then_add_exactly():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(6, 2, 3, 64, generator=gen) + 0.5
    w = torch.randn(64, 64, generator=gen) * 0.3
    b = torch.randn(64, generator=gen) * 0.1
    a, r = neuron.LIFNode(), neuron.LIFNode()
    assert torch.equal(recurrent_neuron(x, w, b, a), step_loop(x, w, b, r))
    # the reason for mm-then-add: a single addmm(x, s, W^T) rounds differently
    s = (torch.rand(32, 256, generator=gen) < 0.2).float()
    big_w, xt = torch.randn(256, 256, generator=gen) * 0.05, torch.randn(32, 256, generator=gen)
    assert torch.equal(torch.mm(s, big_w.t()).add_(xt), xt + F.linear(s, big_w))


def test_other_neurons_take_the_step_loop():
    class MyLIF(neuron.LIFNode):
        pass

    node = MyLIF()
    assert not fused(node) and fused(neuron.LIFNode())
    x, w, _ = _inputs(7, False)
    ref = MyLIF()
    assert torch.equal(recurrent_neuron(x, w, None, node), step_loop(x, w, None, ref))


def test_bad_shapes():
    x, w, _ = _inputs(8, False)
    with pytest.raises(ValueError, match="weight must be"):
        recurrent_neuron(x, w[:, :4], None, neuron.LIFNode())
    with pytest.raises(ValueError, match="s_init"):
        recurrent_neuron(x, w, None, neuron.LIFNode(), s_init=torch.zeros(H))
    with pytest.raises(ValueError, match="T >= 1"):
        recurrent_neuron(x[:0], w, None, neuron.LIFNode())


def test_split_over_threads(monkeypatch):
    """Each step's neurons split over threads (as a large layer is): the same results."""
    import sys

    from snndsl.runtime.kernels import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    monkeypatch.setattr(sys.modules[__name__], "H", H * 8)  # 384 neurons: 3 ranges of 128
    assert parallel.threads(N * 128, N * 128) == 3
    _compare(lambda: neuron.ParametricLIFNode(v_reset=None), bias=True, grad_v=True)
