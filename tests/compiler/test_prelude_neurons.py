"""The prelude's neurons compiled from `.snn` text, against SpikingJelly 2.0.0's namesakes:
``LI`` (``NonSpikingLIFNode``), ``CubaLIF`` (``CUBALIFNode``), ``KLIF`` (``KLIFNode``) and
``Izhikevich`` (``IzhikevichNode``); ``ALIF`` against a plain torch loop of the equations
documented in ``grammars/prelude.snn``.

Each case comes from a seeded generator: the call (parameters, reset mode, surrogate), a
shape ``[T, N, *]`` with one to three feature dims, the input, random initial states (set
on both sides before the call) and random learnable params (KLIF's ``k``). In ``'m'`` mode
(the generated fused Function with its derived backward) and ``'s'`` mode (the generated
step under autograd): the outputs are ``torch.equal`` (spikes, and ``LI``'s potentials,
which are also within 1e-6), the final states are ``torch.equal``, and the gradients of a
loss over the outputs and the final states with respect to the input, the initial states
and the params are within 1e-6 of the reference's (relative to its largest gradient).
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnError
from snndsl.ir import ops
from snndsl.runtime import functional, program
from snndsl.runtime import surrogate as our_sg

sj = pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import neuron as sj_neuron  # noqa: E402
from spikingjelly.activation_based import surrogate as sj_sg  # noqa: E402

SEEDS = range(8)
MODES = ["m", "s"]


def compiled(call: str) -> program.ProgramNode:
    """The generated module of ``call`` (``sn`` in a one-layer model), as the compiler makes it."""
    net = snndsl.compile_source(f"model P() {{\n    input x: [1]\n    return x -> sn: {call}\n}}\n", "p.snn")
    node = net.sn
    assert isinstance(node, program.ProgramNode)
    return node


def _shape(rng: random.Random) -> tuple[int, ...]:
    return (rng.randint(1, 9), rng.randint(1, 4), *(rng.randint(1, 5) for _ in range(rng.randint(1, 3))))


def _randn(shape: tuple[int, ...], seed: int, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale + shift


def _snn(v: object) -> str:
    return "none" if v is None else "true" if v is True else "false" if v is False else repr(v)


@dataclass
class Case:
    """One comparison: the ``.snn`` call, its reference and how to drive them."""

    call: str
    ref: Callable[[], Any]
    states: tuple[str, ...]
    x: torch.Tensor
    init: dict[str, torch.Tensor]
    params: dict[str, float] = field(default_factory=dict)
    #: the reference's step (SpikingJelly's NonSpikingLIFNode restarts at v = 0 in its forward)
    by_hand: Callable[[Any, torch.Tensor], torch.Tensor] | None = None
    spiking: bool = True


def _surrogate(rng: random.Random) -> tuple[str, Any]:
    name, alpha = rng.choice([("Sigmoid", 4.0), ("Sigmoid", 2.5), ("ATan", 2.0), ("Rect", 1.0), ("Rect", 2.0)])
    return f"{name}(alpha={alpha!r})", lambda: getattr(sj_sg, name)(alpha=alpha)


def _states(shape: tuple[int, ...], seed: int, names: tuple[str, ...], scale: float) -> dict[str, torch.Tensor]:
    return {n: _randn(shape[1:], seed + 17 * i, scale) for i, n in enumerate(names)}


def li_case(seed: int) -> Case:
    rng = random.Random(seed)
    tau = rng.choice([2.0, 1.5, 3.0, 10.0, 1.0 + rng.random() * 20])
    shape = _shape(rng)

    def charge(ref: Any, x: torch.Tensor) -> torch.Tensor:
        ref.neuronal_charge(x)
        return ref.v

    return Case(f"LI(tau={tau!r})", lambda: sj_neuron.NonSpikingLIFNode(tau=tau), ("v",),
                _randn(shape, seed, rng.choice([0.5, 2.0])), _states(shape, seed + 1, ("v",), 0.5),
                by_hand=charge, spiking=False)


def cubalif_case(seed: int) -> Case:
    rng = random.Random(100 + seed)
    kw = {"c_decay": rng.choice([0.5, 0.2, 0.9, rng.random()]), "v_decay": rng.choice([0.75, 0.5, 0.95, rng.random()]),
          "v_threshold": rng.choice([0.5, 1.0, 0.3]), "v_reset": [0.0, None, -0.2, None, 0.1, 0.0][seed % 6]}
    detach = seed % 3 == 1
    sg_text, sg = _surrogate(rng)
    shape = _shape(rng)

    def ref() -> Any:
        node = sj_neuron.CUBALIFNode(**kw, surrogate_function=sg())
        node.detach_reset = detach
        return node

    call = ", ".join(f"{k}={_snn(v)}" for k, v in kw.items())
    return Case(f"CubaLIF({call}, surrogate={sg_text}, detach_reset={_snn(detach)})", ref, ("v", "c"),
                _randn(shape, seed, 1.2), _states(shape, seed + 1, ("v", "c"), 0.3))


def klif_case(seed: int) -> Case:
    rng = random.Random(200 + seed)
    kw = {"scale_reset": rng.random() < 0.5, "tau": rng.choice([2.0, 3.0, 1.5 + rng.random() * 8]),
          "decay_input": rng.random() < 0.5, "v_threshold": rng.choice([1.0, 0.5]),
          "v_reset": rng.choice([0.0, None, -0.2]), "detach_reset": rng.random() < 0.5}
    sg_text, sg = _surrogate(rng)
    shape = _shape(rng)
    call = ", ".join(f"{k}={_snn(v)}" for k, v in kw.items())
    return Case(f"KLIF({call}, surrogate={sg_text})",
                lambda: sj_neuron.KLIFNode(**kw, surrogate_function=sg()), ("v",),
                _randn(shape, seed, 1.5, 0.5), _states(shape, seed + 1, ("v",), 0.5),
                params={"k": rng.choice([1.0, 0.5 + rng.random()])})


def izhikevich_case(seed: int) -> Case:
    rng = random.Random(300 + seed)
    kw = {"tau": rng.choice([2.0, 3.0]), "v_threshold": rng.choice([1.0, 0.8]), "v_reset": rng.choice([0.0, None]),
          "a": rng.choice([0.0, 0.3]), "b": rng.choice([0.0, 0.1]), "tau_w": rng.choice([2.0, 5.0]),
          "detach_reset": rng.random() < 0.5}
    sg_text, sg = _surrogate(rng)
    shape = _shape(rng)
    call = ", ".join(f"{k}={_snn(v)}" for k, v in kw.items())
    return Case(f"Izhikevich({call}, surrogate={sg_text})",
                lambda: sj_neuron.IzhikevichNode(**kw, surrogate_function=sg()), ("v", "w"),
                _randn(shape, seed, 2.0, 1.0), _states(shape, seed + 1, ("v", "w"), 0.2))


CASES = {"LI": li_case, "CubaLIF": cubalif_case, "KLIF": klif_case, "Izhikevich": izhikevich_case}


# -- running either side -------------------------------------------------------------------
def _run(node: Any, case: Case, mode: str, seed: int, ours: bool) -> tuple[torch.Tensor, list, list]:
    """The outputs, the final states and the gradients of a loss over both with respect to
    the input, the initial states and the params."""
    x = case.x.clone().requires_grad_()
    init = {n: v.clone().requires_grad_() for n, v in case.init.items()}
    params = []
    for name, value in case.params.items():
        p = getattr(node, name)
        with torch.no_grad():
            p.fill_(value)
        params.append(p)
    for name, value in init.items():
        setattr(node, name, value)
    if case.by_hand is not None and not ours:
        out = torch.stack([case.by_hand(node, x[t]) for t in range(x.shape[0])])
    else:
        node.step_mode = mode
        out = node(x) if mode == "m" else torch.stack([node(x[t]) for t in range(x.shape[0])])
    finals = [getattr(node, n) for n in case.states]
    loss = (out * _randn(out.shape, seed + 1000)).sum()
    for i, v in enumerate(finals):
        loss = loss + (v * _randn(v.shape, seed + 1001 + i)).sum()
    grads = torch.autograd.grad(loss, [x, *init.values(), *params])
    return out.detach(), [v.detach() for v in finals], list(grads)


def _assert_grads_close(ours: list[torch.Tensor], ref: list[torch.Tensor]) -> None:
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        bound = 1e-6 * max(1.0, b.abs().max().item())
        err = (a - b).abs().max().item()
        assert err <= bound, f"gradient {i} differs by {err} (bound {bound})"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_prelude_neuron_equals_spikingjelly(name: str, mode: str, seed: int) -> None:
    case = CASES[name](seed)
    y1, v1, g1 = _run(compiled(case.call), case, mode, seed, ours=True)
    y2, v2, g2 = _run(case.ref(), case, mode, seed, ours=False)
    if case.spiking and y1.numel() >= 24:
        assert 0 < y1.mean() < 1, "the case should both fire and not fire"
    assert torch.equal(y1, y2)
    if not case.spiking:
        assert (y1 - y2).abs().max() <= 1e-6 * max(1.0, y2.abs().max().item())
    for a, b in zip(v1, v2, strict=True):
        assert torch.equal(a, b)
    _assert_grads_close(g1, g2)


@pytest.mark.parametrize(("call", "ref"), [
    ("LI()", lambda: sj_neuron.NonSpikingLIFNode()),
    ("CubaLIF()", lambda: sj_neuron.CUBALIFNode()),
    ("CubaLIF(v_reset=none)", lambda: sj_neuron.CUBALIFNode(v_reset=None)),
    ("KLIF()", lambda: sj_neuron.KLIFNode()),
    ("Izhikevich()", lambda: sj_neuron.IzhikevichNode()),
])
def test_defaults_and_fresh_states_equal_spikingjelly(call: str, ref: Callable[[], Any]) -> None:
    """With no arguments and no state set: SpikingJelly's defaults, default surrogate, reset
    values and ``state_dict`` keys; a second ``'m'`` call carries the states on as its does."""
    ours, theirs = compiled(call), ref()
    assert set(ours.state_dict()) == set(theirs.state_dict())
    x = _randn((9, 4, 6), 21, 1.0, 0.4)
    if isinstance(theirs, sj_neuron.NonSpikingLIFNode):  # multi-step only, a list, restarts at 0
        assert list(dict(ours.named_memories())) == ["v"] and theirs.tau == 2.0
        assert torch.equal(ours(x), torch.stack(theirs(x)))
        return
    assert list(dict(ours.named_memories())) == list(theirs._memories)
    assert type(ours.surrogate_function).__name__ == type(theirs.surrogate_function).__name__
    theirs.step_mode = "m"
    for _ in range(2):
        y = ours(x)
        assert torch.equal(y, theirs(x)) and y.sum() > 0
        for name in theirs._memories:
            assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


# -- ALIF against its documented equations ------------------------------------------------
def alif_reference(x: torch.Tensor, v: torch.Tensor, a: torch.Tensor, kw: dict, sg: Any) -> tuple:
    """The equations of ``grammars/prelude.snn`` (Bellec et al. 2018), a plain torch loop."""
    alpha, rho = math.exp(-1.0 / kw["tau"]), math.exp(-1.0 / kw["tau_a"])
    out = []
    for xt in x:
        th = kw["v_threshold"] + kw["beta"] * a
        h = alpha * v + (1.0 - alpha) * xt
        s = sg(h - th)
        r = s.detach() if kw["detach_reset"] else s
        v = h - r * th if kw["v_reset"] is None else r * kw["v_reset"] + (1.0 - r) * h
        a = rho * a + (1.0 - rho) * s
        out.append(s)
    return torch.stack(out), v, a


def alif_case(seed: int) -> tuple[dict, str, Any, torch.Tensor]:
    rng = random.Random(400 + seed)
    kw = {"tau": rng.choice([20.0, 2.0 + rng.random() * 30]), "tau_a": rng.choice([200.0, 5.0 + rng.random() * 300]),
          "beta": rng.choice([1.6, 0.05 + rng.random() * 2]), "v_threshold": rng.choice([0.01, 0.5, 1.0]),
          "v_reset": rng.choice([None, 0.0, -0.1]), "detach_reset": rng.random() < 0.5}
    sg_text, sg = _surrogate(rng)
    # H moves by (1 - alpha) X per step: inputs of about v_threshold / (1 - alpha) fire
    gain = kw["v_threshold"] / (1.0 - math.exp(-1.0 / kw["tau"]))
    x = _randn(_shape(rng), seed, 2.0 * gain, gain)
    return kw, sg_text, sg, x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("mode", MODES)
def test_alif_follows_its_documented_equations(mode: str, seed: int) -> None:
    kw, sg_text, sg, x = alif_case(seed)
    node = compiled(f"ALIF({', '.join(f'{k}={_snn(v)}' for k, v in kw.items())}, surrogate={sg_text})")
    init = _states(x.shape, seed + 1, ("v", "a"), 0.3 * kw["v_threshold"])
    init["a"] = init["a"].abs()

    def ours(xs: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> tuple:
        node.v, node.a = v, a
        node.step_mode = mode
        out = node(xs) if mode == "m" else torch.stack([node(xs[t]) for t in range(xs.shape[0])])
        return out, node.v, node.a

    results = []
    for fn in (ours, lambda xs, v, a: alif_reference(xs, v, a, kw, sg())):
        leaves = [x.clone().requires_grad_(), init["v"].clone().requires_grad_(), init["a"].clone().requires_grad_()]
        out, v, a = fn(*leaves)
        loss = sum((t * _randn(t.shape, seed + 1000 + i)).sum() for i, t in enumerate((out, v, a)))
        results.append((out.detach(), v.detach(), a.detach(), list(torch.autograd.grad(loss, leaves))))
    (y1, v1, a1, g1), (y2, v2, a2, g2) = results
    if y1.numel() >= 24:
        assert 0 < y1.mean() < 1, "the case should both fire and not fire"
    assert torch.equal(y1, y2) and torch.equal(v1, v2) and torch.equal(a1, a2)
    _assert_grads_close(g1, g2)


def test_alif_defaults_are_the_lsnn_reference_implementations() -> None:
    """tau = 20, tau_a = 200 steps, beta = 1.6, threshold 0.01, soft reset (LSNN-official's
    ``ALIF``), and the paper's adaptation a[t] = rho a[t-1] + (1 - rho) S[t]."""
    from snndsl.frontend.prelude import prelude_signature

    defaults = {p.name: p.default for p in prelude_signature("ALIF") or ()}
    assert defaults == {"tau": 20.0, "tau_a": 200.0, "beta": 1.6, "v_threshold": 0.01, "v_reset": None,
                        "detach_reset": False, "surrogate": ops.SurrogateValue("Sigmoid")}
    node = compiled("ALIF()")
    out = node(torch.ones(1, 1, 1))  # H = (1 - exp(-1/20)) = 0.0488 >= 0.01: a spike
    rho = math.exp(-1.0 / 200.0)
    assert out.item() == 1.0 and node.a.item() == pytest.approx(1.0 - rho, rel=1e-6)
    assert node.v.item() == pytest.approx((1.0 - math.exp(-1.0 / 20.0)) - 0.01, rel=1e-6)


# -- module behaviour (what the hand-written NonSpikingLIFNode / CUBALIFNode tests covered) --
def test_li_state_carries_until_reset_and_restarts_on_a_new_shape() -> None:
    node = compiled("LI(tau=2.5)")
    x = _randn((8, 2, 3), 4)
    whole = node(x)
    node.reset()
    assert node.v == 0.0 and not node.state_dict() and not compiled("LI()").HAS_SPIKE
    halves = torch.cat([node(x[:3]), node(x[3:])])  # 'm' calls continue the sequence
    assert torch.equal(halves, whole)
    node.step_mode = "s"
    node.reset()
    assert torch.equal(torch.stack([node(x[t]) for t in range(8)]), whole)
    node.step_mode = "m"
    node(_randn((3, 2, 5), 1))
    y = node(_randn((3, 4, 5), 2))  # another batch size: restarts from 0
    assert torch.equal(y, torch.stack(sj_neuron.NonSpikingLIFNode(tau=2.5)(_randn((3, 4, 5), 2))))


def test_li_takes_any_layout() -> None:
    x = _randn((5, 2, 3, 4, 4), 8).to(memory_format=torch.channels_last_3d)
    assert torch.equal(compiled("LI()")(x), torch.stack(sj_neuron.NonSpikingLIFNode()(x)))
    e = _randn((1, 2, 3), 9).expand(6, 2, 3)
    assert torch.equal(compiled("LI(tau=4)")(e), torch.stack(sj_neuron.NonSpikingLIFNode(tau=4.0)(e)))


def test_cubalif_v_seq_surrogate_and_memories() -> None:
    node = compiled("CubaLIF()")
    assert type(node.surrogate_function) is our_sg.Rect and node.surrogate_function.alpha == 1.0
    assert node.surrogate_function is not compiled("CubaLIF()").surrogate_function
    ref = sj_neuron.CUBALIFNode()
    ref.step_mode, ref.store_v_seq, node.store_v_seq = "m", True, True
    x = _randn((4, 2, 3), 3, 1.0, 0.3).requires_grad_()
    assert torch.equal(node(x), ref(x)) and torch.equal(node.v_seq, ref.v_seq)
    assert node.v.grad_fn is not None and node.c.grad_fn is not None
    clone = copy.deepcopy(node)
    assert torch.equal(clone.c, node.c) and clone.c.grad_fn is None
    functional.detach_net(node)
    assert node.v.grad_fn is None and node.c.grad_fn is None
    node.double()
    assert node.v.dtype == node.c.dtype == torch.float64
    functional.reset_net(node)
    assert node.v == 0.0 and node.c == 0.0


@pytest.mark.parametrize(("call", "message"), [
    ('CubaLIF(c_decay="0.5")', "c_decay"),
    ("CubaLIF(v_decay=true)", "v_decay"),
    ("CubaLIF(v_threshold=none)", "v_threshold"),
    ("CubaLIF(detach_reset=1)", "detach_reset"),
    ("CubaLIF(surrogate=0.5)", "surrogate"),
    ("LI(decode=\"max-mem\")", "decode"),
    ("LI(2.0, Sigmoid(), 3.0)", "positional"),
])
def test_wrong_arguments_are_located_errors(call: str, message: str) -> None:
    with pytest.raises(SnnError, match=message) as info:
        compiled(call)
    assert info.value.span is not None and info.value.span.filename == "p.snn"
