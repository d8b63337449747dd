"""Compiled models against hand-written SpikingJelly 2.0.0 twins.

Each twin is written the way SpikingJelly's tutorials recommend: `layer.*` modules
and neurons in multi-step mode, with the same attribute names as the `.snn` labels.
The compiled model's state_dict loads into the twin with strict=True, and outputs
and gradients agree in eval and in train mode.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import snndsl

from ..conftest import EXAMPLES

sj = pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import layer, neuron, surrogate  # noqa: E402


def lif():
    return neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m")


def if_node():
    return neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m")


class CSNNTwin(nn.Module):
    def __init__(self, c=64, k=10):
        super().__init__()
        self.conv1 = layer.Conv2d(1, c, 3, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(c, step_mode="m")
        self.sn1 = lif()
        self.pool1 = layer.MaxPool2d(2, step_mode="m")
        self.conv2 = layer.Conv2d(c, c, 3, padding=1, bias=False, step_mode="m")
        self.bn2 = layer.BatchNorm2d(c, step_mode="m")
        self.sn2 = lif()
        self.pool2 = layer.MaxPool2d(2, step_mode="m")
        self.flat = layer.Flatten(step_mode="m")
        self.fc1 = layer.Linear(c * 49, c * 16, bias=False, step_mode="m")
        self.sn3 = lif()
        self.fc2 = layer.Linear(c * 16, k, bias=False, step_mode="m")
        self.sn4 = lif()

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


class BasicTwin(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = layer.Conv2d(c, c, 3, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(c, step_mode="m")
        self.sn1 = if_node()
        self.conv2 = layer.Conv2d(c, c, 3, padding=1, bias=False, step_mode="m")
        self.bn2 = layer.BatchNorm2d(c, step_mode="m")
        self.sn2 = if_node()

    def forward(self, x):
        h = self.sn2(self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(x))))))
        return h + x


class DownTwin(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = layer.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(cout, step_mode="m")
        self.sn1 = if_node()
        self.conv2 = layer.Conv2d(cout, cout, 3, padding=1, bias=False, step_mode="m")
        self.bn2 = layer.BatchNorm2d(cout, step_mode="m")
        self.sn2 = if_node()
        self.downsample = nn.Sequential(
            layer.Conv2d(cin, cout, 1, stride=2, bias=False, step_mode="m"),
            layer.BatchNorm2d(cout, step_mode="m"),
            if_node(),
        )

    def forward(self, x):
        h = self.sn2(self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(x))))))
        return h + self.downsample(x)


class SEWTwin(nn.Module):
    def __init__(self, c=32, k=10):
        super().__init__()
        self.conv1 = layer.Conv2d(3, c, 3, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(c, step_mode="m")
        self.sn1 = if_node()
        self.layer1 = nn.Sequential(BasicTwin(c), BasicTwin(c))
        self.layer2 = nn.Sequential(DownTwin(c, 2 * c), BasicTwin(2 * c))
        self.avgpool = layer.AdaptiveAvgPool2d(1, step_mode="m")
        self.flatten_0 = layer.Flatten(step_mode="m")
        self.fc = layer.Linear(2 * c, k, step_mode="m")

    def forward(self, x):
        x = self.layer2(self.layer1(self.sn1(self.bn1(self.conv1(x)))))
        return self.fc(self.flatten_0(self.avgpool(x)))


class StaticTwin(nn.Module):
    """The static-image model as SpikingJelly users write it: the image repeated T times."""

    def __init__(self, c=32, k=10):
        super().__init__()
        self.encoder = layer.Conv2d(3, c, 3, padding=1, bias=False, step_mode="m")
        self.encoder_bn = layer.BatchNorm2d(c, step_mode="m")
        self.sn0 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m")
        self.conv1 = layer.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=False, step_mode="m")
        self.bn1 = layer.BatchNorm2d(2 * c, step_mode="m")
        self.sn1 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m")
        self.conv2 = layer.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1, bias=False, step_mode="m")
        self.bn2 = layer.BatchNorm2d(2 * c, step_mode="m")
        self.sn2 = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid(), detach_reset=True, step_mode="m")
        self.pool = layer.AdaptiveAvgPool2d(1, step_mode="m")
        self.flatten_0 = layer.Flatten(step_mode="m")
        self.fc = layer.Linear(2 * c, k, step_mode="m")

    def forward(self, img, T):
        x = img.unsqueeze(0).repeat(T, 1, 1, 1, 1)
        for m in self.children():
            x = m(x)
        return x


def plif(**kw):
    return neuron.ParametricLIFNode(init_tau=2.0, surrogate_function=surrogate.Sigmoid(alpha=4.0),
                                    detach_reset=True, step_mode="m", **kw)


class PLIFTwin(nn.Module):
    def __init__(self, c=32, k=10):
        super().__init__()
        self.features = nn.Sequential(
            layer.Conv2d(2, c, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(c, step_mode="m"),
            plif(), layer.MaxPool2d(2, step_mode="m"),
            layer.Conv2d(c, c, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(c, step_mode="m"),
            plif(), layer.MaxPool2d(2, step_mode="m"),
        )
        self.flat = layer.Flatten(step_mode="m")
        self.drop1 = layer.Dropout(0.0, step_mode="m")
        self.fc1 = layer.Linear(c * 64, 128, step_mode="m")
        self.sn1 = plif(decay_input=False)
        self.fc2 = layer.Linear(128, k * 10, step_mode="m")
        self.sn2 = plif()
        self.vote = layer.VotingLayer(10, step_mode="m")

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


def _reset(net):
    for m in net.modules():
        if hasattr(m, "reset") and m is not net:
            m.reset()


CASES = {
    "csnn.snn": (CSNNTwin, (1, 28, 28), False),
    "sew_resnet.snn": (SEWTwin, (3, 32, 32), False),
    "static_image.snn": (StaticTwin, (3, 32, 32), True),
    "plif_net.snn": (PLIFTwin, (2, 34, 34), False),
}
PARAMS = {"plif_net.snn": {"p": 0.0}}  # dropout masks are random; the PLIF dynamics are the point


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("layout", ["nhwc", "nchw"])
def test_compiled_equals_spikingjelly(name, train, layout):
    """``nhwc``: as compiled (channels-last regions); ``nchw``: without that pass. Training
    with channels-last runs in float64: BatchNorm's batch statistics differ from NCHW's in
    the last float32 bits, which flips a few spikes that deep nets amplify (chaos, not
    error; see tests/compiler/test_channels_last.py)."""
    torch.manual_seed(1)
    twin_cls, shape, static = CASES[name]
    T, N = 4, 3
    disable = ("channels-last",) if layout == "nchw" else ()
    net = snndsl.compile_file(EXAMPLES / name, params=PARAMS.get(name), disable=disable)
    twin = twin_cls()
    if train and layout == "nhwc":
        net.double(), twin.double()
    assert list(net.state_dict()) == list(twin.state_dict()), "same keys in the same order"
    with torch.no_grad():  # strong weights so that every layer spikes
        for p in net.parameters():
            if p.dim() > 1:
                p.mul_(3.0)
    twin.load_state_dict(net.state_dict(), strict=True)
    net.train(train)
    twin.train(train)
    x = torch.rand((N, *shape) if static else (T, N, *shape)) * 2
    x = x.to(next(net.parameters()).dtype)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1 = net(x1, T=T)
    _reset(twin)
    y2 = twin(x2, T) if static else twin(x2)
    torch.testing.assert_close(y1, y2, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(y1)
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, atol=1e-5, rtol=1e-4)
    for (k, p1), (_, p2) in zip(net.named_parameters(), twin.named_parameters()):
        torch.testing.assert_close(p1.grad, p2.grad, atol=1e-5, rtol=1e-4, msg=k)
    if train:  # BatchNorm statistics moved the same way (static: see hoist_static's docstring)
        for (k, b1), (_, b2) in zip(net.named_buffers(), twin.named_buffers()):
            if not (static and k.startswith("encoder_bn.running_var")):
                torch.testing.assert_close(b1, b2, atol=1e-5, rtol=1e-4, msg=k)
    spikes = net.sn1.v  # the neurons ran and kept their last membrane potential
    assert isinstance(spikes, torch.Tensor)
