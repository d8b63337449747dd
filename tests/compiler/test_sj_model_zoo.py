"""Examples that are models of SpikingJelly 2.0.0's own model zoo, proven equal to them.

`examples/ms_resnet.snn` is `model.ms_resnet.ms_resnet18` and
`examples/spiking_vgg11_bn.snn` (with the zoo's head size) is
`model.spiking_vgg.spiking_vgg11_bn`: no hand-written twin, the zoo's classes
themselves, in multi-step mode. The zoo model's state_dict loads into the compiled model
with strict=True and back; outputs, input gradients, parameter gradients and BatchNorm
statistics agree in eval and in train mode.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

import snndsl

from ..conftest import EXAMPLES

pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import functional, neuron, surrogate  # noqa: E402


def _zoo():
    """The two zoo modules. `spiking_vgg` imports `torchvision.models.utils` (for
    pretrained weights, which these tests never load); torchvision is broken in some
    environments, so a stub stands in for that one module while the zoo is imported."""
    stub_needed = "torchvision.models.utils" not in sys.modules
    if stub_needed:
        stub = types.ModuleType("torchvision.models.utils")
        stub.load_state_dict_from_url = torch.hub.load_state_dict_from_url  # type: ignore[attr-defined]
        sys.modules["torchvision.models.utils"] = stub
    try:
        from spikingjelly.activation_based.model import ms_resnet, spiking_vgg
    finally:
        if stub_needed:
            del sys.modules["torchvision.models.utils"]
    return ms_resnet, spiking_vgg


def ms_resnet18(T: int) -> torch.nn.Module:
    return _zoo()[0].ms_resnet18(T=T, num_classes=10)  # sets step_mode 'm' itself


def spiking_vgg11_bn(T: int) -> torch.nn.Module:
    net = _zoo()[1].spiking_vgg11_bn(num_classes=10, spiking_neuron=neuron.LIFNode, tau=2.0,
                                     surrogate_function=surrogate.ATan(), detach_reset=True)
    functional.set_step_mode(net, "m")
    return net


@dataclass
class Case:
    build: Callable[[int], torch.nn.Module]
    static: bool  # the zoo model repeats an [N, C, H, W] image T times
    time_mean: bool  # the zoo model returns its class scores averaged over T
    strength: tuple[float, float, float]  # BatchNorm weight scale and bias shift, Linear scale
    params: dict[str, Any] = field(default_factory=dict)
    # Compared where rounding cannot flip a spike or swamp a gradient: MS-ResNet in float64
    # (its train-mode gradients reach ~3e3 through 21 BatchNorms, and float32's other
    # reduction orders leave ~1e-6 relative differences there), VGG in float32 without
    # channels-last, which then is bit for bit the zoo's NCHW computation. (With NHWC
    # convolutions a membrane potential within a rounding error of the threshold can fire
    # in one model and not in the other; float64 would need 4 GB for VGG's 129M parameters
    # and their gradients. test_channels_last proves NHWC equal to NCHW.)
    dtype: torch.dtype = torch.float32
    disable: tuple[str, ...] = ()
    hoisted_bn: tuple[str, ...] = ()  # BatchNorms that hoist-static runs once on [N, ...]


T, N = 2, 2
CASES = {
    "ms_resnet.snn": Case(ms_resnet18, static=True, time_mean=True, strength=(1.0, 0.0, 1.0),
                          dtype=torch.float64, hoisted_bn=("stem.1", "layer1.0.downsample.1")),
    "spiking_vgg11_bn.snn": Case(spiking_vgg11_bn, static=False, time_mean=False, strength=(2.0, 0.5, 10.0),
                                 params={"hidden": 4096, "pool": 7}, disable=("channels-last",)),
}


def _strengthen(net: torch.nn.Module, gen: torch.Generator, bn_scale: float, bn_shift: float,
                linear_scale: float) -> None:
    """Random BatchNorm affine parameters and running statistics (the zoo initialises
    MS-ResNet's bn2 weights to 0, which would silence every residual branch), and
    stronger Linear weights (VGG's are drawn with std 0.01), so that every layer spikes."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_((torch.rand(c, generator=gen) + 0.5) * bn_scale)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2 + bn_shift)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            elif isinstance(m, torch.nn.Linear):
                m.weight.mul_(linear_scale)


def _record_firing_rates(net: torch.nn.Module) -> dict[str, float]:
    rates: dict[str, float] = {}
    for name, m in net.named_modules():
        if isinstance(m, neuron.BaseNode):
            m.register_forward_hook(lambda mod, i, o, name=name: rates.__setitem__(name, o.mean().item()))
    return rates


@pytest.fixture(scope="module")
def zoo_model() -> Callable[[str], tuple[torch.nn.Module, dict[str, float]]]:
    """``zoo_model(name) -> (model, firing rates of its last forward)``: each zoo model is
    built once (VGG's 129M parameters take seconds to initialise) and restored to its
    initial weights, float32, no gradients and no state before each use."""
    cache: dict[str, tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, float]]] = {}

    def get(name: str) -> tuple[torch.nn.Module, dict[str, float]]:
        if name not in cache:
            case = CASES[name]
            torch.manual_seed(0)
            zoo = case.build(T)
            _strengthen(zoo, torch.Generator().manual_seed(0), *case.strength)
            state = {k: v.clone() for k, v in zoo.state_dict().items()}
            cache[name] = (zoo, state, _record_firing_rates(zoo))
        zoo, state, rates = cache[name]
        zoo.float().load_state_dict(state, strict=True)
        zoo.zero_grad(set_to_none=True)
        functional.reset_net(zoo)
        rates.clear()
        return zoo, rates

    return get


def _assert_close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-4, msg: str = "") -> None:
    """`torch.testing.assert_close`'s test, done in chunks (assert_close takes seconds on
    VGG's 100M-element weight gradient); assert_close itself reports a failure."""
    ok = a.shape == b.shape and a.dtype == b.dtype and all(
        bool(torch.isclose(u, v, rtol=rtol, atol=atol).all())
        for u, v in zip(a.reshape(-1).split(1 << 20), b.reshape(-1).split(1 << 20)))
    if not ok:
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol, msg=msg or None)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_compiled_example_equals_the_zoo_model(name, train, zoo_model):
    case = CASES[name]
    zoo, rates = zoo_model(name)
    net = snndsl.compile_file(EXAMPLES / name, params=case.params, disable=case.disable)
    assert list(net.state_dict()) == list(zoo.state_dict()), "same keys in the same order"
    net.load_state_dict(zoo.state_dict(), strict=True)
    zoo.load_state_dict(net.state_dict(), strict=True)  # and back
    dtype = case.dtype
    net.to(dtype).train(train)
    zoo.to(dtype).train(train)

    gen = torch.Generator().manual_seed(1)
    shape = (N, 3, 32, 32) if case.static else (T, N, 3, 32, 32)
    x = (torch.rand(shape, generator=gen) * 2).to(dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(1)  # the same Dropout masks: both draw them in the same order, the same way
    y1 = net(x1, T=T)
    functional.reset_net(zoo)
    torch.manual_seed(1)
    y2 = zoo(x2)
    if case.time_mean:  # the compiled model returns the scores of every step; the caller averages
        assert y1.shape == (T, N, 10) and y2.shape == (N, 10)
        y1 = y1.mean(0)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-5)
    assert rates and all(0.0 < r < 1.0 for r in rates.values()), rates  # every layer spikes, none saturates

    g = torch.randn(y1.shape, generator=gen).to(dtype)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    _assert_close(x1.grad, x2.grad)
    zoo_params = dict(zoo.named_parameters())
    for k, p in net.named_parameters():
        _assert_close(p.grad, zoo_params[k].grad, msg=k)
    zoo_buffers = dict(zoo.named_buffers())
    for k, b in net.named_buffers():
        # the BatchNorms on the static image run once on the N images (hoisted), and update
        # their running statistics as over the T*N copies the zoo model makes
        _assert_close(b, zoo_buffers[k], msg=k)
    ir = net.snn_ir
    assert {n.path for n in ir.nodes() if getattr(n.op, "time_repeated", False)} == set(case.hoisted_bn)
