"""Spikformer at 32x32: ``examples/spikformer.snn`` against SpikingJelly's own
``model.spikformer.Spikformer`` of the same size, on the same weights, in one process.

Embed 256, 4 heads, depth 2, patch 4, T=4, N=8 (the figures of issue #16); a training
step (forward and backward) and inference (``no_grad``, eval) are timed, interleaved.
The peak memory of a training step is measured by ``bench/memory.py --models spikformer``::

    python bench/transformer.py [--device cuda] [--quick] [--threads 1]
"""

from __future__ import annotations

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
        med = time_interleaved({"snndsl": make(nhwc, x, None), "spikingjelly": make(sj, x, lambda: reset_sj(sj))},
                               args.repeats, args.warmup, device)
        ratio_line(f"spikformer {mode} (channels-last)", med["snndsl"], med["spikingjelly"])


if __name__ == "__main__":
    main()
