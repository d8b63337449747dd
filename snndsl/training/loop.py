"""Train a network compiled from a ``.snn`` file on a bundled data set.

``snndsl train examples/digits.snn --data digits`` calls :func:`run_training`:
direct encoding (the image is the input at every time step, through a ``static``
input) or, for a data set with its own time axis (``digits-rows``), the sequence as
the input, surrogate-gradient training with Adam and a cosine learning-rate schedule,
cross-entropy on the output averaged over time (or at the last step, as the data set
says), a progress bar per epoch, and a run folder with the checkpoint, the per-epoch
metrics and three pictures::

    runs/digits/model.pt       state_dict keyed by the .snn labels (torch.load(..., weights_only=True))
    runs/digits/metrics.json   settings, per-epoch loss / accuracy / spike rate, summary
    runs/digits/curves.png     loss and train/test accuracy per epoch
    runs/digits/raster.png     spikes of one test image through every spiking layer
    runs/digits/rates.png      firing rate per layer and time step on the test split

scikit-learn, matplotlib and tqdm are optional (``pip install "snndsl[examples]"``);
without them :func:`run_training` raises :class:`snndsl.diagnostics.UsageError` that says
how to install them.
"""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..compiler import compile_file
from ..diagnostics import UsageError, printable
from ..fileio import check_output_folder, write_atomic
from ..ir.graph import IR
from .data import load_split, require, time_steps
from .evaluate import (
    EVAL_BATCH,
    check_batch_memory,
    cpu_threads,
    evaluate,
    model_interface,
    pick_device,
    scores,
)
from .monitor import SpikeMonitor

__all__ = ["run_training"]


# -- training (snndsl train) ----------------------------------------------------------------
def _check_args(T: int, epochs: int, batch_size: int, lr: float) -> None:
    if T < 1:
        raise UsageError("-T must be positive")
    if epochs < 1:
        raise UsageError("--epochs must be positive")
    if batch_size < 1:
        raise UsageError("--batch-size must be positive")
    if not (lr > 0 and math.isfinite(lr)):
        raise UsageError("--lr must be a positive number")


def _save_checkpoint(net: torch.nn.Module, path: Path) -> None:
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    write_atomic(path, buf.getvalue())


def run_training(file: str | os.PathLike, data: str = "digits", T: int | None = None, epochs: int = 10,
                 out: str | os.PathLike = "runs/digits", batch_size: int = 64, lr: float = 1e-3,
                 seed: int = 0, params: Mapping[str, object] | None = None, model: str | None = None,
                 allow_imports: Iterable[str] = (), device: str | torch.device | None = None,
                 progress: bool = True, plots: bool = True) -> dict[str, Any]:
    """Compile ``file``, train it on ``data``, write the run folder ``out``; return a summary.

    The summary holds ``test_accuracy`` (final, in [0, 1]), ``best_test_accuracy``,
    ``epochs``, ``wall_time_s`` (compile + training + pictures), ``train_time_s`` and
    ``paths`` (checkpoint, metrics, pictures). ``T`` None is the data set's default: 4
    for digits, and 8, the only length there is, for digits-rows.
    """
    t_start = time.perf_counter()
    T = time_steps(data, T)
    _check_args(T, epochs, batch_size, lr)
    check_output_folder(out)  # before training: a run folder that cannot be written loses nothing
    need = ["sklearn", "tqdm"] + (["matplotlib"] if plots else [])
    mods = require(*need, purpose="snndsl train")
    tqdm = mods["tqdm"].tqdm

    dev = pick_device(device)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    try:
        torch.manual_seed(seed)
        net = compile_file(file, model=model, params=params, allow_imports=allow_imports)
        split = load_split(data)
        feed = model_interface(net, split)
        # the largest batch of a training step and of an evaluation, before any is allocated
        check_batch_memory(net, T, max(min(batch_size, len(split.x_train)),
                                       min(EVAL_BATCH, len(split.x_test))), dev)
        net = net.to(dev)
        x_train = feed.samples(split.x_train).to(dev)
        y_train = split.y_train.to(dev)
        x_test = feed.samples(split.x_test).to(dev)
        y_test = split.y_test.to(dev)
        n = len(x_train)
        steps = math.ceil(n / batch_size)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)
        gen = torch.Generator().manual_seed(seed)
        ir: IR = net.snn_ir
        n_params = sum(p.numel() for p in net.parameters())
        nt = torch.get_num_threads()
        where = f"{dev} ({nt} thread{'s' if nt > 1 else ''})" if dev.type == "cpu" else str(dev)
        print(f"training model {ir.model} from {printable(os.fspath(file))} on {data} "
              f"({n} train / {len(x_test)} test images, {split.num_classes} classes), "
              f"{n_params:,} parameters, T={T}, {epochs} epochs, batch {batch_size}, Adam lr={lr:g}, "
              f"{where}", flush=True)

        history: list[dict[str, Any]] = []
        monitor = SpikeMonitor(net, T)
        t_train = time.perf_counter()
        for epoch in range(1, epochs + 1):
            net.train()
            monitor.reset()
            perm = torch.randperm(n, generator=gen).to(dev)
            seen, correct, loss_sum = 0, 0, 0.0
            bar = tqdm(total=n, desc=f"epoch {epoch}/{epochs}", unit="img", disable=not progress,
                       leave=True, dynamic_ncols=True, file=sys.stderr)
            with monitor:
                for i in range(0, n, batch_size):
                    idx = perm[i:i + batch_size]
                    xb, yb = x_train[idx], y_train[idx]
                    logits = scores(net, xb, T, feed)
                    loss = F.cross_entropy(logits, yb)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sched.step()
                    seen += len(idx)
                    loss_sum += float(loss.detach()) * len(idx)
                    correct += int((logits.detach().argmax(1) == yb).sum())
                    bar.update(len(idx))
                    bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}",
                                    rate=f"{monitor.overall_rate():.3f}", refresh=False)
            train_rate = monitor.overall_rate()
            net.eval()
            monitor.reset()
            with monitor:
                test_acc, test_loss = evaluate(net, x_test, y_test, T, feed)
            row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                   "test_loss": test_loss, "test_accuracy": test_acc, "train_spike_rate": train_rate,
                   "test_spike_rate": monitor.overall_rate(),
                   "elapsed_s": time.perf_counter() - t_train}
            history.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", acc=f"{row['train_accuracy']:.3f}",
                            rate=f"{train_rate:.3f}", test_acc=f"{test_acc:.3f}")
            bar.close()
            if not progress:
                print(f"epoch {epoch}/{epochs}: loss {row['train_loss']:.4f}, train acc "
                      f"{row['train_accuracy']:.3f}, test acc {test_acc:.3f}, spike rate {train_rate:.3f}")
        train_time = time.perf_counter() - t_train

        # test-set firing rates per layer and step (the last evaluation), and one raster sample
        layer_rates, step_rates = monitor.rates(), monitor.rates_per_step()
        outdir = Path(out)
        ckpt = outdir / "model.pt"
        _save_checkpoint(net, ckpt)
        paths: dict[str, str] = {"checkpoint": str(ckpt)}
        if plots:
            from . import plots as P  # needs matplotlib: imported only for pictures

            title = f"{ir.model} on {data} (T={T})"
            sample = 0
            rec = SpikeMonitor(net, T, record=True)
            xs = x_test[sample:sample + 1]
            with rec, torch.no_grad():
                seq = feed.run(net, xs, T)
            step_scores = seq.reshape(seq.shape[0], -1).float().cpu().numpy()  # [T, classes]
            trains = {w.path: (w.shape, rec.train_of(w.path)[:, 0].numpy()) for w in rec.layers}
            paths["curves"] = P.write_png(P.curves(history, title), outdir / "curves.png")
            image = split.picture(split.x_test[sample]).numpy()
            paths["raster"] = P.write_png(
                P.raster(image, int(split.y_test[sample]), step_scores, trains, title, sample,
                         readout=feed.readout),
                outdir / "raster.png")
            paths["rates"] = P.write_png(P.rates(layer_rates, step_rates, title), outdir / "rates.png")
        final = history[-1]
        summary: dict[str, Any] = {
            "model": ir.model, "file": os.fspath(file), "data": data, "T": T, "readout": feed.readout,
            "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "seed": seed, "device": str(dev),
            "threads": torch.get_num_threads(), "parameters": n_params,
            "train_size": n, "test_size": len(x_test),
            "test_accuracy": final["test_accuracy"], "train_accuracy": final["train_accuracy"],
            "best_test_accuracy": max(r["test_accuracy"] for r in history),
            "best_epoch": max(history, key=lambda r: r["test_accuracy"])["epoch"],
            "test_spike_rate": final["test_spike_rate"], "layer_spike_rates": layer_rates,
            "train_time_s": train_time,
        }
        metrics = outdir / "metrics.json"
        paths["metrics"] = str(metrics)
        summary["paths"] = paths
        summary["wall_time_s"] = time.perf_counter() - t_start
        write_atomic(metrics, json.dumps({"summary": summary, "history": history,
                                          "params": dict(params or {})}, indent=2, default=str) + "\n")
    finally:
        torch.set_num_threads(threads_before)
    _print_summary(summary, params, model, allow_imports)
    return summary


def _cli_value(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _arg(value: object) -> str:
    """A value for a command line the user may paste: shell-quoted, control characters escaped."""
    return printable(shlex.quote(str(value)))


def _print_summary(s: Mapping[str, Any], params: Mapping[str, object] | None, model: str | None,
                   allow_imports: Iterable[str]) -> None:
    print(f"\nmodel {s['model']} on {s['data']}: test accuracy {s['test_accuracy'] * 100:.2f}% "
          f"after {s['epochs']} epochs (best {s['best_test_accuracy'] * 100:.2f}% at epoch {s['best_epoch']}), "
          f"train accuracy {s['train_accuracy'] * 100:.2f}%")
    print(f"  time: {s['wall_time_s']:.1f} s in all, {s['train_time_s']:.1f} s training "
          f"({s['device']}, {s['threads']} thread{'s' if s['threads'] > 1 else ''})")
    rates = ", ".join(f"{p} {r:.3f}" for p, r in s["layer_spike_rates"].items())
    print(f"  spike rate on the test split: {s['test_spike_rate']:.3f} ({rates})")
    for key, path in s["paths"].items():
        print(f"  {key + ':':12s}{printable(str(path))}")
    extra = "".join(f" --set {k}={_cli_value(v)}" for k, v in (params or {}).items())
    extra += f" --model {model}" if model else ""
    extra += "".join(f" --allow-import {m}" for m in allow_imports)
    print(f"  evaluate:   snndsl run {_arg(s['file'])} --weights {_arg(s['paths']['checkpoint'])} "
          f"--data {s['data']} -T {s['T']}{extra}")
