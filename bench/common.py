"""Shared helpers of the benchmarks: arguments, interleaved timing, ratio lines.

Every benchmark compares two (or more) implementations of the same network in one
process. Timings drift on a shared machine, so the cases are run *interleaved*: each
round runs every case once, in an order that rotates from round to round, and the
figure for a case is the median over the rounds after warm-up. Ratios of such medians
are far steadier than the absolute times, which is why the scripts print ratio lines::

    csnn train: snndsl 41.2 ms, spikingjelly 70.3 ms, speedup 1.71x
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MODELS = BENCH / "models"
EXAMPLES = ROOT / "examples"

for _p in (str(BENCH), str(ROOT)):  # `python bench/x.py` from a clean checkout works
    if _p not in sys.path:
        sys.path.insert(0, _p)


def parser(description: str, torch_compile: bool = False) -> argparse.ArgumentParser:
    """The common flags; ``torch_compile``: also ``--torch-compile`` (csnn, resnet)."""
    p = argparse.ArgumentParser(description=description)
    if torch_compile:
        p.add_argument(
            "--torch-compile",
            action="store_true",
            help="also time compile_file(..., torch_compile=True) against the plain model",
        )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--quick", action="store_true", help="tiny sizes and one round (smoke test)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 7; quick: 1)")
    p.add_argument(
        "--warmup", type=int, default=None, help="untimed rounds first (default 2; quick: 0)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads (default: torch's choice, all cores)",
    )
    return p


def setup(args: argparse.Namespace) -> torch.device:
    """Apply the common arguments; return the device."""
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    if args.warmup is None:
        args.warmup = 0 if args.quick else 2
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    torch.manual_seed(0)
    return torch.device(args.device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    cases: Mapping[str, Callable[[], object]], repeats: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Median seconds per call of each case, the cases run interleaved in rotating order."""
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            sync(device)
            t0 = time.perf_counter()
            cases[name]()
            sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {n: statistics.median(v) for n, v in times.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def ratio_line(
    label: str,
    ours: float,
    theirs: float,
    ours_name: str = "snndsl",
    theirs_name: str = "spikingjelly",
) -> str:
    """``label: snndsl 41.2 ms, spikingjelly 70.3 ms, speedup 1.71x``, printed and returned."""
    line = (
        f"{label}: {ours_name} {ms(ours)}, {theirs_name} {ms(theirs)}, speedup {theirs / ours:.2f}x"
    )
    print(line, flush=True)
    return line


def machine(device: torch.device) -> str:
    """One line saying where the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    ]
    try:
        import spikingjelly

        parts.append(f"spikingjelly {getattr(spikingjelly, '__version__', '2.0.0')}")
    except ImportError:
        parts.append("spikingjelly missing")
    if device.type == "cuda":
        parts.append(torch.cuda.get_device_name(device))
    if hasattr(os, "getloadavg"):
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    return "; ".join(parts)


def header(name: str, args: argparse.Namespace, device: torch.device) -> None:
    print(
        f"# {name} on {device.type}: {machine(device)}; median of {args.repeats} interleaved "
        f"rounds after {args.warmup} warm-up{' (quick)' if args.quick else ''}",
        flush=True,
    )


def strengthen(net: torch.nn.Module, factor: float = 3.0) -> None:
    """Scale the weights so that every layer spikes (default init leaves deep layers silent)."""
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.mul_(factor)


def reset_sj(net: torch.nn.Module) -> None:
    from spikingjelly.activation_based import functional

    functional.reset_net(net)


def train_step(
    net: torch.nn.Module, x: torch.Tensor, reset: Callable[[], None] | None = None, **kw: object
) -> Callable[[], None]:
    """A closure running forward + backward of ``net`` on ``x`` (gradients set to None first)."""

    def step() -> None:
        net.zero_grad(set_to_none=True)
        if reset is not None:
            reset()
        y = net(x, **kw)
        y.sum().backward()

    return step


def infer_step(
    net: torch.nn.Module, x: torch.Tensor, reset: Callable[[], None] | None = None, **kw: object
) -> Callable[[], None]:
    """A closure running ``net`` on ``x`` under ``no_grad``."""

    def step() -> None:
        with torch.no_grad():
            if reset is not None:
                reset()
            net(x, **kw)

    return step


def assert_same(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    """The two implementations compute the same thing (checked before any timing).

    On CPU both run the same float32 kernels, so a difference is a bug and stops the
    benchmark. On CUDA the two libraries' neuron kernels may round differently (a
    division by tau against a multiplication by 1/tau), which can flip a spike: the
    difference is printed as a note and the timings still run."""
    a, b = a.float(), b.float()
    if a.device.type == "cpu":
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=lambda m: f"{what}: {m}")
        return
    bad = ~torch.isclose(a, b, atol=1e-4, rtol=1e-4)
    if bad.any():
        print(
            f"# note: {what}: {int(bad.sum())} of {bad.numel()} outputs differ "
            f"(max abs difference {float((a - b).abs().max()):.3g})",
            flush=True,
        )


def compare(
    name: str,
    ours: torch.nn.Module,
    theirs: torch.nn.Module,
    x: torch.Tensor,
    args: argparse.Namespace,
    device: torch.device,
    naive: torch.nn.Module | None = None,
    ours_kw: Mapping[str, object] | None = None,
    theirs_kw: Mapping[str, object] | None = None,
    inference_opt: torch.nn.Module | None = None,
) -> dict[str, dict[str, float]]:
    """Check that ``ours`` and ``theirs`` agree, then time a training step and inference of
    each, interleaved; print one ratio line per comparison. Returns the medians.

    ``inference_opt``: the model compiled with ``-O inference`` (fold-batchnorm), timed
    in the inference rounds too."""
    ours_kw, theirs_kw = dict(ours_kw or {}), dict(theirs_kw or {})
    nets = {"snndsl": ours, "spikingjelly": theirs}
    if naive is not None:
        nets["naive per-step loop"] = naive
    opt_label = "snndsl -O inference"

    def reset_of(label: str) -> Callable[[], None] | None:
        return None if label == "snndsl" else (lambda: reset_sj(nets[label]))

    def kw_of(label: str) -> Mapping[str, object]:
        return ours_kw if label == "snndsl" else theirs_kw

    for net in nets.values():
        net.eval()
    with torch.no_grad():
        ref = ours(x, **ours_kw)
        for label, net in nets.items():
            if label != "snndsl":
                reset_sj(net)
                assert_same(ref, net(x, **kw_of(label)), f"{name}: snndsl vs {label} (eval)")
        if inference_opt is not None:
            inference_opt.load_state_dict(ours.state_dict())
            inference_opt.eval()
            assert_same(ref, inference_opt(x, **ours_kw), f"{name}: snndsl vs {opt_label} (eval)")
    results: dict[str, dict[str, float]] = {}
    for mode in ("train", "inference"):
        make = train_step if mode == "train" else infer_step
        for net in nets.values():
            net.train(mode == "train")
        cases = {
            label: make(net, x, reset_of(label), **kw_of(label)) for label, net in nets.items()
        }
        if mode == "inference" and inference_opt is not None:
            cases[opt_label] = make(inference_opt, x, None, **ours_kw)
        med = time_interleaved(cases, args.repeats, args.warmup, device)
        results[mode] = med
        for label in nets:
            if label != "snndsl":
                ratio_line(f"{name} {mode}", med["snndsl"], med[label], theirs_name=label)
        if opt_label in med:
            ratio_line(f"{name} inference -O inference", med[opt_label], med["spikingjelly"],
                       ours_name=opt_label)  # fmt: skip
    return results


def torch_compiled(
    name: str,
    build: Callable[[], torch.nn.Module],
    ref: torch.nn.Module,
    x: torch.Tensor,
    args: argparse.Namespace,
    device: torch.device,
    kw: Mapping[str, object] | None = None,
) -> None:
    """The opt-in ``compile_file(..., torch_compile=True)`` against the plain compiled model:
    the one-off compilation time, then the speedup of each mode."""
    kw = dict(kw or {})
    compiled = build()
    plain = getattr(compiled, "_orig_mod", compiled)
    for mode in ("inference", "train"):
        make = train_step if mode == "train" else infer_step
        compiled.train(mode == "train")
        ref.train(mode == "train")
        plain.load_state_dict(ref.state_dict())
        t0 = time.perf_counter()
        make(compiled, x, None, **kw)()  # the first call compiles
        sync(device)
        print(
            f"{name} {mode} torch.compile: first call (compilation) {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        plain.load_state_dict(ref.state_dict())  # same BatchNorm statistics for the check
        with torch.set_grad_enabled(mode == "train"):
            a, b = compiled(x, **kw), ref(x, **kw)
        if mode == "train":  # Inductor sums BatchNorm's batch statistics in another order:
            bad = (a.detach() != b.detach()).float().mean().item()  # a few spikes may flip
            print(f"# note: {name}: torch.compile vs plain (train): {bad:.2%} of outputs differ",
                  flush=True)  # fmt: skip
        else:
            assert_same(a.detach(), b.detach(), f"{name}: torch.compile vs plain ({mode})")
        cases = {"compiled": make(compiled, x, None, **kw), "plain": make(ref, x, None, **kw)}
        med = time_interleaved(cases, args.repeats, args.warmup, device)
        ratio_line(
            f"{name} {mode} torch.compile",
            med["compiled"],
            med["plain"],
            ours_name="snndsl+torch.compile",
            theirs_name="snndsl",
        )
