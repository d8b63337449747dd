"""Spikformer at 32x32: ``examples/spikformer.snn`` against SpikingJelly's own
``model.spikformer.Spikformer`` of the same size, on the same weights, in one process.

Embed 256, 4 heads, depth 2, patch 4, T=4, N=8 (the figures of issue #16); a training
step (forward and backward) and inference (``no_grad``, eval) are timed, interleaved.
The training step is also timed against its **convolutions alone** (every Conv2d/Conv1d
of the step, forward and backward, at the shapes SpikingJelly's model feeds them, in
snndsl's layouts): the step that snndsl cannot go below, and so the best speedup any
rewrite of the rest could give. The peak memory of a training step is measured by
``bench/memory.py --models spikformer``::

    python bench/transformer.py [--device cuda] [--quick] [--threads 1]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import (
    ROOT,
    compare,
    header,
    infer_step,
    parser,
    ratio_line,
    reset_sj,
    setup,
    time_interleaved,
    train_step,
)
from torch import nn
from torch.nn import functional as F

import snndsl

EXAMPLE = ROOT / "examples" / "spikformer.snn"


def build(dim: int, heads: int, depth: int, T: int, device: torch.device, channels_last: bool = True):
    from spikingjelly.activation_based.model.spikformer import Spikformer

    sj = Spikformer(T=T, in_channels=3, img_size_h=32, img_size_w=32, patch_size=4, num_classes=10,
                    embed_dims=dim, num_heads=heads, mlp_ratio=4.0, depths=depth)
    with torch.no_grad():  # the default init (std 0.02) fires nothing: scale the weights up
        for p in sj.parameters():
            if p.dim() > 1:
                p.mul_(25.0)
    net = snndsl.compile_file(EXAMPLE, params={"dim": dim, "heads": heads, "depth": depth},
                              disable=() if channels_last else ("channels-last",))
    net.load_state_dict(sj.state_dict(), strict=True)
    return net.to(device), sj.to(device)


def conv_floor(sj: torch.nn.Module, x: torch.Tensor, channels_last: bool) -> Callable[[], None]:
    """A closure running forward + backward of every convolution of ``sj``'s step on random
    spikes of the shapes they see (the image's convolution without an input gradient).
    ``channels_last``: snndsl's layouts (NHWC, pointwise Conv1d as a 1x1 Conv2d on
    channels-last tokens, ``fused.pointwise_conv1d``); otherwise SpikingJelly's."""
    seen: list[tuple[nn.Module, torch.Size]] = []
    convs = [m for m in sj.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]
    hooks = [m.register_forward_pre_hook(lambda m, a: seen.append((m, a[0].shape))) for m in convs]
    with torch.no_grad():
        reset_sj(sj)
        sj(x)
    for h in hooks:
        h.remove()
    work = []
    for i, (m, shape) in enumerate(seen):
        sample = tuple(shape[-(m.weight.dim() - 1):])  # [C, H, W] or [C, L]
        xi = (torch.rand(shape.numel() // math.prod(sample), *sample, device=x.device) < 0.3).float()
        w = m.weight.detach().clone()
        conv, pad = (F.conv2d, m.padding) if isinstance(m, nn.Conv2d) else (F.conv1d, m.padding)
        g = torch.randn_like(conv(xi, w, padding=pad))
        if channels_last and isinstance(m, nn.Conv2d):
            xi, w, g = (t.contiguous(memory_format=torch.channels_last) for t in (xi, w, g))
        elif channels_last and m.kernel_size == (1,):  # [B, C, L] as channels-last [B, C, 1, L] tokens
            xi, g = (t.transpose(1, 2).contiguous().transpose(1, 2).unsqueeze(2) for t in (xi, g))
            w, conv, pad = w.unsqueeze(-1), F.conv2d, 0
        xi.requires_grad_(i > 0)
        w.requires_grad_()
        work.append(lambda xi=xi, w=w, g=g, conv=conv, pad=pad: conv(xi, w, padding=pad).backward(g))

    def run() -> None:
        for f in work:
            f()

    return run


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    device = setup(args)
    dim, heads, depth, T, N = (64, 2, 1, 2, 2) if args.quick else (256, 4, 2, 4, 8)
    header(f"transformer: Spikformer 32x32 (embed {dim}, {heads} heads, depth {depth}, T={T}, N={N})",
           args, device)
    # NCHW: bit for bit SpikingJelly's computation, so the check before timing is exact (with
    # NHWC convolutions a potential within a rounding error of the threshold can flip a spike)
    net, sj = build(dim, heads, depth, T, device, channels_last=False)
    x = torch.rand(T, N, 3, 32, 32, device=device)
    opt = snndsl.compile_file(EXAMPLE, params={"dim": dim, "heads": heads, "depth": depth},
                              disable=("channels-last",), optimize="inference").to(device)
    compare("spikformer", net, sj, x, args, device, inference_opt=opt)
    # the default compilation (channels-last convolutions): not bit for bit SpikingJelly's
    # rounding, so timed on its own against SpikingJelly (same weights)
    nhwc = snndsl.compile_file(EXAMPLE, params={"dim": dim, "heads": heads, "depth": depth}).to(device)
    nhwc.load_state_dict(net.state_dict())
    for mode in ("train", "inference"):
        make = train_step if mode == "train" else infer_step
        for m in (nhwc, sj):
            m.train(mode == "train")
        cases = {"snndsl": make(nhwc, x, None), "spikingjelly": make(sj, x, lambda: reset_sj(sj))}
        if mode == "train":
            cases["convolutions"] = conv_floor(sj, x, channels_last=True)
        med = time_interleaved(cases, args.repeats, args.warmup, device)
        ratio_line(f"spikformer {mode} (channels-last)", med["snndsl"], med["spikingjelly"])
        if mode == "train":
            ratio_line("spikformer train: its convolutions alone (the floor)", med["convolutions"],
                       med["spikingjelly"], ours_name="convolutions")


if __name__ == "__main__":
    main()
