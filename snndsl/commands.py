"""What each ``snndsl`` subcommand does (the argument parsing lives in ``cli.py``)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from .compiler import (
    _read,
    generate,
    load_class,
    lower,
    parameter_and_buffer_counts,
    parameter_counts,
    trace_passes,
)
from .diagnostics import SnnError, UsageError, printable
from .fileio import check_output_file, write_atomic
from .ir import ops
from .ir.graph import IR
from .ir.yaml import dump_yaml
from .limits import (
    BYTES_PER_VALUE,
    available_memory,
    check_memory,
    check_run_memory,
    parameters_exceed_memory,
)


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape is not None else "?"


def _main_args(op: ops.Op) -> str:
    return op.describe()


def layer_table(ir: IR, params: dict[str, int], buffers: dict[str, int]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for n in ir.order():
        if isinstance(n.op, ops.Output | ops.Plumbing):
            continue
        op = n.op
        owned = [path for path, _ in op.modules(n.path)]
        p, b = sum(params.get(m, 0) for m in owned), sum(buffers.get(m, 0) for m in owned)
        rows.append((n.path, op.kind if isinstance(op, ops.Layer) else type(op).__name__,
                     _main_args(n.op), _shape(n.shape), f"{p:,}" if p else "-", f"{b:,}" if b else "-",
                     "yes" if n.stateful else "", n.region or ""))
    return rows


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    widths = [min(w, 60) for w in widths]

    def fmt(r):
        cells = [(c if len(c) <= widths[i] else c[: widths[i] - 1] + "…").ljust(widths[i]) for i, c in enumerate(r)]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def cmd_check(args: argparse.Namespace, params) -> int:
    text = _read(args.file)
    dumps: list[tuple[str, IR]] = []
    after = args.print_ir_after
    ir = lower(text, args.file, args.model, params, args.allow_import,
               on_after=(lambda n, i: dumps.append((n, i))) if after else None, optimize=args.optimize)
    if after:
        for name, snapshot in dumps:
            if after in ("all", name):
                print(f"# IR after {name}")
                print(dump_yaml(snapshot))
        if after != "all" and after not in [n for n, _ in dumps]:
            raise UsageError(f"unknown pass {after!r}; passes: {', '.join(n for n, _ in dumps)}")
        return 0
    from .codegen.emit import emit_module

    params_of, buffers_of = parameter_and_buffer_counts(load_class(emit_module(ir)))
    counts = {k: params_of.get(k, 0) + buffers_of.get(k, 0) for k in {**params_of, **buffers_of}}
    rows = layer_table(ir, params_of, buffers_of)
    print(f"model {ir.model}" + (f"({', '.join(f'{k}={ops.format_value(v)}' for k, v in ir.params.items())})"
                                 if ir.params else "") + f" from {printable(args.file)}")
    print(format_table(rows, ("module path", "op", "arguments", "output", "params", "buffers", "stateful",
                              "region")))
    n_params, n_buffers = sum(params_of.values()), sum(buffers_of.values())
    total = n_params + n_buffers
    stateful = sum(1 for n in ir.nodes() if n.stateful)
    outs = ", ".join(_shape(n.shape) for n in ir.output_nodes())
    recurrent = sum(1 for r in ir.regions.values() if r.recurrent)
    regions = f"{len(ir.regions) - recurrent} time-batched regions" + (
        f", {recurrent} recurrent region{'s' if recurrent != 1 else ''}" if recurrent else "")
    print(f"\n{len(rows)} nodes, {stateful} stateful, {regions}; "
          f"{n_params:,} parameters and {n_buffers:,} buffer values "
          f"({total * BYTES_PER_VALUE / 2**20:,.2f} MiB as float32); output {outs}")
    if parameters_exceed_memory(counts):
        print(f"note: that is more than this machine's {available_memory() / 2**30:,.1f} GiB: `run` refuses "
              "the model and `compile` needs --no-memory-check")
    defined: dict[str, tuple[ops.ProgramNeuron, list[str]]] = {}
    for n in ir.nodes():
        for path, op in n.op.modules(n.path):
            if isinstance(op, ops.ProgramNeuron):
                defined.setdefault(op.kind, (op, []))[1].append(path)
    if defined:  # neurons written in the language (the file's own or the prelude's)
        print("neuron definitions used: " + "; ".join(
            f"{kind} ({'spiking' if op.spiking else 'non-spiking'}, at {', '.join(paths)})"
            for kind, (op, paths) in defined.items()))
    made = [n.path for n in ir.nodes() if n.generated and n.op.modules(n.path)]
    if made:
        print(f"labels made by the compiler (label these layers to choose their state_dict keys): {', '.join(made)}")
    return 0


def _check_memory(ir: IR, counts: dict[str, int], text: str) -> None:
    """``compile`` refuses what ``run`` and ``compile_source`` could not instantiate here."""
    try:
        check_memory(ir, counts)
    except SnnError as e:
        e.hint = (f"{e.hint}; or pass --no-memory-check to compile it anyway (for a larger machine)")
        raise e.with_source(text) from None


def cmd_compile(args: argparse.Namespace, params) -> int:
    if args.output:
        check_output_file(args.output, inputs=(args.file,))
    text = _read(args.file)
    ir, gen = generate(text, args.file, args.model, params, args.allow_import, optimize=args.optimize)
    if not args.no_memory_check:
        _check_memory(ir, parameter_counts(load_class(gen)), text)
    if args.output:
        try:
            write_atomic(args.output, gen.source)
        except OSError as e:
            raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from None
        print(f"wrote {printable(args.output)} (class {gen.class_name})")
    else:
        sys.stdout.write(gen.source)
    return 0


def load_weights(net, path: str) -> None:
    """Load a state_dict safely (:mod:`snndsl.weights`); notes go to stderr."""
    from .weights import fit_state_dict, read_state_dict

    for note in fit_state_dict(net, read_state_dict(path, net), f"weights in {path}"):
        print(f"note: {note}", file=sys.stderr)


def run_device(name: str):
    """The ``torch.device`` for ``run --device NAME``: one that can hold data here."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available here")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    usable = device.type in ("cpu", "cuda") or (device.type == "mps" and torch.backends.mps.is_available())
    if not usable:
        why = "meta tensors hold no data" if device.type == "meta" else "it is not available here"
        raise UsageError(f"--device {name}: cannot run on this device ({why}); use cpu or cuda")
    return device


def cmd_run(args: argparse.Namespace, params) -> int:
    import torch

    from .compiler import compile_source
    from .failures import located_failures

    if args.data is not None:
        from .training.data import time_steps

        args.T = time_steps(args.data, args.T)  # the data set's, or refused for it
    elif args.T is None:
        args.T = 4
    if args.T < 1 or args.N < 1:
        raise UsageError("-T and -N must be positive")
    device = run_device(args.device)
    torch.manual_seed(args.seed)
    text = _read(args.file)
    net = compile_source(text, args.file, args.model, params, step_mode=args.step_mode,
                         allow_imports=args.allow_import, optimize=args.optimize)
    try:
        check_run_memory(net.snn_ir, args.T, args.N, args.step_mode, device)
    except SnnError as e:
        raise e.with_source(text) from None
    if args.weights:
        load_weights(net, args.weights)
    net = net.to(device).eval()
    if args.data:
        from .training import evaluate_checkpoint

        acc = evaluate_checkpoint(net, args.data, T=args.T, device=device)
        print(f"model {net.snn_ir.model}: accuracy on the {args.data} test split: {acc * 100:.2f}%")
        return 0
    ir: IR = net.snn_ir
    T, N = args.T, args.N
    xs = []
    for n in ir.input_nodes():
        op = n.op
        assert isinstance(op, ops.Input)
        shape = (N, *op.shape) if (op.static or args.step_mode == "s") else (T, N, *op.shape)
        xs.append(_random_input(shape, args.input_scale, args.input_code, device))
    rates: dict[str, list[float]] = {}
    hooks = []
    for n in ir.nodes():
        neuron = n.op.neuron if isinstance(n.op, ops.RecurrentNeuron) else n.op
        if n.stateful and isinstance(neuron, ops.Neuron) and neuron.spiking:
            mod = net.module_at(n.path)
            hooks.append(mod.register_forward_hook(
                lambda m, i, o, p=n.path: rates.setdefault(p, []).append(float(o.float().mean()))))
    model = torch.compile(net) if args.torch_compile else net

    def once():
        with torch.no_grad():
            if args.step_mode == "m":
                return model(*xs, T=T)
            net.reset()
            out = None
            for _ in range(T):
                out = model(*xs)
            return out

    with located_failures(net, ir):
        try:
            out = once()
        except SnnError as e:
            raise e.with_source(text) from None
    for h in hooks:
        h.remove()
    times = []
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        once()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    outs = out if isinstance(out, tuple) else (out,)
    total = sum(p.numel() for p in net.parameters())
    print(f"model {ir.model} on {device}, step mode '{args.step_mode}', T={T}, N={N}, "
          f"{'train' if net.training else 'eval'} mode")
    for n, x in zip(ir.input_nodes(), xs):
        assert isinstance(n.op, ops.Input)
        print(f"  input  {n.op.name}: {list(x.shape)}")
    for i, o in enumerate(outs):
        print(f"  output {i}: {list(o.shape)}")
    print(f"  parameters: {total:,}")
    if rates:
        print("  spike rate per stateful layer:")
        width = max(len(p) for p in rates)
        for p, r in rates.items():
            print(f"    {p.ljust(width)}  {statistics.fmean(r):.4f}")
        if not any(any(v > 0 for v in r) for r in rates.values()):
            if args.input_code == "poisson" and args.input_scale >= 1:
                advice = "try --input-code uniform --input-scale 4, or trained weights (--weights)"
            else:
                advice = f"try --input-scale {args.input_scale * 4:g}"
            print(f"note: no layer spiked: the random input ({_input_words(args)}) does not drive this "
                  f"network; {advice}")
    med = statistics.median(times)
    print(f"  time: {med * 1e3:.2f} ms per forward, {med / T * 1e3:.3f} ms per step (median of 5)")
    return 0


def _random_input(shape: tuple[int, ...], scale: float, code: str, device):
    """``run``'s input: uniform in [0, scale), or spikes with that rate (``poisson``)."""
    import torch

    x = torch.rand(shape, device=device)
    if code == "poisson":
        return (torch.rand(shape, device=device) < x * scale).float()
    return x * scale


def _input_words(args: argparse.Namespace) -> str:
    if args.input_code == "poisson":
        return f"spikes of rate uniform in [0, {min(args.input_scale, 1.0):g})"
    return f"uniform in [0, {args.input_scale:g})"


def cmd_viz(args: argparse.Namespace, params) -> int:
    from .viz.report import write_report

    text = _read(args.file)
    traces = trace_passes(text, args.file, args.model, params, args.allow_import, optimize=args.optimize)
    written = write_report(traces, args.output, fmt=args.format, collapse=args.collapse, source=args.file)
    print(f"wrote {len(written)} files to {printable(args.output)} "
          f"(open {printable(os.path.join(args.output, 'index.html'))})")
    return 0


def cmd_export(args: argparse.Namespace, params) -> int:
    from .interop.nir import export_file

    text = _read(args.file)
    report = export_file(text, args.file, args.nir, model=args.model, params=params, weights=args.weights,
                         dt=args.dt, strict=args.strict, allow_imports=args.allow_import)
    for line in report:
        print(f"note: {line}", file=sys.stderr)
    print(f"wrote {printable(args.nir)}")
    return 0


def cmd_import(args: argparse.Namespace, params) -> int:
    from .interop.nir import import_file

    if not Path(args.file).exists():
        raise UsageError(f"no such file: {args.file}")
    report: list[str] = []
    written = import_file(args.file, args.output, dt=args.dt, model=args.model,
                          soft_reset=args.reset == "subtract", report=report)
    for line in report:  # also comments at the top of the .snn file
        print(f"note: {printable(line)}", file=sys.stderr)
    print("wrote " + ", ".join(printable(os.fspath(w)) for w in written))
    return 0


def cmd_train(args: argparse.Namespace, params) -> int:
    from .training import run_training

    run_training(args.file, data=args.data, T=args.T, epochs=args.epochs, out=args.out,
                 batch_size=args.batch_size, lr=args.lr, seed=args.seed, params=params,
                 model=args.model, allow_imports=args.allow_import)
    return 0
