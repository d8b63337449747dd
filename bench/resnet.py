"""SEW-ResNet-18 at 32x32: the compiled model against SpikingJelly on the same weights.

The network is ``bench/models/sew_resnet18.snn`` (CIFAR-style stem, four stages of two
basic blocks, ADD connect, IF neurons) at T=4, N=8. It is compared with the same
network written by hand with SpikingJelly 2.0.0 ``layer.*`` in multi-step mode
(``bench/models/twins.py``), and with that network run naively one step per call.
Both a training step (forward and backward) and inference (``no_grad``, eval) are timed::

    python bench/resnet.py [--device cuda] [--quick] [--torch-compile]
"""

from __future__ import annotations

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import MODELS, compare, header, parser, setup, torch_compiled

import snndsl


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0], torch_compile=True)
    p.add_argument(
        "--no-naive", action="store_true", help="skip the per-step loop (the slowest case)"
    )
    args = p.parse_args(argv)
    device = setup(args)
    from models import twins

    T, N, C = (2, 2, 8) if args.quick else (4, 8, 64)
    header(f"resnet: SEW-ResNet-18 32x32 (T={T}, N={N}, width={C})", args, device)

    def build(**kw: object) -> torch.nn.Module:
        return snndsl.compile_file(MODELS / "sew_resnet18.snn", params={"c": C}, **kw).to(device)

    net = build()
    sj = twins.SEWResNet18(C).to(device)
    sj.load_state_dict(net.state_dict(), strict=True)
    naive = None
    if not args.no_naive:
        naive = twins.PerStepLoop(twins.SEWResNet18(C)).to(device)
        naive.net.load_state_dict(net.state_dict(), strict=True)
    x = torch.rand(T, N, 3, 32, 32, device=device)
    compare("resnet", net, sj, x, args, device, naive=naive,
            inference_opt=build(optimize="inference"))
    if args.torch_compile:
        torch_compiled("resnet", lambda: build(torch_compile=True), net, x, args, device)


if __name__ == "__main__":
    main()
