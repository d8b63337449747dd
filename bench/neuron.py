"""Benchmark: multi-step LIF forward + backward on CPU, snndsl vs SpikingJelly 2.0.0.

    python bench/neuron.py [--reps 9] [--T 8] [--shape 16 64 28 28] [--threads N]

Both neurons are ``LIFNode(step_mode='m')`` with their defaults (tau=2, hard reset to 0,
Sigmoid surrogate); SpikingJelly runs its default CPU path (a ``torch`` custom op with a
hand-written BPTT). One process, runs interleaved (snndsl, SpikingJelly, floor, ...),
medians of ``--reps`` after two warm-up rounds.

The *floor* is the memory traffic the operation cannot avoid: read ``x`` and write the
spikes (forward), read the spike gradient and write the input gradient (backward), i.e.
two copies of a ``[T, N, ...]`` float32 tensor, timed here as two ``copy_`` calls into
preallocated tensors (no allocation, no page faults).

The first line of the output names the implementation snndsl's neuron runs on
(``native``, ``aten`` or ``mirror``: see ``snndsl/runtime/kernels/__init__.py``;
``SNNDSL_CPU_KERNEL=aten`` selects ``aten``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--T", type=int, default=8)
    parser.add_argument("--shape", type=int, nargs="+", default=[16, 64, 28, 28])
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from spikingjelly.activation_based import neuron as sj_neuron

    from snndsl.runtime import kernels, neuron

    gen = torch.Generator().manual_seed(0)
    shape = (args.T, *args.shape)
    x = (torch.randn(shape, generator=gen) * 0.5 + 0.6).requires_grad_()
    grad = torch.randn(shape, generator=gen)
    ours, ref = neuron.LIFNode(step_mode="m"), sj_neuron.LIFNode(step_mode="m")

    def fwd_bwd(node: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            node.reset()
            x.grad = None
            node(x).backward(grad)

        return run

    src, dst = x.detach().clone(), torch.empty(shape)

    def floor() -> None:
        dst.copy_(src)  # forward: read x, write spikes
        dst.copy_(src)  # backward: read grad_spikes, write grad_x

    # Same answers first: the benchmark compares equals.
    fwd_bwd(ours)()
    g_ours = x.grad.clone()
    fwd_bwd(ref)()
    assert torch.allclose(g_ours, x.grad, atol=1e-5), "gradients disagree"

    runs = {"snndsl": fwd_bwd(ours), "spikingjelly": fwd_bwd(ref), "floor": floor}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for rep in range(args.reps + 2):
        for name, fn in runs.items():
            t = _time(fn)
            if rep >= 2:
                times[name].append(t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    mb = x.numel() * 4 / 2**20
    path = kernels.path_for(ours.spec(), x)
    print(f"shape {list(shape)} float32, {torch.get_num_threads()} threads, {args.reps} reps, "
          f"snndsl path {path}")
    print(
        f"lif fwd+bwd: snndsl {med['snndsl']:.1f} ms, spikingjelly {med['spikingjelly']:.1f} ms, "
        f"speedup {med['spikingjelly'] / med['snndsl']:.2f}x"
    )
    print(
        f"floor (2 copies of {mb:.1f} MiB): {med['floor']:.2f} ms; "
        f"snndsl {med['snndsl'] / med['floor']:.1f}x floor, "
        f"spikingjelly {med['spikingjelly'] / med['floor']:.1f}x floor"
    )
    spread = {n: (min(ts), max(ts)) for n, ts in times.items()}
    print("min/max ms: " + ", ".join(f"{n} {lo:.1f}/{hi:.1f}" for n, (lo, hi) in spread.items()))


if __name__ == "__main__":
    main()
