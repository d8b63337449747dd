"""Spiking transformers written in `.snn`, proven equal to SpikingJelly 2.0.0's own models
(issue #16): `examples/spikformer.snn` is `model.spikformer.Spikformer` and
`examples/spike_driven_transformer.snn` is `model.spike_driven_transformer.SpikeDrivenTransformer`
and `examples/qkformer.snn` is `model.qkformer.QKFormer` (those two average over T before
their affine head: the compiled model's output is averaged over T here, equal up to
rounding). The zoo model's
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


def spike_driven_transformer() -> torch.nn.Module:
    from spikingjelly.activation_based.model.spike_driven_transformer import SpikeDrivenTransformer

    return SpikeDrivenTransformer(T=T, in_channels=3, num_classes=10, embed_dims=64, num_heads=2, depths=1,
                                  mlp_ratio=4.0, pooling_stat="0011")


def qkformer() -> torch.nn.Module:
    from spikingjelly.activation_based.model.qkformer import QKFormer

    return QKFormer(T=T, in_channels=3, num_classes=10, embed_dims=64, num_heads=(1, 2, 2), depths=(1, 1, 1),
                    mlp_ratio=4.0, qka_type="token")


#: example -> (the zoo model, number of neuron layers, whether the zoo averages over T)
CASES = {
    "spikformer.snn": (spikformer, 10, False),
    "spike_driven_transformer.snn": (spike_driven_transformer, 12, True),
    "qkformer.snn": (qkformer, 25, True),
}


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
@pytest.mark.parametrize("name", list(CASES))
def test_transformer_equals_spikingjelly(name: str, train: bool) -> None:
    make, layers, time_mean = CASES[name]
    gen = torch.Generator().manual_seed(0)
    sj = make()
    _strengthen(sj, gen)
    if name == "qkformer.snn":  # 2x2 tokens: train-mode statistics leave the last attention silent
        with torch.no_grad():
            sj.stage3[0].attn.qkv_conv_bn[1].bias.fill_(1.0)
    ours = snndsl.compile_file(EXAMPLES / name)
    # the same keys; QKFormer registers its patch embeddings before its stages (order is
    # irrelevant to a strict load), the others in the order of the computation
    assert sorted(ours.state_dict()) == sorted(sj.state_dict())
    ours.load_state_dict(sj.state_dict(), strict=True)
    sj.train(train)
    ours.train(train)
    x = torch.rand(T, N, 3, 32, 32, generator=gen)
    xs, xo = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    probe = copy.deepcopy(sj)  # its BatchNorm statistics move; sj's must move once
    rates = _rates(probe, lambda: (functional.reset_net(probe), probe(x)))
    # every layer fires; all but QKFormer's token masks (a sum of 16 or 32 query spikes
    # against a threshold of 0.5: always reached with these weights) also stay silent somewhere
    assert len(rates) == layers and all(0.0 < r <= 1.0 for r in rates.values()), rates
    assert all(r < 1.0 for p, r in rates.items() if not (name == "qkformer.snn" and p.endswith("attn_lif"))), rates
    functional.reset_net(sj)
    ys = sj(xs)
    yo = ours(xo)
    assert yo.shape == (T, N, 10)
    if time_mean:
        yo = yo.mean(0)
    assert ys.shape == yo.shape
    torch.testing.assert_close(yo, ys, rtol=1e-5, atol=1e-5)
    g = torch.randn(ys.shape, generator=gen)
    ys.backward(g)
    yo.backward(g)
    # averaging over T after the head instead of before rounds differently: 1e-5 there
    torch.testing.assert_close(xo.grad, xs.grad, rtol=1e-4, atol=1e-5 if time_mean else 1e-6)
    sj_params = dict(sj.named_parameters())
    for pname, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, sj_params[pname].grad, rtol=1e-4, atol=1e-5, msg=pname)
    if train:
        sj_buffers = dict(sj.named_buffers())
        for bname, b in ours.named_buffers():
            torch.testing.assert_close(b, sj_buffers[bname], msg=bname)
