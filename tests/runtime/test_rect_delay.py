"""The v1 runtime classes against SpikingJelly 2.0.0: the ``Rect`` surrogate (alone, and in
IF/LIF/PLIF, on the generated kernels and the torch paths) and ``layer.Delay`` (also against
``torch.cat``). (``LI`` and ``CubaLIF`` are prelude neurons now, generated from
``grammars/prelude.snn``: ``tests/compiler/test_prelude_neurons.py``.)

Forward results are compared with ``torch.equal``, gradients within ``1e-6`` relative to
the largest reference gradient. Shapes, parameters and inputs are drawn from seeded
generators, so every case is reproducible from its id.
"""

from __future__ import annotations

import copy
import random

import pytest
import torch

from snndsl.runtime import functional, layer, neuron, surrogate
from snndsl.runtime.kernels import program_native, program_triton

from .conftest import assert_runs_match, run_neuron

SEEDS = range(6)


def _shape(seed: int) -> tuple[int, ...]:
    """A random ``[T, N, *]``: 1 to 3 feature dims."""
    rng = random.Random(seed)
    return (
        rng.randint(1, 9),
        rng.randint(1, 4),
        *(rng.randint(1, 5) for _ in range(rng.randint(1, 3))),
    )


def _input(shape: tuple[int, ...], seed: int, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen) * scale


def _weights(like: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1000 + seed)
    return torch.randn(like.shape, generator=gen)


def _assert_grads_close(ours: list[torch.Tensor], ref: list[torch.Tensor]) -> None:
    assert len(ours) == len(ref)
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        bound = 1e-6 * max(1.0, b.abs().max().item())
        err = (a - b).abs().max().item()
        assert err <= bound, f"gradient {i} differs by {err} (bound {bound})"


# -- Rect -------------------------------------------------------------------------------
def _rect_x(alpha: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    edge = 0.5 / alpha
    points = [0.0, -0.0, edge, -edge, edge * (1 + 1e-7), edge * (1 - 1e-7), 5.0, -5.0]
    return torch.cat([torch.randn(300, generator=gen) / alpha, torch.tensor(points)])


@pytest.mark.parametrize("alpha", [1.0, 0.4, 2.5, 3])
@pytest.mark.parametrize("spiking", [True, False])
def test_rect_matches_spikingjelly(sj, alpha, spiking):
    ours, ref = surrogate.Rect(alpha, spiking=spiking), sj.surrogate.Rect(alpha, spiking=spiking)
    x1, x2 = _rect_x(alpha).requires_grad_(), _rect_x(alpha).requires_grad_()
    y1, y2 = ours(x1), ref(x2)
    assert torch.equal(y1, y2)
    g = torch.linspace(-1, 2, y1.numel())
    (g1,) = torch.autograd.grad(y1, x1, g)
    (g2,) = torch.autograd.grad(y2, x2, g)
    assert torch.equal(g1, g2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_rect_in_place_derivative_equals_derivative(dtype):
    """The fused ATen path reads ``g'`` through ``mul_derivative_`` (window times scale)."""
    sg = surrogate.Rect(alpha=1.6)
    x = _rect_x(1.6).to(dtype)
    for shift, sign in ((0.0, 1.0), (-0.3, -1.0)):
        grad, scratch = torch.linspace(-1, 1, x.numel(), dtype=dtype), torch.empty_like(x)
        expected = grad * sg.derivative(sign * x + shift)
        c = sg.mul_derivative_(x, grad, scratch, shift=shift, sign=sign)
        assert torch.equal(grad * c, expected)


def test_rect_defaults_validation_and_repr():
    assert surrogate.Rect().params == {"alpha": 1.0} and surrogate.Rect().spiking
    assert repr(surrogate.Rect()) == "Rect(alpha=1.0)"
    assert repr(surrogate.Rect(2, spiking=False)) == "Rect(alpha=2.0, spiking=False)"
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="Rect needs a finite alpha > 0"):
            surrogate.Rect(bad)
    assert "Rect" in surrogate.__all__


def test_the_generated_kernels_implement_rect():
    """Rect is number 8 of ``surrogate.KERNEL_IDS``: the C kernel runs a LIF with it (and
    the Triton kernels would on CUDA); the non-spiking one is the step loop's."""
    lif = neuron.LIFNode(surrogate_function=surrogate.Rect())
    x = torch.zeros(3, 4)
    assert surrogate.KERNEL_IDS[surrogate.Rect] == 8
    assert program_native.supports(lif.generated().PROGRAM, lif.surrogate_function, x)
    assert surrogate.Rect in program_triton.SURROGATES
    off = surrogate.Rect(spiking=False)
    assert not program_native.supports(lif.generated().PROGRAM, off, x)


@pytest.mark.parametrize(
    "kind, v_reset, detach_reset, spiking, dtype",
    [
        ("lif", 0.0, False, True, torch.float32),  # the C kernel
        ("lif", None, True, True, torch.float32),
        ("plif", -0.1, False, True, torch.float32),
        ("if", 0.0, False, True, torch.float64),  # the C kernel, float64
        ("lif", 0.0, False, False, torch.float32),  # the step loop
        ("lif", None, False, True, torch.float16),  # the generated torch Function
    ],
)
@pytest.mark.parametrize("mode", ["s", "m"])
def test_fused_neurons_with_rect_match_spikingjelly(
    sj, kind, v_reset, detach_reset, spiking, dtype, mode
):
    """A user may pick Rect for IF/LIF/PLIF: each path equals SpikingJelly (and the
    single-step neuron) exactly."""
    pair = []
    for lib_neuron, lib_sg in ((neuron, surrogate), (sj.neuron, sj.surrogate)):
        sg = lib_sg.Rect(alpha=1.5, spiking=spiking)
        common = {"v_reset": v_reset, "detach_reset": detach_reset, "surrogate_function": sg}
        if kind == "if":
            pair.append(lib_neuron.IFNode(**common))
        elif kind == "lif":
            pair.append(lib_neuron.LIFNode(tau=1.7, **common))
        else:
            pair.append(lib_neuron.ParametricLIFNode(init_tau=1.7, **common))
    ours, ref = pair
    x = _input((7, 3, 11), seed=5, scale=1.5).to(dtype)
    v0 = _input((3, 11), seed=6, scale=0.3).to(dtype)
    a = run_neuron(ours, x, v0, mode)
    b = run_neuron(ref, x, v0, "s")  # SpikingJelly's step loop: the op-for-op reference
    atol = 1e-6 if dtype != torch.float16 else 2e-3
    assert_runs_match(a, b, atol=atol, rtol=1e-6)


# -- Delay -------------------------------------------------------------------------------
def _delayed(x: torch.Tensor, steps: int) -> torch.Tensor:
    """The hand-written reference: ``torch.cat([zeros, x[:-steps]])``."""
    if steps == 0:
        return x
    if steps >= x.shape[0]:
        return torch.zeros_like(x)
    return torch.cat([torch.zeros_like(x[:steps]), x[:-steps]])


def _grad_of(y: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``d (y w).sum() / dx``; zeros when ``y`` does not depend on ``x`` (all zeros)."""
    if not y.requires_grad:
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad((y * w).sum(), x, allow_unused=True, materialize_grads=True)
    return g


@pytest.mark.parametrize("seed", SEEDS)
def test_delay_matches_the_shift_in_both_modes_with_gradients(seed):
    x = _input(_shape(seed), seed)
    T = x.shape[0]
    for steps in sorted({0, 1, 2, T - 1, T, T + 2}):
        ref = _delayed(x, steps)
        xm, xs = x.clone().requires_grad_(), x.clone().requires_grad_()
        ym = layer.Delay(steps, step_mode="m")(xm)
        single = layer.Delay(steps)
        ys = torch.stack([single(xs[t]) for t in range(T)])
        assert torch.equal(ym, ref) and torch.equal(ys, ref)
        w = _weights(ref, seed)
        gm, gs = (_grad_of(y, x_, w) for y, x_ in ((ym, xm), (ys, xs)))
        expected = torch.cat([w[steps:], torch.zeros_like(w[:steps])])[:T]
        assert torch.equal(gm, expected) and torch.equal(gs, expected)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_delay_state_carries_across_calls_in_both_modes(sj, steps):
    x = _input((11, 2, 3), 7)
    ref = _delayed(x, steps)
    for cuts in ([11], [4, 7], [1, 1, 2, 7], [2, 2, 2, 2, 3], [6, 5]):
        d = layer.Delay(steps, step_mode="m")
        parts, t = [], 0
        for i, n in enumerate(cuts):
            if i % 2 and n == 1:  # mix in single steps, as a recurrent loop calls them
                parts.append(d.single_step_forward(x[t]).unsqueeze(0))
            else:
                parts.append(d(x[t : t + n]))
            t += n
        assert torch.equal(torch.cat(parts), ref), cuts
    # SpikingJelly's Delay keeps its queue across calls too, in both modes
    ours, theirs = layer.Delay(steps, step_mode="m"), sj.layer.Delay(steps, step_mode="m")
    for piece in (x[:2], x[2:9], x[9:]):
        assert torch.equal(ours(piece), theirs(piece))
    ours.step_mode = theirs.step_mode = "s"
    for t in range(4):
        assert torch.equal(ours(x[t]), theirs(x[t]))


def test_delay_reset_makes_the_state_fresh():
    x = _input((6, 3), 1)
    d = layer.Delay(2)
    for t in range(6):
        d(x[t])
    assert len(d.queue) == 2
    d.reset()
    assert d.queue == () and torch.equal(d(x[0]), torch.zeros(3))
    d.step_mode = "m"
    d.reset()
    assert torch.equal(d(x), _delayed(x, 2))
    d.reset()
    assert torch.equal(d.single_step_forward(x[0]), torch.zeros(3))  # 'm', stepped
    y = _input((6, 5), 2)  # another feature shape restarts from zeros
    assert torch.equal(d(y), _delayed(y, 2))


def test_delay_memory_handling():
    d = layer.Delay(2, step_mode="m")
    x = _input((3, 4), 5).requires_grad_()
    y = d(x * 2)
    assert not d.state_dict() and all(q.grad_fn is not None for q in d.queue)
    clone = copy.deepcopy(d)  # queued tensors carry a graph
    assert all(q.grad_fn is None for q in clone.queue) and d.queue[0].grad_fn is not None
    assert torch.equal(clone(x.detach()), d(x.detach()))
    d.detach()
    assert all(q.grad_fn is None for q in d.queue)
    d.double()
    assert all(q.dtype == torch.float64 for q in d.queue)
    assert d(x.double()).dtype == torch.float64
    y.sum().backward()  # the graph of the first call is still intact
    functional.reset_net(d)
    assert d.queue == ()


def test_delay_arguments():
    assert layer.Delay(3).delay_steps == layer.Delay(steps=3).steps == 3
    assert layer.Delay(delay_steps=0, step_mode="m").step_mode == "m"
    assert repr(layer.Delay(2)) == "Delay(delay_steps=2, step_mode=s)"
    assert list(dict(layer.Delay(1).named_memories())) == ["queue"]
    x = torch.ones(2, 3)
    assert layer.Delay(0)(x) is x and layer.Delay(0, step_mode="m")(x) is x
    for args, kw, exc in (
        ((), {}, TypeError),
        ((1,), {"steps": 1}, TypeError),
        ((-1,), {}, ValueError),
        ((1.0,), {}, TypeError),
        ((True,), {}, TypeError),
        ((1,), {"step_mode": "q"}, ValueError),
    ):
        with pytest.raises(exc):
            layer.Delay(*args, **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_everything_matches_spikingjelly(sj):
    """On CUDA, LIF with Rect runs the generated Triton kernels and equals SpikingJelly;
    Delay still equals the shift (the same CUDA ops, bit for bit)."""
    x = _input((6, 4, 33), 9, scale=1.5).cuda()
    lif = neuron.LIFNode(surrogate_function=surrogate.Rect(), step_mode="m").cuda()
    assert program_triton.supports(lif.generated().PROGRAM, lif.surrogate_function, x)
    ref = sj.neuron.LIFNode(surrogate_function=sj.surrogate.Rect())
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    s1, s2 = lif(x1), torch.stack([ref(x2[t]) for t in range(6)])
    assert torch.equal(s1, s2) and torch.equal(lif.v, ref.v)
    w = _weights(s1, 9).cuda()
    grads = [torch.autograd.grad((s * w).sum(), x_)[0] for s, x_ in ((s1, x1), (s2, x2))]
    _assert_grads_close(grads[:1], grads[1:])
    assert torch.equal(layer.Delay(2, step_mode="m")(x), _delayed(x, 2))
