"""The channels-last pass on tokens: pointwise ``Conv1d`` and ``BatchNorm1d`` on ``[C, L]``
run on ``[N, L, C]`` memory (``fused.pointwise_conv1d``, ``fused.tokens_batch_norm``).
The rewritten model equals the one compiled without the pass to float rounding (outputs
and gradients, train and eval) and has the same ``state_dict`` keys."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snndsl
from snndsl.ir import ops
from snndsl.runtime import fused

from ..conftest import EXAMPLES

TOKENS = """
model Tokens() {
    input x: [8, 4, 4]
    t = x -> stem: Conv2d(8, 16, 3, padding=1) -> sn0: LIF() -> Reshape(16, -1)
    u = t -> pw: Conv1d(16, 24, 1, bias=false) -> bn: BatchNorm1d(24) -> sn1: LIF()
    w = u -> wide: Conv1d(24, 16, 3, padding=1) -> bn2: BatchNorm1d(16) -> sn2: LIF()
    return add(w -> pw2: Conv1d(16, 16, kernel_size=1) -> sn3: LIF(), t) -> Mean(-1) -> head: Linear(16, 3)
}
"""


def _pair(text: str, name: str, params: dict | None = None):
    torch.manual_seed(0)
    fast = snndsl.compile_source(text, name, params=params)
    plain = snndsl.compile_source(text, name, params=params, disable=("channels-last",))
    with torch.no_grad():
        for p in fast.parameters():
            if p.dim() > 1:
                p.mul_(3.0)
    plain.load_state_dict(fast.state_dict(), strict=True)
    return fast, plain


def _ops(net) -> dict[str, ops.Op]:
    return {n.path: n.op for n in net.snn_ir.nodes()}


def test_pointwise_conv1d_and_its_norm_are_marked_and_others_not():
    fast, plain = _pair(TOKENS, "tokens.snn")
    marked = _ops(fast)
    assert marked["pw"].weight_layout is ops.Layout.CHANNELS_LAST
    assert marked["pw2"].weight_layout is ops.Layout.CHANNELS_LAST
    assert marked["bn"].layout is ops.Layout.CHANNELS_LAST
    assert marked["wide"].weight_layout is ops.Layout.CONTIGUOUS  # kernel 3: a real convolution
    assert marked["bn2"].layout is ops.Layout.CONTIGUOUS  # in a region without a pointwise layer
    assert all(
        op.weight_layout is ops.Layout.CONTIGUOUS
        for op in _ops(plain).values()
        if isinstance(op, ops.Conv)
    )
    src = snndsl.emit_python(TOKENS, "tokens.snn")
    assert "fused.pointwise_conv1d(self.pw, " in src and "fused.tokens_batch_norm(self.bn, " in src
    assert "fused.pointwise_conv1d(self.wide" not in src


def test_state_dict_keys_and_shapes_are_unchanged():
    fast, plain = _pair(TOKENS, "tokens.snn")
    assert list(fast.state_dict()) == list(plain.state_dict())
    assert all(fast.state_dict()[k].shape == v.shape for k, v in plain.state_dict().items())


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_outputs_and_gradients_equal_the_unrewritten_model(train):
    """In float64, so that no spike flips between the two orders of summation."""
    fast, plain = _pair(TOKENS, "tokens.snn")
    x = (
        torch.rand(3, 4, 8, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        * 2
    )
    results = []
    for net in (fast.double(), plain.double()):
        net.train(train)
        xi = x.clone().requires_grad_()
        out = net(xi)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)).sum().backward()
        results.append(
            (
                out.detach(),
                xi.grad,
                {k: p.grad for k, p in net.named_parameters()},
                {k: b.clone() for k, b in net.named_buffers()},
            )
        )
    (o1, x1, p1, b1), (o2, x2, p2, b2) = results
    torch.testing.assert_close(o1, o2, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(x1, x2, rtol=1e-9, atol=1e-12)
    for k in p2:
        torch.testing.assert_close(p1[k], p2[k], rtol=1e-9, atol=1e-12, msg=k)
    for k in b2:  # the running statistics move the same way in training
        torch.testing.assert_close(b1[k], b2[k], msg=k)


def test_spikformer_float32_outputs_and_gradients_within_rounding():
    """The bench's model in float32, eval and train: equal within float tolerance."""
    fast, plain = _pair(
        (EXAMPLES / "spikformer.snn").read_text(),
        "spikformer.snn",
        params={"dim": 32, "heads": 2, "depth": 1},
    )
    x = torch.rand(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    for train in (False, True):
        grads = []
        for net in (fast, plain):
            net.train(train)
            net.zero_grad(set_to_none=True)
            out = net(x)
            out.sum().backward()
            grads.append((out.detach(), [p.grad for p in net.parameters()]))
        (o1, g1), (o2, g2) = grads
        torch.testing.assert_close(o1, o2, rtol=1e-4, atol=1e-4)
        for a, b in zip(g1, g2, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_tokens_from_a_channels_last_stem_are_read_without_a_copy():
    fast, _ = _pair(TOKENS, "tokens.snn")
    conv2d = torch.nn.functional.conv2d
    inputs = []

    def spy(x, *args, **kwargs):
        inputs.append(x)
        return conv2d(x, *args, **kwargs)

    try:
        torch.nn.functional.conv2d = spy
        fast(torch.rand(2, 3, 8, 4, 4))
    finally:
        torch.nn.functional.conv2d = conv2d
    pointwise = [x for x in inputs if x.shape[2] == 1]  # [T*N, C, 1, L]
    assert len(pointwise) == 2 and pointwise[0].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("tokens_last", [False, True])
def test_fused_helpers_equal_the_modules(tokens_last):
    torch.manual_seed(0)
    conv, bn = nn.Conv1d(6, 5, 1).double(), nn.BatchNorm1d(5).double()
    ref_conv, ref_bn = nn.Conv1d(6, 5, 1).double(), nn.BatchNorm1d(5).double()
    ref_conv.load_state_dict(conv.state_dict()), ref_bn.load_state_dict(bn.state_dict())
    x = (
        torch.randn(4, 7, 6, dtype=torch.float64).transpose(1, 2)
        if tokens_last
        else torch.randn(4, 6, 7, dtype=torch.float64)
    )
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    y = fused.tokens_batch_norm(bn, fused.pointwise_conv1d(conv, xa))
    ref = ref_bn(ref_conv(xb))
    torch.testing.assert_close(y, ref)
    assert y.transpose(1, 2).is_contiguous()  # channels-last tokens out
    g = torch.randn_like(ref)
    y.backward(g), ref.backward(g)
    torch.testing.assert_close(xa.grad, xb.grad)
    torch.testing.assert_close(conv.weight.grad, ref_conv.weight.grad)
    torch.testing.assert_close(bn.weight.grad, ref_bn.weight.grad)
    torch.testing.assert_close(bn.running_var, ref_bn.running_var)
    assert int(bn.num_batches_tracked) == 1
