"""The channels-last pass: which regions it marks, what the code does with them, and that
the model computes what the contiguous model computes (the equivalence test of this
optimisation against the unoptimised path)."""

from __future__ import annotations

import pytest
import torch

import snndsl
from snndsl.ir.yaml import dump_yaml, load_yaml

from ..conftest import EXAMPLES

EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.snn"))
CL = torch.channels_last


def _pair(name: str):
    """The example compiled with and without the pass, same weights."""
    text = (EXAMPLES / name).read_text()
    torch.manual_seed(0)
    fast = snndsl.compile_source(text, name)
    plain = snndsl.compile_source(text, name, disable=("channels-last",))
    plain.load_state_dict(fast.state_dict(), strict=True)
    with torch.no_grad():  # strong enough weights that every layer spikes
        for p in fast.parameters():
            if p.dim() > 1:
                p.mul_(3.0)
        plain.load_state_dict(fast.state_dict(), strict=True)
    return fast, plain


def _inputs(net, T=3, N=4, seed=1):
    gen = torch.Generator().manual_seed(seed)
    xs = []
    for n in net.snn_ir.input_nodes():
        shape = (N, *n.op.shape) if n.op.static else (T, N, *n.op.shape)
        xs.append(torch.rand(shape, generator=gen) * 2)
    return xs


def _spike_mismatch(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a != b).float().mean().item()


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_eval_outputs_equal_the_contiguous_model(name):
    fast, plain = _pair(name)
    xs = _inputs(fast)
    with torch.no_grad():
        a, b = fast.eval()(*xs, T=3), plain.eval()(*xs, T=3)
    assert a.shape == b.shape
    # spikes may only flip where a reduction's rounding order moved H across v_th
    assert _spike_mismatch(a, b) <= 1e-3


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_training_gradients_agree(name):
    """In float64: in float32 training, BatchNorm's batch statistics differ in the last
    bits between layouts, a few spikes flip and deep networks amplify the flips (chaos,
    not error); in float64 the two orders of summation cannot flip a spike here."""
    fast, plain = _pair(name)
    fast.double(), plain.double()
    xs = [x.double() for x in _inputs(fast)]
    grads = []
    for net in (fast, plain):
        net.train()
        inputs = [x.clone().requires_grad_() for x in xs]
        torch.manual_seed(5)  # the same dropout masks
        out = net(*inputs, T=3)
        w = torch.linspace(-1, 1, out.numel()).view(out.shape)
        (out * w).sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in net.parameters()],
                      [x.grad for x in inputs]))  # fmt: skip
    (o1, p1, x1), (o2, p2, x2) = grads
    torch.testing.assert_close(o1, o2, rtol=1e-9, atol=1e-9)
    for g1, g2 in zip(p1 + x1, p2 + x2, strict=True):
        torch.testing.assert_close(g1, g2, rtol=1e-8, atol=1e-10)


def test_csnn_regions_run_in_nhwc_and_weights_are_nhwc():
    fast, plain = _pair("csnn.snn")
    layouts = {r.name: r.layout for r in fast.snn_ir.regions.values()}
    assert layouts == {"region0": "channels_last", "region1": "channels_last",
                       "region2": "channels_last", "region3": "contiguous"}  # fmt: skip
    assert all(r.layout == "contiguous" for r in plain.snn_ir.regions.values())
    assert fast.conv1.weight.is_contiguous(memory_format=CL)
    assert fast.conv2.weight.is_contiguous(memory_format=CL)
    seen = {}

    def hook(name):
        def record(mod, args):
            seen.setdefault(name, args[0].is_contiguous(memory_format=CL))

        return record

    for name in ("conv2", "pool1", "pool2", "bn1"):
        getattr(fast, name).register_forward_pre_hook(hook(name))
    fast(*_inputs(fast, N=2))
    assert seen == {"conv2": True, "pool1": True, "pool2": True, "bn1": True}


def test_weights_stay_nhwc_through_load_state_dict_and_to():
    fast, plain = _pair("csnn.snn")
    state = {k: v.contiguous() for k, v in plain.state_dict().items()}
    fast.load_state_dict(state, strict=True)
    fast.to(torch.float64).to(torch.float32)
    assert fast.conv2.weight.is_contiguous(memory_format=CL)
    assert torch.equal(fast.conv2.weight, plain.conv2.weight)
    # and the state_dict of the NHWC model loads into the contiguous one
    plain.load_state_dict(fast.state_dict(), strict=True)


def test_regions_without_2d_layers_are_left_alone():
    src = """
model M() {
    input x: [20]
    h = x -> fc: Linear(20, 10) -> sn: LIF()
    return h
}
"""
    net = snndsl.compile_source(src)
    assert [r.layout for r in net.snn_ir.regions.values()] == ["contiguous"]
    assert "channels_last" not in snndsl.emit_python(src)


def test_layout_round_trips_through_yaml():
    text = (EXAMPLES / "csnn.snn").read_text()
    _, ir = snndsl.trace_passes(text, "csnn.snn")[-1]
    again = load_yaml(dump_yaml(ir))
    assert {r.name: r.layout for r in again.regions.values()} == {
        r.name: r.layout for r in ir.regions.values()
    }
    assert dump_yaml(again) == dump_yaml(ir)
