"""Neurons defined in the language, compiled end to end: `.snn` text -> NeuronProgram ->
generated class in the model's module, against SpikingJelly 2.0.0's namesakes.

A neuron written in a test file in SpikingJelly's operation order gives SpikingJelly's
spikes bit for bit; the prelude's ``Izhikevich`` and ``KLIF`` equal ``IzhikevichNode`` and
``KLIFNode`` (spikes ``torch.equal``, input and parameter gradients within 1e-6), in
``'m'`` mode (the fused Function) and ``'s'`` mode (the step with autograd).
"""

from __future__ import annotations

import pytest
import torch

import snndsl

sj = pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import neuron, surrogate  # noqa: E402

MY_LIF = """
neuron MyLIF(tau: float = 2.0, v_threshold: float = 1.0, v_reset: float? = 0.0) {
    input x
    state v = 0.0 if v_reset == none else v_reset
    h = v + (x - (v - (0.0 if v_reset == none else v_reset))) / tau
    s = spike(h - v_threshold)
    v = h - s * v_threshold if v_reset == none else s * v_reset + (1.0 - s) * h
    return s
}
model M() {
    input x: [16]
    return x -> sn: MyLIF(tau=3.0, surrogate=ATan())
}
"""

PRELUDE = """
model P() {
    input x: [16]
    return x -> sn: NAME
}
"""


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-6) -> bool:
    return bool(((a - b).abs() <= tol * (1.0 + b.abs())).all())


def compare(net, ref, x: torch.Tensor, params=(), param_tol: float = 1e-6) -> None:
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = net(xa), ref(xb)
    assert ya.abs().sum() > 0, "nothing fired: the comparison would prove little"
    assert torch.equal(ya, yb)
    w = torch.linspace(-1.0, 1.0, ya.shape[-1])
    (ya * w).sum().backward()
    (yb * w).sum().backward()
    assert close(xa.grad, xb.grad)
    for pa, pb in params:
        assert close(pa.grad, pb.grad, param_tol)


@pytest.mark.parametrize("mode", ["m", "s"])
def test_a_neuron_in_spikingjelly_order_gives_its_spikes_bit_for_bit(mode):
    net = snndsl.compile_source(MY_LIF, "my_lif.snn")
    assert "class MyLIFNode(program.ProgramNode):" in net.snn_source
    ref = neuron.LIFNode(tau=3.0, surrogate_function=surrogate.ATan(), step_mode="m")
    x = torch.rand(12, 5, 16) * 2.0
    if mode == "s":
        net.step_mode = "s"
        ref.step_mode = "s"
        run_net = lambda t: torch.stack([net(t[i]) for i in range(t.shape[0])])  # noqa: E731
        run_ref = lambda t: torch.stack([ref(t[i]) for i in range(t.shape[0])])  # noqa: E731
        compare(run_net, run_ref, x)
    else:
        compare(net, ref, x)


@pytest.mark.parametrize("call, ref", [
    ("Izhikevich(a=0.2, b=0.1)", lambda: neuron.IzhikevichNode(a=0.2, b=0.1, step_mode="m")),
    ("Izhikevich(v_reset=none, detach_reset=true)",
     lambda: neuron.IzhikevichNode(v_reset=None, detach_reset=True, step_mode="m")),
    ("KLIF()", lambda: neuron.KLIFNode(step_mode="m")),
    ("KLIF(scale_reset=true, v_reset=none)", lambda: neuron.KLIFNode(scale_reset=True, v_reset=None, step_mode="m")),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prelude_neurons_equal_spikingjelly(call, ref, dtype):
    net = snndsl.compile_source(PRELUDE.replace("NAME", call), "prelude.snn").to(dtype)
    r = ref().to(dtype)
    keys = set(net.state_dict())
    assert {k.removeprefix("sn.") for k in keys} == set(r.state_dict())  # KLIF's learnable k
    r.load_state_dict({k.removeprefix("sn."): v for k, v in net.state_dict().items()})
    x = (torch.rand(10, 4, 16) * 3.0).to(dtype)
    # a scalar parameter's gradient sums T*N*H terms: the fused backward sums per element
    # over T first, autograd per step, so float32 rounding differs at about 1e-6 relative
    compare(net, r, x, list(zip(net.parameters(), r.parameters())), 1e-5 if dtype == torch.float32 else 1e-9)


def test_check_lists_the_neuron_definitions(capsys, tmp_path):
    from snndsl.cli import main

    f = tmp_path / "m.snn"
    f.write_text(MY_LIF)
    assert main(["check", str(f)]) == 0
    assert "neuron definitions used: MyLIF (spiking, at sn)" in capsys.readouterr().out
