"""Spiking transformers written in `.snn`, proven equal to SpikingJelly 2.0.0's own models
(issue #16): `examples/spikformer.snn` is `model.spikformer.Spikformer`. The zoo model's
state_dict loads into the compiled model with strict=True (same keys, same shapes);
outputs, input gradients and every parameter gradient agree in train and eval mode,
multi-step, with the weights strengthened so that every neuron layer fires."""

from __future__ import annotations

import copy

import pytest
import torch

import snndsl

from ..conftest import EXAMPLES

pytest.importorskip("spikingjelly.activation_based")
from spikingjelly.activation_based import functional, neuron  # noqa: E402

T, N = 2, 2


def spikformer() -> torch.nn.Module:
    from spikingjelly.activation_based.model.spikformer import Spikformer

    return Spikformer(T=T, in_channels=3, img_size_h=32, img_size_w=32, patch_size=4, num_classes=10,
                      embed_dims=64, num_heads=2, mlp_ratio=4.0, depths=1)


def _strengthen(net: torch.nn.Module, gen: torch.Generator) -> None:
    """Spikformer's init (std 0.02) fires nothing: give the convolutions and the norms
    weights that drive every layer, the same for both models."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (2.5 / fan_in ** 0.5))
            elif name.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.4)
            else:
                p.copy_(1.0 + torch.rand(p.shape, generator=gen))
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))


def _rates(net: torch.nn.Module, run) -> dict[str, float]:
    rates: dict[str, float] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, p=p: rates.__setitem__(p, float(o.detach().float().mean())))
             for p, m in net.named_modules() if isinstance(m, neuron.LIFNode)]
    run()
    for h in hooks:
        h.remove()
    return rates


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_spikformer_equals_spikingjelly(train: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    sj = spikformer()
    _strengthen(sj, gen)
    ours = snndsl.compile_file(EXAMPLES / "spikformer.snn")
    assert list(ours.state_dict()) == list(sj.state_dict())
    ours.load_state_dict(sj.state_dict(), strict=True)
    sj.train(train)
    ours.train(train)
    x = torch.rand(T, N, 3, 32, 32, generator=gen)
    xs, xo = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    probe = copy.deepcopy(sj)  # its BatchNorm statistics move; sj's must move once
    rates = _rates(probe, lambda: (functional.reset_net(probe), probe(x)))
    assert len(rates) == 10 and all(0.0 < r < 1.0 for r in rates.values()), rates
    functional.reset_net(sj)
    ys = sj(xs)
    yo = ours(xo)
    assert ys.shape == yo.shape == (T, N, 10)
    torch.testing.assert_close(yo, ys, rtol=1e-5, atol=1e-5)
    g = torch.randn(ys.shape, generator=gen)
    ys.backward(g)
    yo.backward(g)
    torch.testing.assert_close(xo.grad, xs.grad, rtol=1e-4, atol=1e-6)
    sj_params = dict(sj.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, sj_params[name].grad, rtol=1e-4, atol=1e-5, msg=name)
    if train:
        sj_buffers = dict(sj.named_buffers())
        for name, b in ours.named_buffers():
            torch.testing.assert_close(b, sj_buffers[name], msg=name)
