"""``.snn`` → NIR → ``.snn``: an isomorphic IR and equal outputs (through files and the CLI)."""

from __future__ import annotations

import pytest
import torch

import snndsl
from snndsl.cli import main
from snndsl.compiler import lower

from .util import describe, isomorphic, spikes, strengthen

MODELS = {
    "csnn": ("""\
defaults LIF(tau=2.0, surrogate=ATan(), detach_reset=true)
model CSNN(c: int = 4) {
    input img: [1, 12, 12]
    h = img -> conv1: Conv2d(1, c, 3, padding=1, bias=false) -> sn1: LIF() -> pool1: MaxPool2d(2)
    h = h -> conv2: Conv2d(c, c, 3, stride=(1, 2), padding=(1, 0)) -> sn2: LIF(tau=3.0, decay_input=false)
          -> pool2: AvgPool2d(2, divisor_override=1)
    return h -> flat: Flatten() -> fc1: Linear(_, 10) -> sn3: IF(v_threshold=0.5, v_reset=none)
}
""", (1, 12, 12)),
    "residual": ("""\
block Res(c: int) {
    input x
    h = x -> fc1: Linear(c, c) -> sn1: PLIF(init_tau=3.0, surrogate=Sigmoid(alpha=2.0))
          -> fc2: Linear(c, c) -> sn2: IF(detach_reset=true)
    return add(h, x)
}
model ResNet() {
    input x: [3, 10]
    h = x -> conv: Conv1d(3, 4, 3, padding=1) -> sn0: IF() -> pool: Flatten() -> fc0: Linear(40, 8)
          -> sn: LIF(v_threshold=0.8, v_reset=-0.5)
    h = h -> layer1: Res(8) * 2
    return h -> head: Linear(8, 4) -> out: LIF(), h -> vote: VotingLayer(4)
}
""", (3, 10)),
    "sew": ("""\
model Sew() {
    input img: [2, 8, 8] static
    h = img -> stem: Conv2d(2, 4, 3, padding="same") -> sn0: IF()
    g = h -> conv: Conv2d(4, 4, 1) -> sn1: IF()
    return add(h, g) -> gap: AdaptiveAvgPool2d(1) -> flat: Flatten() -> fc: Linear(4, 3) -> sn2: LIF()
}
""", (2, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip(name, tmp_path):
    text, shape = MODELS[name]
    src = tmp_path / f"{name}.snn"
    src.write_text(text)
    net = strengthen(snndsl.compile_source(text), seed=7)
    weights = tmp_path / "w.pt"
    torch.save(net.state_dict(), weights)
    nir_path = tmp_path / f"{name}.nir"
    assert main(["export", str(src), "--nir", str(nir_path), "--weights", str(weights), "--dt", "1e-3"]) == 0
    out = tmp_path / "back" / f"{name}.snn"
    assert main(["import", str(nir_path), "-o", str(out), "--dt", "1e-3"]) == 0
    back_text = out.read_text()
    a, b = lower(text), lower(back_text)
    assert isomorphic(a, b), (describe(a), back_text)
    back = snndsl.compile_source(back_text)
    back.load_state_dict(torch.load(out.with_suffix(".pt"), weights_only=True), strict=True)
    static = any(n.op.static for n in a.input_nodes())
    x = spikes(2, *shape) if static else spikes(6, 2, *shape)
    kw = {"T": 6} if static else {}
    want, got = net(x, **kw), back(x, **kw)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    for w, g in zip(want, got, strict=True):
        assert w.sum() > 0
        assert torch.equal(w, g)
