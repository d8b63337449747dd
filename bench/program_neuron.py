"""Benchmark: the LIF generated from a neuron program against the hand-written one and
SpikingJelly 2.0.0's, multi-step forward + backward on CPU.

    python bench/program_neuron.py [--reps 7] [--T 16] [--shape 256 1024] [--threads 1]

Three ``'m'``-mode LIFs with the same defaults (tau=2, hard reset to 0, Sigmoid
surrogate): *generated* (``snndsl.codegen.neuron_code`` from the program below, its
fused ``autograd.Function`` of ``out=`` torch ops), *hand-written*
(``snndsl.runtime.neuron.LIFNode``, the cached C kernel when it builds) and
*spikingjelly* (``LIFNode(step_mode='m')``, its default CPU path). One process, runs
interleaved, medians of ``--reps`` after two warm-up rounds. All three must give the same
spikes and (within 1e-5) the same input gradient first.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from collections.abc import Callable

import torch


def lif_program():
    """``h = v + (x - (v - 0.0)) / 2.0 ; s = spike(h - 1.0) ; v = s * 0.0 + (1.0 - s) * h``."""
    from snndsl.ir.neuron_program import Code, Instr, NeuronProgram
    from snndsl.ir.ops import SurrogateValue

    I = Instr  # noqa: E741, N806
    instrs = (
        I(Code.STATE, value="v"), I(Code.INPUT, value="x"), I(Code.CONST, value=0.0),  # 0 1 2
        I(Code.SUB, (0, 2)), I(Code.SUB, (1, 3)), I(Code.CONST, value=2.0), I(Code.DIV, (4, 5)),  # 3-6
        I(Code.ADD, (0, 6)), I(Code.CONST, value=1.0), I(Code.SUB, (7, 8)), I(Code.SPIKE, (9,)),  # 7-10
        I(Code.MUL, (10, 2)), I(Code.SUB, (8, 10)), I(Code.MUL, (12, 7)), I(Code.ADD, (11, 13)),  # 11-14
    )
    return NeuronProgram("LIF", instrs, (("v", 0.0),), (), (("v", 14),), 10, SurrogateValue("Sigmoid", (("alpha", 4.0),)))


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--T", type=int, default=16)
    parser.add_argument("--shape", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--step-loop", action="store_true", help="also time the generated 's' step loop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from spikingjelly.activation_based import neuron as sj_neuron

    from snndsl.codegen.neuron_code import neuron_module_source
    from snndsl.runtime import kernels, neuron

    mod = types.ModuleType("bench_generated_lif")
    exec(compile(neuron_module_source(lif_program(), "LIF"), "<generated LIF>", "exec"), mod.__dict__)  # noqa: S102
    gen = torch.Generator().manual_seed(0)
    shape = (args.T, *args.shape)
    x = (torch.randn(shape, generator=gen) * 0.5 + 0.6).requires_grad_()
    grad = torch.randn(shape, generator=gen)
    nodes = {
        "generated": mod.LIF(step_mode="m"),
        "hand-written": neuron.LIFNode(step_mode="m"),
        "spikingjelly": sj_neuron.LIFNode(step_mode="m"),
    }

    def fwd_bwd(node: torch.nn.Module) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            node.reset()
            x.grad = None
            out = node(x)
            out.backward(grad)
            return out

        return run

    runs = {name: fwd_bwd(node) for name, node in nodes.items()}
    if args.step_loop:
        loop = mod.LIF(step_mode="s")

        def step_loop() -> torch.Tensor:
            loop.reset()
            x.grad = None
            out = torch.stack([loop(xt) for xt in x])
            out.backward(grad)
            return out

        runs["generated s-loop"] = step_loop

    # the same answers first
    ref_out, ref_grad = None, None
    for name, fn in runs.items():
        out = fn().detach()
        if ref_out is None:
            ref_out, ref_grad = out, x.grad.clone()
        assert torch.equal(out, ref_out), f"{name}: spikes differ"
        assert torch.allclose(x.grad, ref_grad, atol=1e-5), f"{name}: gradients differ"

    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(args.reps + 2):
        order = names[rep % len(names):] + names[: rep % len(names)]  # rotate
        for name in order:
            t = _time(runs[name])
            if rep >= 2:
                times[name].append(t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    path = kernels.path_for(nodes["hand-written"].spec(), x)
    print(f"shape {list(shape)} float32, {torch.get_num_threads()} threads, {args.reps} reps, hand-written path {path}")
    print("lif fwd+bwd medians: " + ", ".join(f"{n} {m:.1f} ms" for n, m in med.items()))
    print(f"generated / hand-written {med['generated'] / med['hand-written']:.2f}x, "
          f"generated / spikingjelly {med['generated'] / med['spikingjelly']:.2f}x")
    print("min/max ms: " + ", ".join(f"{n} {min(ts):.1f}/{max(ts):.1f}" for n, ts in times.items()))


if __name__ == "__main__":
    main()
