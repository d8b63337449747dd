"""Neurons generated from neuron programs (``snndsl.codegen.neuron_code``) against
SpikingJelly 2.0.0, and the fused BPTT against autograd through the single step.

The programs are assembled by hand here (:class:`Asm`), in SpikingJelly's operation
order: IF, LIF, PLIF, ``IzhikevichNode``, ``KLIFNode``, ``CUBALIFNode`` and
``NonSpikingLIFNode``. Each runs from random initial states in ``'s'`` (the generated
single step, autograd) and ``'m'`` (the generated fused Function) mode; spikes and
states must be SpikingJelly's bit for bit (``torch.equal``), the gradients of the input,
of the initial states and of the params within ``1e-6``.
"""

from __future__ import annotations

import itertools
import types

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snndsl.codegen.neuron_code import neuron_module_source
from snndsl.ir.neuron_grad import derive
from snndsl.ir.neuron_program import Code, Instr, NeuronProgram
from snndsl.ir.ops import SurrogateValue
from snndsl.runtime import surrogate

from .conftest import SURROGATE_PARAMS


# -- a small assembler: programs written as Python expressions -------------------------
class Asm:
    """Appends instructions; :class:`Val` operators append the operations."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.instrs: list[Instr] = []
        self.states: list[tuple[str, float]] = []
        self.params: list[tuple[str, float]] = []

    def emit(self, code: Code, *args: Val, value: float | str | None = None) -> Val:
        self.instrs.append(Instr(code, tuple(a.i for a in args), value))
        return Val(self, len(self.instrs) - 1)

    def val(self, v: Val | float) -> Val:
        return v if isinstance(v, Val) else self.emit(Code.CONST, value=float(v))

    def input(self, name: str = "x") -> Val:
        return self.emit(Code.INPUT, value=name)

    def state(self, name: str, reset: float) -> Val:
        self.states.append((name, float(reset)))
        return self.emit(Code.STATE, value=name)

    def param(self, name: str, init: float) -> Val:
        self.params.append((name, float(init)))
        return self.emit(Code.PARAM, value=name)

    def op(self, code: Code, *args: Val | float) -> Val:
        return self.emit(code, *(self.val(a) for a in args))

    def program(self, output: Val, updates: dict[str, Val], sg: str = "Sigmoid", **kw: float) -> NeuronProgram:
        ups = tuple((n, updates[n].i if n in updates else self._state_instr(n)) for n, _ in self.states)
        prog = NeuronProgram(self.name, tuple(self.instrs), tuple(self.states), tuple(self.params), ups,
                             output.i, SurrogateValue(sg, tuple(kw.items())))
        assert prog.problems() == []
        return prog

    def _state_instr(self, name: str) -> int:
        return next(i for i, ins in enumerate(self.instrs) if ins.code is Code.STATE and ins.value == name)


class Val:
    def __init__(self, asm: Asm, i: int) -> None:
        self.asm, self.i = asm, i

    def _b(self, code: Code, other: Val | float, rev: bool = False) -> Val:
        o = self.asm.val(other)
        return self.asm.emit(code, o, self) if rev else self.asm.emit(code, self, o)

    def __add__(self, o): return self._b(Code.ADD, o)  # noqa: E704
    def __radd__(self, o): return self._b(Code.ADD, o, True)  # noqa: E704
    def __sub__(self, o): return self._b(Code.SUB, o)  # noqa: E704
    def __rsub__(self, o): return self._b(Code.SUB, o, True)  # noqa: E704
    def __mul__(self, o): return self._b(Code.MUL, o)  # noqa: E704
    def __rmul__(self, o): return self._b(Code.MUL, o, True)  # noqa: E704
    def __truediv__(self, o): return self._b(Code.DIV, o)  # noqa: E704
    def __rtruediv__(self, o): return self._b(Code.DIV, o, True)  # noqa: E704
    def __pow__(self, o): return self._b(Code.POW, o)  # noqa: E704
    def __neg__(self): return self.asm.emit(Code.NEG, self)  # noqa: E704


def _reset(a: Asm, h: Val, s: Val, v_threshold, v_reset, detach_reset: bool) -> Val:
    """SpikingJelly's ``voltage_reset`` (``_ops.reset.voltage``), op for op."""
    r = a.op(Code.DETACH, s) if detach_reset else s
    return h - r * v_threshold if v_reset is None else r * v_reset + (1.0 - r) * h


def _charge_lif(a: Asm, v: Val, x: Val, vr: float, decay_input: bool, tau: float | None = None, k: Val | None = None) -> Val:
    if k is not None:
        return v + (x - (v - vr)) * k if decay_input else v - (v - vr) * k + x
    return v + (x - (v - vr)) / tau if decay_input else v - (v - vr) / tau + x


# -- the programs of SpikingJelly's neurons ----------------------------------------
def prog_lif(kind="lif", tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, init_tau=2.0, sg="Sigmoid", **sgkw):
    import math

    a = Asm(kind)
    vr = 0.0 if v_reset is None else v_reset
    v = a.state("v", vr)
    x = a.input()
    if kind == "if":
        h = v + x
    elif kind == "plif":
        k = a.op(Code.SIGMOID, a.param("w", -math.log(init_tau - 1.0)))
        h = _charge_lif(a, v, x, vr, decay_input, k=k)
    else:
        h = _charge_lif(a, v, x, vr, decay_input, tau=tau)
    s = a.op(Code.SPIKE, h - v_threshold)
    return a.program(s, {"v": _reset(a, h, s, v_threshold, v_reset, detach_reset)}, sg, **sgkw)


def prog_izhikevich(tau=2.0, v_c=0.8, a0=1.0, v_threshold=1.0, v_reset=0.0, v_rest=-0.1, w_rest=0.0, tau_w=2.0, a_=0.0, b=0.0, detach_reset=False, sg="Sigmoid", **sgkw):
    a = Asm("Izhikevich")
    v = a.state("v", 0.0 if v_reset is None else v_reset)
    w = a.state("w", w_rest)
    x = a.input()
    h = v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau
    s = a.op(Code.SPIKE, h - v_threshold)
    w_next = w + (a_ * (h - v_rest) - w) / tau_w + b * s
    return a.program(s, {"v": _reset(a, h, s, v_threshold, v_reset, detach_reset), "w": w_next}, sg, **sgkw)


def prog_klif(scale_reset=False, tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, sg="Sigmoid", **sgkw):
    a = Asm("KLIF")
    vr = 0.0 if v_reset is None else v_reset
    v = a.state("v", vr)
    x = a.input()
    k = a.param("k", 1.0)
    h = _charge_lif(a, v, x, vr, decay_input, tau=tau)
    h = a.op(Code.RELU, k * h)
    s = a.op(Code.SPIKE, h - v_threshold)
    if scale_reset:
        v_next = _reset(a, h / k, s, a.val(v_threshold) / k, v_reset, detach_reset)
    else:
        v_next = _reset(a, h, s, v_threshold, v_reset, detach_reset)
    return a.program(s, {"v": v_next}, sg, **sgkw)


def prog_cubalif(c_decay=0.5, v_decay=0.75, v_threshold=0.5, v_reset=0.0, detach_reset=False, sg="Rect", **sgkw):
    a = Asm("CUBALIF")
    v = a.state("v", 0.0 if v_reset is None else v_reset)
    c = a.state("c", 0.0)
    x = a.input()
    c_next = c * c_decay + x
    h = v * v_decay + c_next
    s = a.op(Code.SPIKE, h - v_threshold)
    return a.program(s, {"v": _reset(a, h, s, v_threshold, v_reset, detach_reset), "c": c_next}, sg, **sgkw)


def prog_nonspiking(tau=2.0):
    a = Asm("LI")
    v = a.state("v", 0.0)
    x = a.input()
    v_next = v + (x - v) / tau
    return a.program(v_next, {"v": v_next})


# -- loading and running --------------------------------------------------------------
def load(program: NeuronProgram, name: str = "Gen") -> type:
    """The generated class, executed as its own module (as ``compiler.load_class`` does)."""
    src = neuron_module_source(program, name)
    mod = types.ModuleType(f"snndsl_test_generated_{name}")
    exec(compile(src, f"<snndsl {name}>", "exec"), mod.__dict__)  # noqa: S102 - generated by codegen
    return getattr(mod, name)


def run(node, x_seq, init: dict[str, torch.Tensor], mode: str, states: list[str], seed: int = 0):
    """Outputs, final states and the gradients (input, initial states, params) of a loss
    on the outputs and the final states."""
    node.step_mode = mode
    x = x_seq.detach().clone().requires_grad_()
    leaves = [x]
    for n in states:
        if n in init:
            t = init[n].detach().clone().requires_grad_()
            setattr(node, n, t)
            leaves.append(t)
    out = torch.stack([node(x[t]) for t in range(x.shape[0])]) if mode == "s" else node(x)
    if isinstance(out, list):
        out = torch.stack(out)
    finals = [getattr(node, n) for n in states]
    gen = torch.Generator().manual_seed(seed)
    loss = (out * torch.randn(out.shape, generator=gen, dtype=out.dtype)).sum()
    for f in finals:
        loss = loss + (f * torch.randn(f.shape, generator=gen, dtype=f.dtype)).sum()
    leaves += list(node.parameters())
    if not loss.requires_grad:  # nothing differentiable reaches the results
        return out.detach(), [f.detach() for f in finals], [torch.zeros_like(leaf) for leaf in leaves]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]
    return out.detach(), [f.detach() for f in finals], grads


def assert_same(ours, ref, tol=1e-6):
    assert torch.equal(ours[0], ref[0]), f"outputs differ by {(ours[0] - ref[0]).abs().max()}"
    for i, (a, b) in enumerate(zip(ours[1], ref[1], strict=True)):
        assert torch.equal(a, b), f"state {i} differs by {(a - b).abs().max()}"
    assert len(ours[2]) == len(ref[2])
    for i, (a, b) in enumerate(zip(ours[2], ref[2], strict=True)):
        err = (a - b).abs().max().item()
        bound = tol * (1.0 + b.abs().max().item())
        assert err <= bound, f"gradient {i} differs by {err} (bound {bound})"


def _sg_pair(sj, name: str):
    kw = SURROGATE_PARAMS.get(name, {"alpha": 1.3})
    return getattr(surrogate, name)(**kw), getattr(sj.surrogate, name)(**kw)


def _data(seed: int, shape, dtype, states: dict[str, float], scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=gen, dtype=dtype) * 0.8 + 0.45) * scale
    init = {n: torch.randn(shape[1:], generator=gen, dtype=dtype) * s for n, s in states.items()}
    return x, init


SHAPES = [(6, 3, 5), (4, 7), (3, 2, 2, 3)]
DTYPES = [torch.float32, torch.float64]
SGS = ["Sigmoid", "ATan", "PiecewiseQuadratic", "Erf", "PiecewiseLeakyReLU"]


def _compare(ours, ref, states, x, init, dtype):
    ours.to(dtype)
    ref.to(dtype)
    for mode in "sm":
        for m in (ours, ref):
            m.reset()
        r_ref = run(ref, x, init, mode, states)
        for mode_ours in {mode, "s" if mode == "m" else "m"}:
            ours.reset()
            assert_same(run(ours, x, init, mode_ours, states), r_ref)


# -- IF, LIF, PLIF ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,decay_input,v_reset,detach_reset",
    [(k, d, r, det) for (k, d), r, det in itertools.product(
        [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)], [0.0, None, -0.25], [False, True])],
)
def test_if_lif_plif_match_spikingjelly(sj, kind, decay_input, v_reset, detach_reset):
    for n, (shape, dtype, sgn) in enumerate([(SHAPES[0], torch.float32, "ATan"), (SHAPES[1], torch.float64, "Sigmoid")]):
        ours_sg, ref_sg = _sg_pair(sj, sgn)
        common = dict(v_reset=v_reset, detach_reset=detach_reset)
        if kind == "if":
            ref = sj.neuron.IFNode(surrogate_function=ref_sg, **common)
        elif kind == "lif":
            ref = sj.neuron.LIFNode(tau=2.5, decay_input=decay_input, surrogate_function=ref_sg, **common)
        else:
            ref = sj.neuron.ParametricLIFNode(init_tau=2.5, decay_input=decay_input, surrogate_function=ref_sg, **common)
        cls = load(prog_lif(kind, tau=2.5, init_tau=2.5, decay_input=decay_input, v_reset=v_reset, detach_reset=detach_reset))
        ours = cls(surrogate_function=ours_sg)
        x, init = _data(n, shape, dtype, {"v": 0.5})
        _compare(ours, ref, ["v"], x, init, dtype)


@pytest.mark.parametrize("sgn", SGS)
def test_lif_surrogates(sj, sgn):
    ours_sg, ref_sg = _sg_pair(sj, sgn)
    ref = sj.neuron.LIFNode(tau=3.0, surrogate_function=ref_sg)
    ours = load(prog_lif("lif", tau=3.0))(surrogate_function=ours_sg)
    x, init = _data(3, SHAPES[2], torch.float32, {"v": 0.5})
    _compare(ours, ref, ["v"], x, init, torch.float32)


# -- Izhikevich --------------------------------------------------------------------------
@pytest.mark.parametrize("v_reset,detach_reset", [(0.0, False), (None, False), (-0.1, True)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_izhikevich_matches_spikingjelly(sj, v_reset, detach_reset, dtype):
    kw = dict(tau=2.5, v_c=0.7, a0=0.9, v_threshold=1.0, v_reset=v_reset, v_rest=-0.1, w_rest=0.0, tau_w=3.0)
    for n, (shape, sgn) in enumerate(zip(SHAPES, ["Sigmoid", "ATan", "SoftSign"])):
        ours_sg, ref_sg = _sg_pair(sj, sgn)
        ref = sj.neuron.IzhikevichNode(a=0.3, b=0.2, surrogate_function=ref_sg, detach_reset=detach_reset, **kw)
        ours = load(prog_izhikevich(a_=0.3, b=0.2, detach_reset=detach_reset, **kw))(surrogate_function=ours_sg)
        x, init = _data(10 + n, shape, dtype, {"v": 0.5, "w": 0.3})
        _compare(ours, ref, ["v", "w"], x, init, dtype)


# -- KLIF ----------------------------------------------------------------------------------
@pytest.mark.parametrize("scale_reset,decay_input,v_reset,detach_reset", [
    (False, True, 0.0, False), (True, True, 0.0, False), (True, False, None, False),
    (False, True, None, True), (True, True, -0.2, True),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_klif_matches_spikingjelly(sj, scale_reset, decay_input, v_reset, detach_reset, dtype):
    for n, (shape, sgn, k) in enumerate([(SHAPES[0], "Sigmoid", 1.0), (SHAPES[1], "ATan", 0.7)]):
        ours_sg, ref_sg = _sg_pair(sj, sgn)
        ref = sj.neuron.KLIFNode(scale_reset=scale_reset, tau=2.0, decay_input=decay_input, v_reset=v_reset,
                                 surrogate_function=ref_sg, detach_reset=detach_reset)
        ours = load(prog_klif(scale_reset, 2.0, decay_input, 1.0, v_reset, detach_reset))(surrogate_function=ours_sg)
        with torch.no_grad():
            ref.k.fill_(k)
            ours.k.fill_(k)
        assert list(ours.state_dict()) == list(ref.state_dict()) == ["k"]
        x, init = _data(20 + n, shape, dtype, {"v": 0.5})
        _compare(ours, ref, ["v"], x, init, dtype)


# -- CUBALIF ---------------------------------------------------------------------------------
@pytest.mark.parametrize("v_reset,detach_reset", [(0.0, False), (None, False), (0.1, True)])
@pytest.mark.parametrize("sgn", ["Rect", "Sigmoid"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cubalif_matches_spikingjelly(sj, v_reset, detach_reset, sgn, dtype):
    ours_sg, ref_sg = _sg_pair(sj, sgn)
    ref = sj.neuron.CUBALIFNode(c_decay=0.6, v_decay=0.7, v_threshold=0.5, v_reset=v_reset, surrogate_function=ref_sg)
    ref.detach_reset = detach_reset
    ours = load(prog_cubalif(0.6, 0.7, 0.5, v_reset, detach_reset))(surrogate_function=ours_sg)
    x, init = _data(30, SHAPES[0], dtype, {"v": 0.4, "c": 0.3})
    _compare(ours, ref, ["v", "c"], x, init, dtype)


# -- NonSpikingLIF ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_nonspiking_lif_matches_spikingjelly(sj, dtype, shape):
    """SpikingJelly's restarts at ``v = 0`` every call and is multi-step only."""
    ref = sj.neuron.NonSpikingLIFNode(tau=2.5).to(dtype)
    cls = load(prog_nonspiking(2.5))
    x, _ = _data(40, shape, dtype, {})
    want = run(ref, x, {}, "m", [])
    for mode in "sm":
        node = cls().to(dtype)
        assert not cls.HAS_SPIKE
        got = run(node, x, {}, mode, [])
        assert_same(got, want)


# -- the generated code itself ------------------------------------------------------------
def test_generated_source_is_deterministic_and_compiles():
    p = prog_izhikevich(a_=0.3, b=0.2)
    assert neuron_module_source(p, "Izh") == neuron_module_source(p, "Izh")
    compile(neuron_module_source(p, "Izh"), "<izh>", "exec")
    assert "torch.autograd.Function" in neuron_module_source(p, "Izh")


def test_saved_values_are_few():
    """LIF (hard reset) saves only ``H`` per step; ``H - v_th`` and ``1 - S`` are recomputed."""
    g = derive(prog_lif("lif"))
    assert len(g.saved) == 1
    assert g.program.instrs[g.saved[0]].code is Code.ADD  # H = V + (X - (V - vr)) / tau
    g = derive(prog_nonspiking())
    assert g.saved == ()  # linear: nothing to save


def test_bad_names_are_refused():
    a = Asm("bad")
    v = a.state("forward", 0.0)
    x = a.input()
    p = a.program(v + x, {"forward": v + x})
    with pytest.raises(ValueError, match="cannot be a state or param name"):
        neuron_module_source(p, "Bad")
    with pytest.raises(ValueError, match="cannot be a class name"):
        neuron_module_source(prog_nonspiking(), "not valid")


def test_reset_and_state_dict():
    cls = load(prog_lif("plif", init_tau=3.0))
    node = cls(step_mode="m", store_v_seq=True)
    assert list(node.state_dict()) == ["w"]
    x = torch.randn(4, 2, 3)
    node(x)
    assert node.v_seq.shape == (4, 2, 3)
    assert torch.equal(node.v_seq[-1], node.v)
    node.reset()
    assert node.v == 0.0 and node.v_seq is None
    assert isinstance(node.default_surrogate(), surrogate.Sigmoid)


def test_store_v_seq_gradient_matches_the_step_loop():
    cls = load(prog_izhikevich(a_=0.3, b=0.2))
    x = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    grads = []
    for mode in "sm":
        node = cls(step_mode=mode, store_v_seq=True).to(torch.float64)
        out = torch.stack([node(xt) for xt in x]) if mode == "s" else node(x)
        loss = (out * 0.3).sum() + (node.v_seq ** 2).sum()
        grads.append(torch.autograd.grad(loss, x)[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-9)


def test_non_spiking_surrogate_runs_the_step_loop():
    cls = load(prog_lif("lif"))
    x = torch.randn(4, 3, dtype=torch.float64)
    a = cls(surrogate_function=surrogate.ATan(spiking=False), step_mode="m").to(torch.float64)
    b = cls(surrogate_function=surrogate.ATan(spiking=False), step_mode="s").to(torch.float64)
    assert torch.equal(a(x), torch.stack([b(xt) for xt in x]))


# -- property: the fused backward is autograd through the single step -------------------------
_UNARY = [Code.NEG, Code.EXP, Code.LOG, Code.SQRT, Code.ABS, Code.TANH, Code.SIGMOID, Code.RELU, Code.SPIKE, Code.DETACH]
_BINARY = [Code.ADD, Code.SUB, Code.MUL, Code.DIV, Code.POW, Code.MIN, Code.MAX]


@st.composite
def programs(draw):
    """Small random programs over ``x``, states ``v``/``u`` and a param ``p``, kept finite:
    ``log``/``sqrt`` of ``|e| + 0.5``, ``exp`` of ``tanh(e)``, ``/ (|e| + 1)``, ``e ** 2``/``3``."""
    a = Asm("random")
    vals = [a.state("v", draw(st.sampled_from([0.0, 0.5]))), a.state("u", 0.0), a.input(), a.param("p", draw(st.floats(-1, 1)))]
    for _ in range(draw(st.integers(2, 9))):
        pick = lambda: vals[draw(st.integers(0, len(vals) - 1))]  # noqa: E731
        kind = draw(st.sampled_from(["u", "b", "c", "clamp"]))
        e = pick()
        if kind == "u":
            code = draw(st.sampled_from(_UNARY))
            if code in (Code.LOG, Code.SQRT):
                e = a.op(Code.ABS, e) + 0.5
            elif code is Code.EXP:
                e = a.op(Code.TANH, e)
            elif code is Code.SPIKE:
                e = e - draw(st.sampled_from([0.0, 0.3]))
            vals.append(a.op(code, e))
        elif kind == "clamp":
            vals.append(a.op(Code.CLAMP, e, -0.5, 0.75))
        else:
            code = draw(st.sampled_from(_BINARY))
            f = pick() if kind == "b" else a.val(draw(st.sampled_from([0.0, 0.5, 2.0, -1.5])))
            if draw(st.booleans()):
                e, f = f, e
            if code is Code.DIV:
                f = a.op(Code.ABS, f) + 1.0
            elif code is Code.POW:
                e, f = a.op(Code.TANH, e), a.val(draw(st.sampled_from([2.0, 3.0])))
            vals.append(a.op(code, e, f))
    out = vals[draw(st.integers(2, len(vals) - 1))]
    if draw(st.booleans()):
        out = a.op(Code.SPIKE, out - 0.2)
    bounded = lambda v: a.op(Code.TANH, v) if draw(st.booleans()) else v  # noqa: E731
    upd = {"v": bounded(vals[draw(st.integers(0, len(vals) - 1))]), "u": bounded(vals[draw(st.integers(0, len(vals) - 1))])}
    return a.program(out, upd, draw(st.sampled_from(["Sigmoid", "ATan", "Rect", "SuperSpike"])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 10_000), st.sampled_from([(3, 4), (2, 2, 3)]))
def test_fused_backward_is_autograd_through_the_step(program, seed, shape):
    cls = load(program, "Rand")
    x, init = _data(seed, (4, *shape), torch.float64, {"v": 0.7, "u": 0.7})
    results = []
    for mode in "sm":
        node = cls().to(torch.float64)
        with torch.no_grad():
            node.p.fill_(0.37)
        results.append(run(node, x, init, mode, ["v", "u"], seed))
    assert_same(results[1], results[0], tol=1e-9)
