"""SpikingJelly 2.0.0's own NIR exchange is the peer: both directions, equal outputs."""

from __future__ import annotations

import torch
from torch import nn

import snndsl
from snndsl.cli import main

from .util import spikes


def _sj_net(sj) -> nn.Module:
    layer, neuron = sj.layer, sj.neuron
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1), neuron.LIFNode(tau=3.0),
        layer.AvgPool2d(2),
        layer.Conv2d(4, 6, 3, stride=1, padding=1, bias=False), neuron.IFNode(v_threshold=0.8),
        layer.Flatten(),
        layer.Linear(6 * 4 * 4, 12), neuron.LIFNode(tau=2.0, decay_input=False, v_reset=-0.1),
        layer.Linear(12, 5, bias=False), neuron.IFNode(),
    )
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 0.5 - 0.05)
    sj.functional.set_step_mode(net, "m")
    return net


def test_spikingjelly_export_imports_and_matches(sj, tmp_path):
    net = _sj_net(sj)
    x = spikes(8, 3, 2, 8, 8, seed=3)
    with torch.no_grad():
        want = net(x)
    sj.functional.reset_net(net)
    path = tmp_path / "sj.nir"
    sj.export_to_nir(net, x, save_path=str(path), dt=1e-4)
    out = tmp_path / "from_sj.snn"
    assert main(["import", str(path), "-o", str(out), "--dt", "1e-4"]) == 0
    model = snndsl.compile_file(out)
    model.load_state_dict(torch.load(tmp_path / "from_sj.pt", weights_only=True), strict=True)
    with torch.no_grad():
        got = model(x)
    assert want.sum() > 0
    assert torch.equal(got, want)


RES = """\
defaults LIF(surrogate=ATan(), detach_reset=true)
model Res() {
    input img: [2, 8, 8]
    h = img -> conv1: Conv2d(2, 4, 3, padding=1, bias=false) -> bn1: BatchNorm2d(4) -> sn1: LIF(tau=2.5)
    g = h -> conv2: Conv2d(4, 4, 3, padding=1) -> sn2: IF()
    h = add(h, g) -> pool: AvgPool2d(2) -> flat: Flatten() -> fc1: Linear(_, 10) -> sn3: LIF(decay_input=false)
    return h -> fc2: Linear(10, 4, bias=false) -> sn4: IF(v_threshold=0.6)
}
"""


def test_snndsl_export_imports_into_spikingjelly_and_matches(sj, tmp_path):
    src = tmp_path / "res.snn"
    src.write_text(RES)
    net = snndsl.compile_source(RES)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 0.6 - 0.05 if "bn" not in name else 1.0 + 0.2 * p)
        net.bn1.running_mean.uniform_(-0.1, 0.1, generator=g)
        net.bn1.running_var.uniform_(0.5, 1.5, generator=g)
    net.eval()
    weights = tmp_path / "res.pt"
    torch.save(net.state_dict(), weights)
    nir_path = tmp_path / "res.nir"
    assert main(["export", str(src), "--nir", str(nir_path), "--weights", str(weights)]) == 0
    gm = sj.import_from_nir(str(nir_path), dt=1e-4, step_mode="m")
    x = spikes(6, 2, 2, 8, 8, seed=9)
    with torch.no_grad():
        want = net(x)
        got, _state = gm(x)
    assert want.sum() > 0
    assert torch.allclose(got, want)
    assert torch.equal(got, want)
