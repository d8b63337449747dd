"""Benchmark: multi-step neurons, forward + backward on CPU: the generated kernels,
SpikingJelly 2.0.0, and the memory floor.

    python bench/neuron.py [--reps 9] [--T 16] [--shape 256 1024] [--threads 1] [--only lif plif if izhikevich cubalif] [--split]

Five neurons, each in ``'m'`` mode on a ``[T, *shape]`` float32 input, forward then
backward of a random output gradient:

* ``lif``, ``plif``, ``if`` (defaults: tau/init_tau=2, hard reset to 0, Sigmoid): the
  runtime's ``LIFNode``, ``ParametricLIFNode``, ``IFNode``, which run the classes
  generated from ``grammars/core_neurons.snn``: *generated-c* (their generated C
  kernel, ``snndsl.runtime.kernels.program_native``), *generated-torch* (the same
  generated class on its PyTorch ``Fused`` Function), *spikingjelly* (its namesake,
  ``step_mode='m'``, its default CPU path);
* ``izhikevich`` (the prelude's ``Izhikevich(a=0.3, b=0.2)`` through the frontend,
  against ``IzhikevichNode``) and ``cubalif`` (the prelude's ``CubaLIF``, against
  ``CUBALIFNode``, Rect surrogate): the same three.

(The hand-written C kernel that the generated one replaced was measured side by side
with it before it was deleted: ``bench/README.md``, "Generated neurons".)

Each neuron also times the *floor*: the memory traffic a fused forward + backward cannot
avoid (read ``x``, write the output; read the output gradient, write the input
gradient), as two ``copy_`` calls of a ``[T, *shape]`` tensor into preallocated ones,
i.e. four tensors' bytes at the measured copy bandwidth.

One process; per neuron the runs are interleaved (the order rotates each round),
medians of ``--reps`` after two warm-up rounds; the ratios are printed of the medians
and of the minima (the least disturbed runs, on a shared machine). Every variant must give the same output
(``torch.equal``) and, within 1e-5, the same input gradient before anything is timed.

``--split`` also prints the medians of generated-c's forward and backward kernel calls
(``program_native``'s ``_forward_call`` and ``_backward_call``, timed in the same
interleaved runs) and the rest of its time: Python, ctypes and autograd.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from collections.abc import Callable

import torch

#: the core neurons (grammars/core_neurons.snn): the runtime's and SpikingJelly's class
CORE = {"lif": "LIFNode", "plif": "ParametricLIFNode", "if": "IFNode"}
PRELUDE = {
    "izhikevich": "Izhikevich(a=0.3, b=0.2)",
    "cubalif": "CubaLIF()",
}


def prelude_program(call: str):
    """The program of a prelude neuron call, through the frontend (``.snn`` text)."""
    from snndsl.compiler import lower

    text = f"model M() {{\n    input x: [16]\n    return x -> sn: {call}\n}}\n"
    return lower(text, "bench.snn", stop_after="build").node("sn").op.program


def generated(program, name: str) -> tuple[type, type]:
    """The generated class, and a subclass that always runs its PyTorch ``Fused``."""
    from snndsl.codegen.neuron_code import neuron_module_source

    mod = types.ModuleType(f"bench_generated_{name}")
    exec(compile(neuron_module_source(program, name), f"<generated {name}>", "exec"), mod.__dict__)  # noqa: S102
    cls = getattr(mod, name)
    torch_only = type(f"{name}Torch", (cls,), {"PROGRAM": None})
    return cls, torch_only


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def nodes_for(which: str) -> dict[str, torch.nn.Module]:
    from spikingjelly.activation_based import neuron as sj_neuron

    from snndsl.runtime import neuron

    if which in CORE:
        node = getattr(neuron, CORE[which])(step_mode="m")  # its generated class's C kernel
        torch_only = type(f"{CORE[which]}Torch", (node.generated(),), {"PROGRAM": None})
        return {"generated-c": node, "generated-torch": torch_only(step_mode="m"),
                "spikingjelly": getattr(sj_neuron, CORE[which])(step_mode="m")}
    gen, gen_torch = generated(prelude_program(PRELUDE[which]), which.capitalize())
    if which == "izhikevich":
        ref = sj_neuron.IzhikevichNode(a=0.3, b=0.2, step_mode="m")
    else:
        ref = sj_neuron.CUBALIFNode()
        ref.step_mode = "m"
    return {"generated-c": gen(step_mode="m"), "generated-torch": gen_torch(step_mode="m"), "spikingjelly": ref}


class KernelClock:
    """Times ``program_native``'s forward and backward kernel calls made inside its
    ``with`` blocks (``--split``), in milliseconds, in call order."""

    def __init__(self) -> None:
        from snndsl.runtime.kernels import program_native

        self.ms: dict[str, list[float]] = {"forward": [], "backward": []}
        self.module = program_native
        self.original = (program_native._forward_call, program_native._backward_call)

    def _timed(self, name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object) -> object:
            start = time.perf_counter()
            result = fn(*args)
            self.ms[name].append((time.perf_counter() - start) * 1e3)
            return result

        return call

    def __enter__(self) -> KernelClock:
        fwd, bwd = self.original
        self.module._forward_call = self._timed("forward", fwd)
        self.module._backward_call = self._timed("backward", bwd)
        return self

    def __exit__(self, *exc: object) -> None:
        self.module._forward_call, self.module._backward_call = self.original


def bench(which: str, x: torch.Tensor, grad: torch.Tensor, reps: int, split: bool = False) -> dict[str, float]:
    """Medians (ms) of each variant of ``which`` and of the floor; prints one line each."""
    from snndsl.runtime import neuron
    from snndsl.runtime.kernels import program_native

    nodes = nodes_for(which)

    def fwd_bwd(node: torch.nn.Module) -> Callable[[], torch.Tensor]:
        def run() -> torch.Tensor:
            node.reset()
            x.grad = None
            out = node(x)
            out.backward(grad)
            return out

        return run

    runs = {name: fwd_bwd(node) for name, node in nodes.items()}
    src, dst = x.detach().clone(), torch.empty_like(x)

    def floor() -> None:
        dst.copy_(src)  # forward: read x, write the output
        dst.copy_(src)  # backward: read the output gradient, write the input gradient

    ref_out, ref_grad = None, None
    for name, fn in runs.items():
        out = fn().detach()
        if ref_out is None:
            ref_out, ref_grad = out, x.grad.clone()
        assert torch.equal(out, ref_out), f"{which} {name}: outputs differ"
        assert torch.allclose(x.grad, ref_grad, atol=1e-5), f"{which} {name}: gradients differ"
    gen = nodes["generated-c"]
    prog = gen.generated().PROGRAM if isinstance(gen, neuron.BaseNode) else type(gen).PROGRAM
    assert program_native.supports(prog, gen.surrogate_function, x), "the generated C kernel does not run"
    runs["floor"] = floor
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    clock = KernelClock()
    for rep in range(reps + 2):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            if split and name == "generated-c":
                with clock:
                    t = _time(runs[name])
            else:
                t = _time(runs[name])
            if rep >= 2:
                times[name].append(t)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    low = {name: min(ts) for name, ts in times.items()}
    print(f"{which} fwd+bwd medians: " + ", ".join(f"{n} {m:.1f} ms" for n, m in med.items()))

    def ratios(m: dict[str, float]) -> str:
        c = m["generated-c"]
        return (f"spikingjelly / generated-c {m['spikingjelly'] / c:.2f}x (speedup), "
                f"generated-torch / generated-c {m['generated-torch'] / c:.2f}x, generated-c / floor {c / m['floor']:.2f}x")

    print(f"{which} medians: {ratios(med)}")
    print(f"{which} minima: {ratios(low)}")  # the least disturbed run, on a shared machine
    print(f"{which} min/max ms: " + ", ".join(f"{n} {min(ts):.1f}/{max(ts):.1f}" for n, ts in times.items()))
    if split:
        fwd_ms, bwd_ms = clock.ms["forward"][2:], clock.ms["backward"][2:]  # after the warm-up rounds
        fwd, bwd = statistics.median(fwd_ms), statistics.median(bwd_ms)
        rest = statistics.median(t - f - b for t, f, b in zip(times["generated-c"], fwd_ms, bwd_ms))
        print(f"{which} generated-c split medians: forward kernel {fwd:.2f} ms, backward kernel {bwd:.2f} ms, "
              f"the rest (Python, ctypes, autograd) {rest:.2f} ms")
    return med


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--T", type=int, default=16)
    parser.add_argument("--shape", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--only", nargs="+", default=["lif", "plif", "if", "izhikevich", "cubalif"],
                        choices=["lif", "plif", "if", "izhikevich", "cubalif"])
    parser.add_argument("--quick", action="store_true", help="a small shape, 3 reps")
    parser.add_argument("--split", action="store_true",
                        help="also time generated-c's kernel calls apart from the rest of its call")
    args = parser.parse_args(argv)
    if args.quick:
        args.T, args.shape, args.reps = 4, [64, 256], 3
    torch.set_num_threads(args.threads)

    gen = torch.Generator().manual_seed(0)
    shape = (args.T, *args.shape)
    x = (torch.randn(shape, generator=gen) * 0.5 + 0.6).requires_grad_()
    grad = torch.randn(shape, generator=gen)
    mb = x.numel() * 4 / 2**20
    print(f"shape {list(shape)} float32 ({mb:.0f} MiB per tensor), {torch.get_num_threads()} threads, "
          f"{args.reps} reps")
    for which in args.only:
        bench(which, x, grad, args.reps, args.split)


if __name__ == "__main__":
    main()
