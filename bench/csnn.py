"""CSNN for 28x28 images: the compiled model against SpikingJelly on the same weights.

The network is ``examples/csnn.snn`` (Conv-BN-LIF-MaxPool x 2, Flatten, Linear-LIF x 2;
64 channels) at T=8, N=16. It is compared with the same network written by hand with
SpikingJelly 2.0.0 ``layer.*`` in multi-step mode (``bench/models/twins.py``), and with
that network run naively, one time step per call. Both a training step (forward and
backward) and inference (``no_grad``, eval mode) are timed::

    python bench/csnn.py [--device cuda] [--quick] [--torch-compile]
"""

from __future__ import annotations

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import EXAMPLES, compare, header, parser, setup, strengthen, torch_compiled

import snndsl


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0], torch_compile=True)
    args = p.parse_args(argv)
    device = setup(args)
    from models import twins

    T, N, C = (2, 2, 8) if args.quick else (8, 16, 64)
    header(f"csnn (T={T}, N={N}, channels={C})", args, device)

    def build(**kw: object) -> torch.nn.Module:
        return snndsl.compile_file(EXAMPLES / "csnn.snn", params={"channels": C}, **kw).to(device)

    net = build()
    strengthen(net, 6.0)  # so that every layer spikes (output rate about 17%)
    sj = twins.CSNN(C).to(device)
    sj.load_state_dict(net.state_dict(), strict=True)
    naive = twins.PerStepLoop(twins.CSNN(C)).to(device)
    naive.net.load_state_dict(net.state_dict(), strict=True)
    x = torch.rand(T, N, 1, 28, 28, device=device)
    compare("csnn", net, sj, x, args, device, naive=naive,
            inference_opt=build(optimize="inference"))
    if args.torch_compile:
        torch_compiled("csnn", lambda: build(torch_compile=True), net, x, args, device)


if __name__ == "__main__":
    main()
