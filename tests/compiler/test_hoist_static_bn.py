"""A BatchNorm in a hoisted (static) region updates its running statistics as over the
T*N copies of the image that it stands for (issue #16: SpikingJelly's models repeat a
4-d input T times)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snndsl
from snndsl.runtime.fused import repeated_batch_norm

STATIC = """\
model M() {
    input img: [3, 8, 8] static
    return img -> conv: Conv2d(3, 4, 3, padding=1) -> bn: BatchNorm2d(4) -> sn: LIF()
             -> Flatten() -> fc: Linear(_, 5) -> bn1: BatchNorm1d(5) -> sn1: LIF()
}
"""


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("shape", [(6, 4, 5, 5), (6, 4), (6, 4, 7)])
def test_repeated_batch_norm_equals_the_norm_of_the_repeated_batch(shape, momentum):
    torch.manual_seed(0)
    kind = {4: nn.BatchNorm2d, 2: nn.BatchNorm1d, 3: nn.BatchNorm1d}[len(shape)]
    a, b = kind(4, momentum=momentum), kind(4, momentum=momentum)
    b.load_state_dict(a.state_dict())
    for _ in range(3):
        x = torch.randn(*shape) * 3 + 1
        want = b(x.repeat(4, *([1] * (x.dim() - 1))))[: shape[0]]
        got = repeated_batch_norm(a, x, 4)
        torch.testing.assert_close(got, want)
    for (k, u), v in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(u, v, msg=k)
    a.eval()
    assert torch.equal(repeated_batch_norm(a, x, 4), a(x))


def test_a_hoisted_region_trains_its_norms_as_the_repeated_image():
    hoisted = snndsl.compile_source(STATIC, "m.snn")
    plain = snndsl.compile_source(STATIC, "m.snn", disable=["hoist-static"])
    plain.load_state_dict(hoisted.state_dict())
    marked = {n.path for n in hoisted.snn_ir.nodes() if getattr(n.op, "time_repeated", False)}
    assert marked == {"bn"}  # bn1 follows a neuron: not in the static region
    assert not any(getattr(n.op, "time_repeated", False) for n in plain.snn_ir.nodes())
    hoisted.train()
    plain.train()
    x = torch.rand(3, 3, 8, 8) * 2
    for _ in range(2):
        torch.testing.assert_close(hoisted(x, T=4), plain(x, T=4))
    for (k, u), v in zip(hoisted.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(u, v, msg=k)
