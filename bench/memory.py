"""Peak memory of a training step: the compiled models against SpikingJelly.

On CPU the peak is the growth of the process's resident set during one forward and
backward pass: before each measurement freed memory is returned to the system
(``malloc_trim``) and the kernel's high-water mark is reset (``/proc/self/clear_refs``),
then ``VmHWM - VmRSS`` is read after the step (Linux only). On CUDA it is
``torch.cuda.max_memory_allocated`` above the memory allocated before the step. The
models are measured alternately, a few rounds each after a warm-up step, and the
median is reported::

    python bench/memory.py [--device cuda] [--quick] [--models csnn,resnet,static,spikformer]
"""

from __future__ import annotations

import ctypes
import gc
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import EXAMPLES, MODELS, header, parser, reset_sj, setup

import snndsl

MiB = 1 << 20


def _status(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    assert m is not None, key
    return int(m.group(1)) * 1024


def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: freed memory may stay mapped, which only lowers the figures
        pass


def peak_bytes(step: Callable[[], None], device: torch.device) -> int:
    """Memory used by ``step`` above what was in use before it."""
    _trim()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current RSS
    base = _status("VmRSS")
    step()
    return _status("VmHWM") - base


def train_once(
    net: torch.nn.Module, x: torch.Tensor, reset: Callable[[], None] | None, **kw: object
) -> Callable[[], None]:
    def step() -> None:
        net.zero_grad(set_to_none=True)
        if reset is not None:
            reset()
        net(x, **kw).sum().backward()

    return step


def cases(
    name: str, quick: bool, device: torch.device
) -> tuple[dict[str, Callable[[], None]], str]:
    from models import twins

    if name == "csnn":
        T, N, C = (2, 2, 8) if quick else (8, 16, 64)
        ours = snndsl.compile_file(EXAMPLES / "csnn.snn", params={"channels": C})
        sj: torch.nn.Module = twins.CSNN(C)
        x = torch.rand(T, N, 1, 28, 28, device=device)
        kw: dict[str, object] = {}
    elif name == "resnet":
        T, N, C = (2, 2, 8) if quick else (4, 8, 64)
        ours = snndsl.compile_file(MODELS / "sew_resnet18.snn", params={"c": C})
        sj = twins.SEWResNet18(C)
        x = torch.rand(T, N, 3, 32, 32, device=device)
        kw = {}
    elif name == "static":
        T, N, C = (2, 2, 8) if quick else (8, 16, 32)
        ours = snndsl.compile_file(EXAMPLES / "static_image.snn", params={"c": C})
        sj = twins.StaticCIFAR(C)
        x = torch.rand(N, 3, 32, 32, device=device)
        kw = {"T": T}
    elif name == "spikformer":  # SpikingJelly's own model (bench/transformer.py)
        from transformer import build

        T, N = (2, 2) if quick else (4, 8)
        dim, heads, depth = (64, 2, 1) if quick else (256, 4, 2)
        C = dim
        ours, sj = build(dim, heads, depth, T, device, channels_last=False)
        x = torch.rand(T, N, 3, 32, 32, device=device)
        kw = {}
    else:
        raise SystemExit(f"unknown model {name!r}: choose from csnn, resnet, static, spikformer")
    sj.load_state_dict(ours.state_dict(), strict=True)
    ours, sj = ours.to(device).train(), sj.to(device).train()
    return (
        {
            "snndsl": train_once(ours, x, None, **kw),
            "spikingjelly": train_once(sj, x, lambda: reset_sj(sj), **kw),
        },
        f"T={T}, N={N}, width={C}",
    )


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--models", default="csnn,resnet,static")
    p.add_argument("--verbose", action="store_true", help="print every round's figure")
    args = p.parse_args(argv)
    device = setup(args)
    if device.type == "cpu" and not Path("/proc/self/clear_refs").exists():
        raise SystemExit("memory.py measures CPU memory through /proc (Linux only)")
    rounds = 1 if args.quick else max(3, min(args.repeats, 5))
    args.repeats, args.warmup = rounds, 1
    header("memory", args, device)
    for name in args.models.split(","):
        steps, sizes = cases(name, args.quick, device)
        for step in steps.values():  # warm-up: one-off caches (oneDNN, autograd) are not counted
            step()
        got: dict[str, list[int]] = {k: [] for k in steps}
        for r in range(rounds):
            order = list(steps) if r % 2 == 0 else list(reversed(steps))
            for k in order:
                got[k].append(peak_bytes(steps[k], device))
        ours, theirs = (statistics.median(got[k]) for k in ("snndsl", "spikingjelly"))
        if args.verbose:
            print({k: [round(b / MiB, 1) for b in v] for k, v in got.items()})
        print(
            f"memory {name} train ({sizes}): snndsl {ours / MiB:.1f} MiB, spikingjelly "
            f"{theirs / MiB:.1f} MiB, ratio {ours / theirs:.2f}x (goal <= 1)",
            flush=True,
        )
        del steps
        _trim()


if __name__ == "__main__":
    main()
