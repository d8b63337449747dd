"""Keys are module paths: SpikingJelly `layer.*` networks and ANNs with the same labels load
with strict=True; container-nested checkpoints load through map_state_dict_keys."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snndsl
from snndsl.interop import load_nested_state_dict, map_state_dict_keys

from .util import spikes

SNN = """\
model CSNN() {
    input img: [1, 8, 8]
    h = img -> conv1: Conv2d(1, 4, 3, padding=1, bias=false) -> bn1: BatchNorm2d(4) -> sn1: LIF(tau=2.0)
          -> pool1: MaxPool2d(2)
    return h -> flat: Flatten() -> fc: Linear(64, 10) -> sn2: PLIF(init_tau=2.0)
}
"""


def _randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) * 0.8 + (0.5 if "running_var" in name else 0.0))
    return net


def test_spikingjelly_layer_network_shares_keys_and_outputs(sj):
    layer, neuron = sj.layer, sj.neuron

    class SJNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = layer.Conv2d(1, 4, 3, padding=1, bias=False)
            self.bn1 = layer.BatchNorm2d(4)
            self.sn1 = neuron.LIFNode(tau=2.0)
            self.pool1 = layer.MaxPool2d(2)
            self.flat = layer.Flatten()
            self.fc = layer.Linear(64, 10)
            self.sn2 = neuron.ParametricLIFNode(init_tau=2.0)

        def forward(self, x):
            for m in self.children():
                x = m(x)
            return x

    ref = _randomize(SJNet())
    sj.functional.set_step_mode(ref, "m")
    net = snndsl.compile_source(SNN)
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict(), strict=True)
    ref.eval()
    net.eval()
    x = spikes(5, 3, 1, 8, 8)
    with torch.no_grad():
        want, got = ref(x), net(x)
    assert want.sum() > 0
    assert torch.equal(got, want)


def test_container_nested_checkpoint_maps_onto_module_paths(sj):
    layer, neuron = sj.layer, sj.neuron
    nested = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)),
        neuron.LIFNode(tau=2.0, step_mode="m"),
        layer.SeqToANNContainer(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10)),
        neuron.ParametricLIFNode(init_tau=2.0, step_mode="m"),
    )
    _randomize(nested, seed=4)
    assert "0.0.weight" in nested.state_dict() and "2.2.weight" in nested.state_dict()
    net = snndsl.compile_source(SNN)
    with pytest.raises(RuntimeError):
        net.load_state_dict(nested.state_dict(), strict=True)
    mapped = map_state_dict_keys(nested.state_dict(), net)
    assert list(mapped) == list(net.state_dict())
    assert torch.equal(mapped["fc.weight"], nested.state_dict()["2.2.weight"])
    load_nested_state_dict(net, nested.state_dict())
    nested.eval()
    net.eval()
    x = spikes(4, 2, 1, 8, 8, seed=1)
    with torch.no_grad():
        want, got = nested(x), net(x)
    assert want.sum() > 0
    assert torch.equal(got, want)


def test_mapping_refuses_modules_that_do_not_line_up():
    net = snndsl.compile_source(SNN)
    sd = net.state_dict()
    renamed = {f"m.{i}.{k.rsplit('.', 1)[1]}": v for i, (k, v) in enumerate(sd.items())}
    with pytest.raises(ValueError, match="modules with tensors"):
        map_state_dict_keys(renamed, net)
    wrong = {k.replace("fc.", "x.1."): (v[:5] if k == "fc.weight" else v) for k, v in sd.items()}
    with pytest.raises(ValueError, match="shape"):
        map_state_dict_keys(wrong, net)
    assert map_state_dict_keys(sd, sd) == dict(sd)


def test_ann_checkpoint_loads_with_strict_true():
    """An ANN written with the same labels (ReLU where the SNN has neurons) loads as is."""

    class ANN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.sn1 = nn.ReLU()
            self.pool1 = nn.MaxPool2d(2)
            self.flat = nn.Flatten()
            self.fc = nn.Linear(64, 10)

    ann = _randomize(ANN(), seed=2)
    text = SNN.replace("sn2: PLIF(init_tau=2.0)", "sn2: IF()")
    net = snndsl.compile_source(text)
    result = net.load_state_dict(ann.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(net.fc.weight, ann.fc.weight)


def test_sequential_ann_loads_into_a_group():
    """`features: (...)` numbers its stages as nn.Sequential does."""
    ann = nn.Module()
    ann.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2))
    ann.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    _randomize(ann, seed=6)
    text = """\
model Net() {
    input img: [1, 8, 8]
    h = img -> features: (Conv2d(1, 4, 3, padding=1) -> BatchNorm2d(4) -> IF() -> AvgPool2d(2))
    return h -> classifier: (Flatten() -> Linear(64, 10)) -> out: IF()
}
"""
    net = snndsl.compile_source(text)
    net.load_state_dict(ann.state_dict(), strict=True)
    # a bare nn.Sequential (keys '0.weight', ...) goes through the key-mapping helper
    flat = nn.Sequential(*ann.features, *ann.classifier)
    load_nested_state_dict(net, flat.state_dict())
    assert torch.equal(net.state_dict()["classifier.1.weight"], flat.state_dict()["5.weight"])
