"""Hoist-static: the first stateless region of a static-image model runs once, not T times.

``examples/static_image.snn`` declares its input ``static``: the caller passes the image
once as ``[N, ...]`` with ``T=``, and the ``hoist-static`` pass runs the encoder
(Conv-BN) once on ``[N, ...]`` and broadcasts the result over ``T`` without a copy. This
script counts the rows the encoder convolution sees, then times the model with the
pass, without it (``disable=["hoist-static"]``: the encoder runs on ``[T*N, ...]``) and
the SpikingJelly twin fed the image repeated ``T`` times, as SpikingJelly users do::

    python bench/static.py [--device cuda] [--quick]
"""

from __future__ import annotations

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import (
    EXAMPLES,
    assert_same,
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


def encoder_rows(net: torch.nn.Module, x: torch.Tensor, T: int) -> int:
    """How many images the encoder convolution processed in one call."""
    rows: list[int] = []
    handle = net.get_submodule("encoder").register_forward_hook(
        lambda m, args, out: rows.append(args[0].shape[0])
    )
    try:
        with torch.no_grad():
            net(x, T=T)
    finally:
        handle.remove()
    return sum(rows)


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    device = setup(args)
    from models import twins

    T, N, C = (2, 2, 8) if args.quick else (8, 16, 32)
    header(f"static: static_image.snn 32x32 (T={T}, N={N}, c={C})", args, device)
    path = EXAMPLES / "static_image.snn"
    hoisted = snndsl.compile_file(path, params={"c": C}).to(device)
    plain = snndsl.compile_file(path, params={"c": C}, disable=["hoist-static"]).to(device)
    plain.load_state_dict(hoisted.state_dict(), strict=True)
    sj = twins.StaticCIFAR(C).to(device)
    sj.load_state_dict(hoisted.state_dict(), strict=True)
    img = torch.rand(N, 3, 32, 32, device=device)

    nets = {"hoisted": hoisted, "plain": plain, "spikingjelly": sj}
    for net in nets.values():
        net.eval()
    with torch.no_grad():
        ref = hoisted(img, T=T)
        assert_same(ref, plain(img, T=T), "static: with vs without hoist-static (eval)")
        reset_sj(sj)
        assert_same(ref, sj(img, T), "static: snndsl vs spikingjelly (eval)")
    a, b = encoder_rows(hoisted, img, T), encoder_rows(plain, img, T)
    print(
        f"static encoder rows: with hoist-static {a}, without {b} (T*N = {T * N}), "
        f"{b / a:.0f}x fewer",
        flush=True,
    )

    for mode in ("train", "inference"):
        make = train_step if mode == "train" else infer_step
        for net in nets.values():
            net.train(mode == "train")
        cases = {
            "hoisted": make(hoisted, img, T=T),
            "plain": make(plain, img, T=T),
            "spikingjelly": make(sj, img, lambda: reset_sj(sj), T=T),
        }
        med = time_interleaved(cases, args.repeats, args.warmup, device)
        ratio_line(
            f"static {mode}",
            med["hoisted"],
            med["plain"],
            ours_name="snndsl",
            theirs_name="snndsl without hoist-static",
        )
        ratio_line(
            f"static {mode}",
            med["hoisted"],
            med["spikingjelly"],
            theirs_name="spikingjelly (image repeated T times)",
        )


if __name__ == "__main__":
    main()
