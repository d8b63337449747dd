"""The benchmark networks written by hand with SpikingJelly 2.0.0.

Each twin is written the way SpikingJelly's tutorials recommend for speed: ``layer.*``
modules and neurons in multi-step mode (``step_mode='m'``), with the same attribute
names as the labels in the ``.snn`` file, so that the compiled model's ``state_dict``
loads with ``strict=True`` and both compute the same function on the same weights.

:class:`PerStepLoop` is the naive baseline: the same SpikingJelly network switched to
single-step mode and called once per time step in a Python loop.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, layer, neuron, surrogate


def _lif(sg: type = surrogate.ATan) -> neuron.LIFNode:
    return neuron.LIFNode(tau=2.0, surrogate_function=sg(), detach_reset=True, step_mode="m")


def _if() -> neuron.IFNode:
    return neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m")


def _conv(cin: int, cout: int, k: int, stride: int = 1, padding: int = 0) -> layer.Conv2d:
    return layer.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=False, step_mode="m")


def _bn(c: int) -> layer.BatchNorm2d:
    return layer.BatchNorm2d(c, step_mode="m")


class Chain(nn.Module):
    """Runs its children in order (the twins whose graph is a plain chain)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.children():
            x = m(x)
        return x


class CSNN(Chain):
    """``examples/csnn.snn``: (Conv-BN-LIF-MaxPool) x 2, Flatten, (Linear-LIF) x 2."""

    def __init__(self, channels: int = 64, num_classes: int = 10):
        super().__init__()
        c = channels
        self.conv1 = _conv(1, c, 3, padding=1)
        self.bn1 = _bn(c)
        self.sn1 = _lif()
        self.pool1 = layer.MaxPool2d(2, step_mode="m")
        self.conv2 = _conv(c, c, 3, padding=1)
        self.bn2 = _bn(c)
        self.sn2 = _lif()
        self.pool2 = layer.MaxPool2d(2, step_mode="m")
        self.flat = layer.Flatten(step_mode="m")
        self.fc1 = layer.Linear(c * 7 * 7, c * 4 * 4, bias=False, step_mode="m")
        self.sn3 = _lif()
        self.fc2 = layer.Linear(c * 4 * 4, num_classes, bias=False, step_mode="m")
        self.sn4 = _lif()


class Basic(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.bn1, self.sn1 = _conv(c, c, 3, padding=1), _bn(c), _if()
        self.conv2, self.bn2, self.sn2 = _conv(c, c, 3, padding=1), _bn(c), _if()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.sn2(self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(x))))))
        return h + x  # SEW ADD


class Down(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1, self.bn1, self.sn1 = _conv(cin, cout, 3, stride=2, padding=1), _bn(cout), _if()
        self.conv2, self.bn2, self.sn2 = _conv(cout, cout, 3, padding=1), _bn(cout), _if()
        self.downsample = nn.Sequential(_conv(cin, cout, 1, stride=2), _bn(cout), _if())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.sn2(self.bn2(self.conv2(self.sn1(self.bn1(self.conv1(x))))))
        return h + self.downsample(x)


class SEWResNet18(nn.Module):
    """``bench/models/sew_resnet18.snn``: the CIFAR-style SEW-ResNet-18 (ADD connect)."""

    def __init__(self, c: int = 64, num_classes: int = 10):
        super().__init__()
        self.conv1, self.bn1, self.sn1 = _conv(3, c, 3, padding=1), _bn(c), _if()
        self.layer1 = nn.Sequential(Basic(c), Basic(c))
        self.layer2 = nn.Sequential(Down(c, 2 * c), Basic(2 * c))
        self.layer3 = nn.Sequential(Down(2 * c, 4 * c), Basic(4 * c))
        self.layer4 = nn.Sequential(Down(4 * c, 8 * c), Basic(8 * c))
        self.avgpool = layer.AdaptiveAvgPool2d(1, step_mode="m")
        self.flatten = layer.Flatten(step_mode="m")
        self.fc = layer.Linear(8 * c, num_classes, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sn1(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.flatten(self.avgpool(x)))


class StaticCIFAR(Chain):
    """``examples/static_image.snn`` as SpikingJelly users write it: the image is
    repeated ``T`` times and the whole network runs on ``[T, N, ...]``."""

    def __init__(self, c: int = 32, num_classes: int = 10):
        super().__init__()
        self.encoder, self.encoder_bn, self.sn0 = (
            _conv(3, c, 3, padding=1),
            _bn(c),
            _lif(surrogate.Sigmoid),
        )
        self.conv1, self.bn1, self.sn1 = (
            _conv(c, 2 * c, 3, stride=2, padding=1),
            _bn(2 * c),
            _lif(surrogate.Sigmoid),
        )
        self.conv2, self.bn2, self.sn2 = (
            _conv(2 * c, 2 * c, 3, stride=2, padding=1),
            _bn(2 * c),
            _lif(surrogate.Sigmoid),
        )
        self.pool = layer.AdaptiveAvgPool2d(1, step_mode="m")
        self.flatten_0 = layer.Flatten(step_mode="m")
        self.fc = layer.Linear(2 * c, num_classes, step_mode="m")

    def forward(self, img: torch.Tensor, T: int = 4) -> torch.Tensor:  # type: ignore[override]
        return super().forward(img.unsqueeze(0).repeat(T, *([1] * img.dim())))


class PerStepLoop(nn.Module):
    """The naive baseline: ``net`` in single-step mode, called once per time step."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        functional.set_step_mode(net, "s")

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self.net)
        return torch.stack([self.net(x_seq[t]) for t in range(x_seq.shape[0])])
