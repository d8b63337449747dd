"""The v1 runtime classes against SpikingJelly 2.0.0: ``NonSpikingLIFNode`` (``LI``),
``CUBALIFNode`` (``CubaLIF``), the ``Rect`` surrogate (alone, and in the fused LIF, which
has no compiled kernel for it) and ``layer.Delay`` (also against ``torch.cat``).

Forward results are compared with ``torch.equal``, gradients within ``1e-6`` relative to
the largest reference gradient. Shapes, parameters and inputs are drawn from seeded
generators, so every case is reproducible from its id.
"""

from __future__ import annotations

import copy
import random

import pytest
import torch

from snndsl.runtime import functional, kernels, layer, neuron, surrogate
from snndsl.runtime.kernels import native_neuron, triton_neuron

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


def test_no_compiled_kernel_claims_rect():
    """Rect is not in ``SURROGATE_IDS``: the C and Triton kernels must decline it."""
    spec = neuron.LIFNode(surrogate_function=surrogate.Rect()).spec()
    x = torch.zeros(3, 4)
    assert not native_neuron.supports(spec, x)
    assert not triton_neuron.supports(spec, x)
    assert kernels.path_for(spec, x) == "aten"
    off = neuron.LIFNode(surrogate_function=surrogate.Rect(spiking=False)).spec()
    assert kernels.path_for(off, x) == "mirror"


@pytest.mark.parametrize(
    "kind, v_reset, detach_reset, spiking, dtype",
    [
        ("lif", 0.0, False, True, torch.float32),  # aten
        ("lif", None, True, True, torch.float32),
        ("plif", -0.1, False, True, torch.float32),
        ("if", 0.0, False, True, torch.float64),  # aten, float64
        ("lif", 0.0, False, False, torch.float32),  # mirror
        ("lif", None, False, True, torch.float16),  # mirror
    ],
)
@pytest.mark.parametrize("mode", ["s", "m"])
def test_fused_neurons_with_rect_match_spikingjelly(
    sj, kind, v_reset, detach_reset, spiking, dtype, mode
):
    """A user may pick Rect for IF/LIF/PLIF: the fused op falls back to a PyTorch path
    and still equals SpikingJelly (and the single-step neuron) exactly."""
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


# -- NonSpikingLIFNode -------------------------------------------------------------------
def _li_case(seed: int) -> tuple[float, torch.Tensor]:
    rng = random.Random(seed)
    tau = rng.choice([2.0, 1.5, 3.0, 10.0, 1.0 + rng.random() * 20])
    return tau, _input(_shape(seed), seed, scale=rng.choice([0.5, 2.0]))


def _sj_li(sj, tau: float, x: torch.Tensor, decode: str | None = None) -> torch.Tensor:
    out = sj.neuron.NonSpikingLIFNode(tau=tau, decode=decode)(x)
    return torch.stack(out) if decode is None else out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", ["s", "m"])
def test_li_matches_spikingjelly(sj, seed, mode):
    tau, x = _li_case(seed)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    node = neuron.NonSpikingLIFNode(tau=tau, step_mode=mode)
    y1 = node(x1) if mode == "m" else torch.stack([node(x1[t]) for t in range(x.shape[0])])
    y2 = _sj_li(sj, tau, x2)
    assert torch.equal(y1, y2)
    assert torch.equal(node.v, y2[-1])
    w = _weights(y1, seed)
    (g1,) = torch.autograd.grad((y1 * w).sum(), x1)
    (g2,) = torch.autograd.grad((y2 * w).sum(), x2)
    _assert_grads_close([g1], [g2])


@pytest.mark.parametrize("decode", ["max-mem", "max-abs-mem", "mean-mem", "last_mem"])
def test_li_decode_matches_spikingjelly(sj, decode):
    tau, x = _li_case(11)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1 = neuron.NonSpikingLIFNode(tau=tau, decode=decode)(x1)
    y2 = _sj_li(sj, tau, x2, decode)
    assert torch.equal(y1, y2)
    w = _weights(y1, 11)
    (g1,) = torch.autograd.grad((y1 * w).sum(), x1)
    (g2,) = torch.autograd.grad((y2 * w).sum(), x2)
    _assert_grads_close([g1], [g2])


def test_li_state_carries_until_reset_and_grads_reach_the_initial_v(sj):
    tau, x = 2.5, _input((8, 2, 3), 4)
    node = neuron.NonSpikingLIFNode(tau=tau)
    whole = node(x)
    node.reset()
    assert node.v == 0.0 and not node.state_dict()
    halves = torch.cat([node(x[:3]), node(x[3:])])  # 'm' calls continue the sequence
    assert torch.equal(halves, whole)
    node.step_mode = "s"
    node.reset()
    assert torch.equal(torch.stack([node(x[t]) for t in range(8)]), whole)
    # a v carried in from an earlier call gets its gradient (two stacked steps of SJ's)
    v0 = _input((2, 3), 5).requires_grad_()
    v0_ref = v0.detach().clone().requires_grad_()
    node.step_mode = "m"
    node.v = v0
    y = node(x)
    ref = sj.neuron.NonSpikingLIFNode(tau=tau)
    ref.v, steps = v0_ref, []
    for t in range(8):  # SJ's forward restarts v at 0; drive its charge step by hand
        ref.neuronal_charge(x[t])
        steps.append(ref.v)
    y_ref = torch.stack(steps)
    assert torch.equal(y, y_ref)
    w = _weights(y, 5)
    (g,) = torch.autograd.grad((y * w).sum(), v0)
    (g_ref,) = torch.autograd.grad((y_ref * w).sum(), v0_ref)
    _assert_grads_close([g], [g_ref])


def test_li_layouts_and_shape_change(sj):
    x = _input((5, 2, 3, 4, 4), 8).to(memory_format=torch.channels_last_3d)
    assert torch.equal(neuron.NonSpikingLIFNode()(x), _sj_li(sj, 2.0, x))
    e = _input((1, 2, 3), 9).expand(6, 2, 3)
    assert torch.equal(neuron.NonSpikingLIFNode(tau=4)(e), _sj_li(sj, 4.0, e))
    node = neuron.NonSpikingLIFNode()
    node(_input((3, 2, 5), 1))
    y = node(_input((3, 4, 5), 2))  # another batch size: restarts from 0
    assert torch.equal(y, _sj_li(sj, 2.0, _input((3, 4, 5), 2)))


def test_li_arguments():
    node = neuron.NonSpikingLIFNode()
    assert (node.tau, node.decode, node.step_mode) == (2.0, None, "m")
    assert list(dict(node.named_memories())) == ["v"]
    assert not isinstance(node, neuron.BaseNode)  # no spikes: not counted as a spiking node
    assert neuron.NonSpikingLIFNode(tau=3).tau == 3.0
    with pytest.raises(ValueError, match="tau must be > 1"):
        neuron.NonSpikingLIFNode(tau=1.0)
    with pytest.raises(TypeError, match="tau must be a real number"):
        neuron.NonSpikingLIFNode(tau="2")
    with pytest.raises(ValueError, match="decode must be None or one of"):
        neuron.NonSpikingLIFNode(decode="max")
    with pytest.raises(ValueError, match="step_mode can only be"):
        neuron.NonSpikingLIFNode(step_mode="x")
    with pytest.raises(ValueError, match="decodes a whole sequence"):
        neuron.NonSpikingLIFNode(decode="mean-mem", step_mode="s")(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expects a sequence x_seq of shape \[T, N, \*\]"):
        neuron.NonSpikingLIFNode()(torch.zeros(0, 3))


# -- CUBALIFNode -------------------------------------------------------------------------
def _cuba_case(seed: int) -> dict:
    rng = random.Random(100 + seed)
    return {
        "c_decay": rng.choice([0.5, 0.2, 0.9, rng.random()]),
        "v_decay": rng.choice([0.75, 0.5, 0.95, rng.random()]),
        "v_threshold": rng.choice([0.5, 1.0, 0.3]),
        "v_reset": [0.0, None, -0.2, None, 0.1, 0.0][seed % 6],
        "detach_reset": seed % 3 == 1,
        "sg": [("Rect", {}), ("Rect", {"alpha": 2.0}), ("Sigmoid", {"alpha": 3.0}), ("ATan", {})][
            seed % 4
        ],
        "store_v_seq": seed % 2 == 0,
    }


def _cuba_pair(sj, case: dict):
    name, params = case["sg"]
    args = {k: case[k] for k in ("c_decay", "v_decay", "v_threshold", "v_reset")}
    ours = neuron.CUBALIFNode(
        **args,
        surrogate_function=getattr(surrogate, name)(**params),
        detach_reset=case["detach_reset"],
        store_v_seq=case["store_v_seq"],
    )
    ref = sj.neuron.CUBALIFNode(**args, surrogate_function=getattr(sj.surrogate, name)(**params))
    ref.detach_reset, ref.store_v_seq = case["detach_reset"], case["store_v_seq"]
    return ours, ref


def _run_cuba(node, x: torch.Tensor, v0, c0, mode: str, seed: int):
    """Spikes, final ``v`` and ``c``, and the gradients of a loss over all three with
    respect to the input and the initial ``v`` and ``c``."""
    node.step_mode = mode
    x = x.detach().clone().requires_grad_()
    v, c = v0.detach().clone().requires_grad_(), c0.detach().clone().requires_grad_()
    node.v, node.c = v, c
    spikes = node(x) if mode == "m" else torch.stack([node(x[t]) for t in range(x.shape[0])])
    loss = (spikes * _weights(spikes, seed)).sum()
    loss = (
        loss
        + (node.v * _weights(node.v, seed + 1)).sum()
        + (node.c * _weights(node.c, seed + 2)).sum()
    )
    grads = torch.autograd.grad(loss, [x, v, c])
    return spikes.detach(), node.v.detach(), node.c.detach(), list(grads)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", ["s", "m"])
def test_cubalif_matches_spikingjelly(sj, seed, mode):
    case = _cuba_case(seed)
    ours, ref = _cuba_pair(sj, case)
    x = _input(_shape(seed), seed, scale=1.2)
    v0, c0 = _input(x.shape[1:], seed + 50, 0.3), _input(x.shape[1:], seed + 60, 0.3)
    s1, v1, c1, g1 = _run_cuba(ours, x, v0, c0, mode, seed)
    s2, v2, c2, g2 = _run_cuba(ref, x, v0, c0, mode, seed)
    assert 0 < s1.mean() < 1 or x.numel() < 20, "the case should both fire and not fire"
    assert torch.equal(s1, s2) and torch.equal(v1, v2) and torch.equal(c1, c2)
    _assert_grads_close(g1, g2)
    if case["store_v_seq"]:
        assert torch.equal(ours.v_seq, ref.v_seq)


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_cubalif_fresh_state_and_defaults_match_spikingjelly(sj, v_reset):
    ours = neuron.CUBALIFNode(v_reset=v_reset, step_mode="m")
    ref = sj.neuron.CUBALIFNode(v_reset=v_reset)
    ref.step_mode = "m"
    x = _input((9, 4, 6), 21, scale=0.8)
    for _ in range(2):  # the second call carries v and c on, as SpikingJelly's does
        assert torch.equal(ours(x), ref(x))
        assert torch.equal(ours.v, ref.v) and torch.equal(ours.c, ref.c)
    ours.step_mode = ref.step_mode = "s"
    y = _input((5, 6), 22)  # another batch size: v and c restart
    assert torch.equal(ours(y), ref(y))
    assert torch.equal(ours.v, ref.v) and torch.equal(ours.c, ref.c)
    ours.reset()
    assert ours.v == (0.0 if v_reset is None else v_reset) and ours.c == 0.0


def test_cubalif_arguments():
    node = neuron.CUBALIFNode()
    assert (node.c_decay, node.v_decay, node.v_threshold, node.v_reset) == (0.5, 0.75, 0.5, 0.0)
    assert type(node.surrogate_function) is surrogate.Rect and node.surrogate_function.alpha == 1.0
    assert node.surrogate_function is not neuron.CUBALIFNode().surrogate_function
    assert (node.detach_reset, node.step_mode, node.store_v_seq) == (False, "s", False)
    assert list(dict(node.named_memories())) == ["v", "c"]
    node.step_mode = "m"
    node(torch.ones(3, 2, 2))
    assert not node.state_dict() and isinstance(node, neuron.BaseNode)
    assert neuron.CUBALIFNode(c_decay=1, v_decay=0, v_threshold=2).v_threshold == 2.0
    for kw, exc in (
        ({"c_decay": "0.5"}, TypeError),
        ({"v_decay": True}, TypeError),
        ({"v_threshold": None}, TypeError),
        ({"v_reset": "0"}, TypeError),
        ({"detach_reset": 1}, TypeError),
        ({"step_mode": "t"}, ValueError),
    ):
        with pytest.raises(exc):
            neuron.CUBALIFNode(**kw)
    with pytest.raises(NotImplementedError, match="no fused kernel"):
        node.spec()
    assert "c_decay=0.5, v_decay=0.75" in repr(node)


def test_cubalif_memories_detach_copy_and_move():
    node = neuron.CUBALIFNode(step_mode="m")
    x = _input((4, 2, 3), 3).requires_grad_()
    node(x)
    assert node.v.grad_fn is not None and node.c.grad_fn is not None
    clone = copy.deepcopy(node)
    assert torch.equal(clone.c, node.c) and clone.c.grad_fn is None
    functional.detach_net(node)
    assert node.v.grad_fn is None and node.c.grad_fn is None
    node.double()
    assert node.v.dtype == node.c.dtype == torch.float64
    functional.reset_net(node)
    assert node.v == 0.0 and node.c == 0.0


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
    """On CUDA, LIF with Rect must not take the Triton path (which has no Rect) and the
    new classes must still equal SpikingJelly's (the same CUDA ops, bit for bit)."""
    x = _input((6, 4, 33), 9, scale=1.5).cuda()
    lif = neuron.LIFNode(surrogate_function=surrogate.Rect(), step_mode="m").cuda()
    assert kernels.path_for(lif.spec(), x) == "mirror"
    ref = sj.neuron.LIFNode(surrogate_function=sj.surrogate.Rect())
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    s1, s2 = lif(x1), torch.stack([ref(x2[t]) for t in range(6)])
    assert torch.equal(s1, s2) and torch.equal(lif.v, ref.v)
    w = _weights(s1, 9).cuda()
    grads = [torch.autograd.grad((s * w).sum(), x_)[0] for s, x_ in ((s1, x1), (s2, x2))]
    _assert_grads_close(grads[:1], grads[1:])
    assert torch.equal(neuron.NonSpikingLIFNode(tau=3.0)(x), _sj_li(sj, 3.0, x))
    ours, theirs = neuron.CUBALIFNode(step_mode="m"), sj.neuron.CUBALIFNode()
    theirs.step_mode = "m"
    assert torch.equal(ours(x), theirs(x)) and torch.equal(ours.c, theirs.c)
    assert torch.equal(layer.Delay(2, step_mode="m")(x), _delayed(x, 2))
