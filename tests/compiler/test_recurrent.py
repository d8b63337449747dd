"""Feedback and time: ``prev`` and ``Delay`` against SpikingJelly 2.0.0's recurrent
containers (stepped one step at a time) and a hand-written delay.

Each network is compiled from `.snn` text; its ``state_dict`` loads into the
SpikingJelly twin with ``strict=True``; outputs are equal and input and parameter
gradients agree within 1e-5 relative, in train and eval mode, in ``'m'`` mode and
stepped in ``'s'`` mode, on repeated calls.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import snndsl
from snndsl.diagnostics import SnnError

sj = pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402

LRC = """
model LRC(n_in: int = 6, n_out: int = 5) {
    input x: [6]
    y = cat(x, prev(y), dim=0) -> rc: Linear(n_in + n_out, n_in)
          -> sub_module: (Linear(n_in, n_out) -> LIF())
    return y
}
"""

LRC_BN = """
model LRCNorm() {
    input x: [6]
    y = cat(x, prev(y), dim=0) -> rc: Linear(11, 6)
          -> sub_module: (Linear(6, 5) -> BatchNorm1d(5) -> LIF(tau=3.0, v_reset=none))
    return y
}
"""

ELEMENTWISE = """
model EW() {
    input x: [8]
    y = add(x -> fc: Linear(8, 8), prev(y)) -> sub_module: IF()
    return y -> out: Linear(8, 3)
}
"""

RECURRENT_LIF = """
block RecurrentLIF(n_in: int, n: int) {
    input x
    s = add(x -> fc: Linear(n_in, n), prev(s) -> rec: Linear(n, n, bias=false)) -> sn: LIF()
    return s
}
model Net() {
    input x: [7]
    return x -> r: RecurrentLIF(7, 9) -> out: Linear(9, 4)
}
"""


def compile_net(text: str, seed: int = 0, **options) -> nn.Module:
    torch.manual_seed(seed)
    net = snndsl.compile_source(text, "recurrent.snn", **options)
    with torch.no_grad():  # large enough weights that the neurons fire
        for p in net.parameters():
            p.uniform_(-1.0, 1.0)
    return net


def lrc_twin(bn: bool = False) -> nn.Module:
    if bn:
        sub = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), neuron.LIFNode(tau=3.0, v_reset=None))
        return layer.LinearRecurrentContainer(sub, 6, 5, step_mode="m")
    return layer.LinearRecurrentContainer(nn.Sequential(nn.Linear(6, 5), neuron.LIFNode()), 6, 5, step_mode="m")


class EWTwin(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = layer.Linear(8, 8, step_mode="m")
        self.sub_module = neuron.IFNode()
        self.rec = layer.ElementWiseRecurrentContainer(self.sub_module, lambda y, x: x + y, step_mode="m")
        self.out = layer.Linear(8, 3, step_mode="m")

    def forward(self, x):
        return self.out(self.rec(self.fc(x)))

    def state_dict_keys(self):
        return {k for k in self.state_dict() if not k.startswith("rec.")}


class RecurrentLIFTwin(nn.Module):
    """The add form, stepped by hand: s[t] = LIF(fc(x[t]) + rec(s[t-1]))."""

    def __init__(self):
        super().__init__()
        self.r = nn.Module()
        self.r.fc = nn.Linear(7, 9)
        self.r.rec = nn.Linear(9, 9, bias=False)
        self.r.sn = neuron.LIFNode()
        self.out = nn.Linear(9, 4)

    def forward(self, x):
        s = torch.zeros(x.shape[1], 9)
        ys = []
        for t in range(x.shape[0]):
            s = self.r.sn(self.r.fc(x[t]) + self.r.rec(s))
            ys.append(self.out(s))
        return torch.stack(ys)


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> bool:
    return bool(((a - b).abs() <= rel * (1.0 + b.abs())).all())


def run_both(net, twin, x, reset=True):
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya = net(xa)
    if reset:
        functional.reset_net(twin)
    yb = twin(xb)
    weight = torch.linspace(-1.0, 1.0, ya.shape[-1])
    (ya * weight).sum().backward()
    (yb * weight).sum().backward()
    return ya, yb, xa.grad, xb.grad


def check_pair(net, twin, x, twin_params):
    ya, yb, ga, gb = run_both(net, twin, x)
    assert ya.abs().sum() > 0, "nothing fired: the test would prove little"
    assert torch.equal(ya, yb)
    assert close(ga, gb)
    for name, p in net.named_parameters():
        q = twin_params[name]
        assert close(p.grad, q.grad), name


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("bn", [False, True])
def test_linear_recurrent_container(train, bn):
    net = compile_net(LRC_BN if bn else LRC)
    twin = lrc_twin(bn)
    twin.load_state_dict(net.state_dict(), strict=True)
    net.train(train)
    twin.train(train)
    x = torch.rand(9, 4, 6) * 2.0
    check_pair(net, twin, x, dict(twin.named_parameters()))
    if bn and train:  # per-step normalisation: running statistics as SpikingJelly's
        assert torch.allclose(net.sub_module[1].running_mean, twin.sub_module[1].running_mean, atol=1e-6)


def test_element_wise_recurrent_container():
    net = compile_net(ELEMENTWISE)
    twin = EWTwin()
    missing = twin.load_state_dict(net.state_dict(), strict=False)
    assert not missing.missing_keys or all(k.startswith("rec.") for k in missing.missing_keys)
    assert not missing.unexpected_keys
    x = torch.rand(8, 3, 8) * 2.0
    check_pair(net, twin, x, dict(twin.named_parameters()))


def test_recurrent_lif_add_form():
    net = compile_net(RECURRENT_LIF)
    twin = RecurrentLIFTwin()
    twin.load_state_dict(net.state_dict(), strict=True)
    x = torch.rand(10, 5, 7) * 2.0
    check_pair(net, twin, x, dict(twin.named_parameters()))


@pytest.mark.parametrize("text", [LRC, ELEMENTWISE, RECURRENT_LIF])
def test_single_step_equals_multi_step(text):
    net = compile_net(text)
    x = torch.rand(6, 3, net.snn_ir.input_nodes()[0].shape[0]) * 2.0
    xm, xs = x.clone().requires_grad_(), x.clone().requires_grad_()
    ym = net(xm)
    net.step_mode = "s"
    ys = torch.stack([net(xs[t]) for t in range(x.shape[0])])
    assert torch.equal(ym, ys)
    ym.sum().backward()
    ys.sum().backward()
    assert close(xm.grad, xs.grad)


@pytest.mark.parametrize("text", [LRC, RECURRENT_LIF])
def test_fresh_state_every_multi_step_call(text):
    net = compile_net(text)
    x = torch.rand(5, 2, net.snn_ir.input_nodes()[0].shape[0]) * 2.0
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
        net.reset()
        first = net(x)
    assert not net.snn_ir.input_nodes()[0].op.static
    assert first.shape == (5, 2, net.snn_ir.output_nodes()[0].shape[0])


@pytest.mark.parametrize("text, disable", [(RECURRENT_LIF, ()), (RECURRENT_LIF, ("fuse-recurrent",)), (LRC, ())])
@pytest.mark.parametrize("cut", [1, 3, 4])
def test_carry_state_continues_the_sequence(text, disable, cut):
    net = compile_net(text, disable=disable)
    x = torch.rand(8, 2, net.snn_ir.input_nodes()[0].shape[0]) * 2.0
    with torch.no_grad():
        whole = net(x)
        net.carry_state = True
        net.reset()
        halves = torch.cat([net(x[:cut]), net(x[cut:])])
    assert torch.equal(whole, halves)


def test_prev_memories_are_not_state():
    net = compile_net(RECURRENT_LIF)
    keys = set(net.state_dict())
    assert keys == {"r.fc.weight", "r.fc.bias", "r.rec.weight", "out.weight", "out.bias"}
    net.step_mode = "s"
    net(torch.rand(2, 7))
    assert set(net.state_dict()) == keys
    assert net._feedback
    net.reset()
    assert not net._feedback


# -- Delay and prev on no cycle ---------------------------------------------------------------

def shifted(x: torch.Tensor, steps: int) -> torch.Tensor:
    if steps == 0:
        return x
    return torch.cat([torch.zeros_like(x[:steps]), x[:-steps]])


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_delay_equals_a_hand_written_shift(steps):
    net = compile_net(f"""
model D() {{
    input x: [4]
    return x -> fc: Linear(4, 4) -> d: Delay({steps}) -> sn: LIF()
}}
""")
    twin_fc = nn.Linear(4, 4)
    twin_fc.load_state_dict({k.removeprefix("fc."): v for k, v in net.state_dict().items()})
    sn = neuron.LIFNode(step_mode="m")
    x = torch.rand(6, 3, 4) * 3.0
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya = net(xa)
    yb = sn(shifted(twin_fc(xb), steps))
    assert torch.equal(ya, yb)
    ya.sum().backward()
    yb.sum().backward()
    assert close(xa.grad, xb.grad)
    net.step_mode = "s"
    with torch.no_grad():
        ys = torch.stack([net(x[t]) for t in range(6)])
    assert torch.equal(ys, yb.detach())


def test_prev_on_no_cycle_is_a_delay_of_one():
    net = compile_net("""
model P() {
    input x: [4]
    return add(x, prev(x)) -> sn: IF()
}
""")
    ops_ = {type(n.op).__name__ for n in net.snn_ir.nodes()}
    assert "Delay" in ops_ and "Prev" not in ops_
    x = torch.rand(5, 2, 4)
    with torch.no_grad():
        y = net(x)
        want = neuron.IFNode(step_mode="m")(x + shifted(x, 1))
    assert torch.equal(y, want)


def test_delay_on_a_cycle_steps_inside_the_loop():
    net = compile_net("""
model DC() {
    input x: [3]
    s = add(x, prev(s) -> d: Delay(2) -> w: Linear(3, 3, bias=false)) -> sn: IF()
    return s
}
""")
    region = {n.path: n.region for n in net.snn_ir.nodes()}
    assert region["d"] == region["sn"] == "recurrent0"
    W = net.w.weight.detach()
    x = torch.rand(7, 2, 3) * 2.0
    with torch.no_grad():
        y = net(x)
        sn = neuron.IFNode()
        s_hist = [torch.zeros(2, 3)] * 3
        outs = []
        for t in range(7):  # prev(s)[t] = s[t-1]; the delay gives s[t-3]
            s = sn(x[t] + s_hist[-3] @ W.T)
            s_hist.append(s)
            outs.append(s)
    assert torch.equal(y, torch.stack(outs))


# -- the IR ---------------------------------------------------------------------------

def test_input_projection_stays_batched():
    ir = snndsl.compile_source(RECURRENT_LIF, "r.snn", disable=["fuse-recurrent"]).snn_ir
    region = {n.path: n.region for n in ir.nodes() if not n.path.endswith(("~flat", "~unflat"))}
    assert region["r.fc"].startswith("region") and region["out"].startswith("region")
    assert {p for p, r in region.items() if r == "recurrent0"} == {"r.prev_s_0", "r.rec", "r.add_1", "r.sn"}
    assert ir.regions["recurrent0"].recurrent


def test_two_cycles_two_regions_in_order():
    text = """
model Two() {
    input x: [4]
    a = add(x, prev(a) -> ra: Linear(4, 4)) -> sa: LIF()
    b = add(a -> p: Linear(4, 4), prev(b) -> rb: Linear(4, 4)) -> sb: LIF()
    return b
}
"""
    net = compile_net(text, disable=["fuse-recurrent"])
    regions = {n.path: n.region for n in net.snn_ir.nodes()}
    assert regions["sa"] == "recurrent0" and regions["sb"] == "recurrent1"
    assert regions["p"].startswith("region")
    fused = compile_net(text)
    assert sum(type(n.op).__name__ == "RecurrentNeuron" for n in fused.snn_ir.nodes()) == 2
    x = torch.rand(5, 2, 4)
    with torch.no_grad():
        assert torch.equal(fused(x), net(x))
    y = net(x)
    net.step_mode = "s"
    with torch.no_grad():
        assert torch.equal(torch.stack([net(x[t]) for t in range(5)]), y.detach())


def test_nested_cycles_are_one_region():
    text = """
model Nested() {
    input x: [4]
    h = add(x, prev(s) -> r1: Linear(4, 4), prev(h) -> r2: Linear(4, 4)) -> sh: LIF()
    s = h -> fc: Linear(4, 4) -> ss: LIF()
    return s
}
"""
    net = compile_net(text)
    regions = {n.path: n.region for n in net.snn_ir.nodes() if n.region and n.region.startswith("recurrent")}
    assert set(regions.values()) == {"recurrent0"}
    assert {"sh", "ss", "fc", "r1", "r2"} <= set(regions)
    x = torch.rand(5, 2, 4)
    y = net(x)
    net.step_mode = "s"
    with torch.no_grad():
        assert torch.equal(torch.stack([net(x[t]) for t in range(5)]), y.detach())


def test_generated_loop_is_lean():
    code = snndsl.emit_python(RECURRENT_LIF, "r.snn", disable=["fuse-recurrent"])
    loop = code[code.index("for t in range(T):"):code.index("self.store_feedback")]
    assert "zeros" not in loop and "unflatten" not in loop and "empty" not in loop
    assert "r_sn_steps.append(r_sn_t)" in loop and "r_sn = torch.stack(r_sn_steps)" in loop


def test_shape_from_declared_prev():
    net = compile_net("""
model S() {
    input x: [4]
    y = add(x, prev(y, shape=[4]) -> nn.Tanh()) -> sn: LIF()
    return y
}
""")
    assert net(torch.rand(3, 2, 4)).shape == (3, 2, 4)


# -- errors ------------------------------------------------------------------------------

def error_of(text: str) -> SnnError:
    with pytest.raises(SnnError) as e:
        snndsl.compile_source(text, "bad.snn")
    return e.value


def test_forward_reference_without_prev_suggests_prev():
    e = error_of("""model M() {
    input x: [4]
    s = add(x, s -> fc: Linear(4, 4)) -> sn: LIF()
    return s
}
""")
    assert "'s' is used before it is bound" in e.message
    assert (e.span.line, e.span.column) == (3, 16)
    assert "prev(s)" in e.hint


def test_undefined_name_in_prev():
    e = error_of("""model M() {
    input x: [4]
    s = add(x, prev(q)) -> sn: LIF()
    return s
}
""")
    assert "undefined value 'q'" in e.message and (e.span.line, e.span.column) == (3, 21)


def test_prev_of_a_chain_is_refused():
    e = error_of("""model M() {
    input x: [4]
    s = add(x, prev(x -> fc: Linear(4, 4))) -> sn: LIF()
    return s
}
""")
    assert "prev takes the name of a value" in e.message and e.span.line == 3


def test_prev_without_a_fixed_shape_asks_for_shape():
    e = error_of("""model M() {
    input x: [4]
    y = prev(y) -> nn.Tanh() -> sn: LIF()
    return add(x, y)
}
""")
    # nothing on the cycle fixes the shape (the add comes after it)
    assert "cannot find the shape of prev(y)" in e.message
    assert (e.span.line, e.span.column) == (3, 9)
    assert "shape=[" in e.hint


def test_declared_shape_must_match():
    e = error_of("""model M() {
    input x: [4]
    y = add(x -> fc: Linear(4, 6), prev(y, shape=[6]) -> r: Linear(6, 6)) -> sn: LIF() -> p: Linear(6, 5)
    return y
}
""")
    assert "prev(y) is declared [6], but 'p' is [5]" in e.message
    assert e.span.line == 3 and "shape=[5]" in e.hint


def test_prev_reading_itself():
    e = error_of("""model M() {
    input x: [4]
    y = prev(y)
    return add(x, y)
}
""")
    assert "reads itself" in e.message and e.span.line == 3


def test_prev_shape_argument_checked():
    e = error_of("""model M() {
    input x: [4]
    y = add(x, prev(y, shape=[0])) -> sn: LIF()
    return y
}
""")
    assert "shape must list positive sizes" in e.message and e.span.line == 3
    e = error_of("""model M() {
    input x: [4]
    y = add(x, prev(y, size=[4])) -> sn: LIF()
    return y
}
""")
    assert "prev has no argument 'size'" in e.message


# -- fuse-recurrent ------------------------------------------------------------------------

@pytest.mark.parametrize("neuron_text", ["LIF()", "IF(v_reset=none)", "PLIF(init_tau=3.0, detach_reset=true)",
                                         "LIF(tau=4.0, decay_input=false, surrogate=ATan())"])
def test_fused_recurrent_layer_equals_the_step_loop(neuron_text):
    text = RECURRENT_LIF.replace("sn: LIF()", f"sn: {neuron_text}")
    fused = compile_net(text)
    loop = snndsl.compile_source(text, "r.snn", disable=["fuse-recurrent"])
    loop.load_state_dict(fused.state_dict())
    assert any(type(n.op).__name__ == "RecurrentNeuron" for n in fused.snn_ir.nodes())
    assert not any(type(n.op).__name__ == "RecurrentNeuron" for n in loop.snn_ir.nodes())
    assert "recurrent.recurrent_neuron(" in fused.snn_source and "for t in range(T):" in loop.snn_source
    x = torch.rand(12, 4, 7) * 2.0
    ya, yb, ga, gb = run_both(fused, loop, x, reset=False)
    assert ya.abs().sum() > 0
    assert torch.equal(ya, yb)
    assert close(ga, gb)
    for (name, p), (_, q) in zip(fused.named_parameters(), loop.named_parameters()):
        assert close(p.grad, q.grad), name
    fused.step_mode = loop.step_mode = "s"
    with torch.no_grad():
        sa = torch.stack([fused(x[t]) for t in range(12)])
        sb = torch.stack([loop(x[t]) for t in range(12)])
    assert torch.equal(sa, sb) and torch.equal(sa, ya.detach())


def test_regions_that_are_not_the_recurrent_layer_keep_the_loop():
    for text in (LRC, ELEMENTWISE):
        net = snndsl.compile_source(text, "r.snn")
        assert "for t in range(T):" in net.snn_source


def test_hooks_of_a_fused_neuron_see_its_spikes():
    net = compile_net(RECURRENT_LIF)
    seen = []
    net.r.sn.register_forward_pre_hook(lambda m, a: seen.append("pre"))
    net.r.sn.register_forward_hook(lambda m, a, out: seen.append(out))
    x = torch.rand(6, 2, 7) * 2.0
    with torch.no_grad():
        net(x)
    assert seen[0] == "pre" and len(seen) == 2
    loop = snndsl.compile_source(RECURRENT_LIF, "r.snn", disable=["fuse-recurrent"])
    loop.load_state_dict(net.state_dict())
    with torch.no_grad():
        loop(x)
        # the step loop calls single_step_forward: the fused region's one call shows the sequence
        spikes = loop.r.rec.weight.new_zeros(0)
    assert seen[1].shape == (6, 2, 9) and spikes.numel() == 0
