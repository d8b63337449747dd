"""What training and evaluation share: the model's interface, the device and thread
settings, the forward pass over time, and the evaluation of a checkpoint.

``snndsl run FILE --weights runs/digits/model.pt --data digits`` calls
:func:`evaluate_checkpoint` on the held-out split that :func:`.loop.run_training` tests on.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ..diagnostics import UsageError
from ..ir import ops
from ..ir.graph import IR
from ..limits import check_run_memory
from .data import Readout, Split, load_split, time_steps

if TYPE_CHECKING:
    from ..runtime.model import CompiledModule

__all__ = ["evaluate_checkpoint", "Feed", "model_interface", "scores", "evaluate", "pick_device",
           "cpu_threads", "check_batch_memory", "EVAL_BATCH"]

#: samples per evaluation batch
EVAL_BATCH = 512


# -- the model's interface ----------------------------------------------------------------
@dataclass(frozen=True)
class Feed:
    """How the samples of a data set enter a model, and how its output becomes class scores.

    Three ways in: a ``static`` input takes the image once, ``[N, *shape]``, plus ``T``;
    any other input takes ``[T, N, *shape]``, which is the image repeated ``T`` times
    (direct encoding) or, for a data set with its own time axis (``steps``), the
    sequence itself, step ``t`` of every sample at ``[t]``.
    """

    shape: tuple[int, ...]  # the model's per-sample input shape (of one time step)
    static: bool
    steps: int | None  # the data set's own time axis, or None for images
    readout: Readout

    def samples(self, x: torch.Tensor) -> torch.Tensor:
        """A split's samples in the model's shape: ``[N, *shape]`` or ``[N, steps, *shape]``."""
        return x.reshape(len(x), *(() if self.steps is None else (self.steps,)), *self.shape)

    def run(self, net: torch.nn.Module, x: torch.Tensor, T: int) -> torch.Tensor:
        """The model's output over time, ``[T, N, ...]``, for a batch of samples (a fresh
        sequence at every call)."""
        if self.static:
            return net(x, T=T)
        if self.steps is not None:
            return net(x.movedim(1, 0).contiguous())  # [N, T, ...] -> [T, N, ...]
        return net(x.unsqueeze(0).expand(T, *x.shape))


def model_interface(net: CompiledModule, split: Split) -> Feed:
    """How to feed ``split`` to ``net``; checks the input and the output size."""
    ir: IR = net.snn_ir
    inputs, outputs = ir.input_nodes(), ir.output_nodes()
    name = f"model {ir.model}"
    if len(inputs) != 1:
        raise UsageError(f"{name} has {len(inputs)} inputs; training on {split.name!r} needs exactly one")
    if len(outputs) != 1:
        raise UsageError(f"{name} returns {len(outputs)} values; training on {split.name!r} needs exactly one")
    inp = inputs[0].op
    assert isinstance(inp, ops.Input)
    shape = tuple(inp.shape)
    if split.steps is not None:
        if inp.static:
            raise UsageError(f"{name} declares its input `static` (the same input at every step), but "
                             f"{split.name!r} is a sequence of {split.steps} steps, a new input at each: "
                             f"declare `input {inp.name}: {list(split.shape)}` without `static`")
        if math.prod(shape) != math.prod(split.shape):
            raise UsageError(f"{name} takes input {list(shape)} but {split.name!r} gives {list(split.shape)} "
                             f"per time step; declare e.g. `input row: {list(split.shape)}`")
    elif math.prod(shape) != math.prod(split.shape):
        raise UsageError(f"{name} takes input {list(shape)} but {split.name!r} images are "
                         f"{list(split.shape)}; declare e.g. `input img: {list(split.shape)} static`")
    out = outputs[0].shape
    if out is None or math.prod(out) != split.num_classes:
        raise UsageError(f"{name} outputs {list(out or ())} per sample; {split.name!r} has "
                         f"{split.num_classes} classes: end the model with e.g. `Linear(_, {split.num_classes})`")
    return Feed(shape, bool(inp.static), split.steps, split.readout)


def check_batch_memory(net: CompiledModule, T: int, batch: int, device: torch.device) -> None:
    """Refuse ``T`` and a batch of ``batch`` samples whose largest value cannot fit in the
    memory of ``device``, before anything of that size is allocated (:mod:`snndsl.limits`)."""
    check_run_memory(net.snn_ir, T, batch, "m", device,
                     hint="lower -T, or check the sizes in the file")


def scores(net: torch.nn.Module, x: torch.Tensor, T: int, feed: Feed) -> torch.Tensor:
    """Class scores ``[N, classes]``: the output averaged over time, or (``readout`` "last")
    the output at the last step."""
    out = feed.run(net, x, T)
    out = out.reshape(out.shape[0], out.shape[1], -1)
    return out[-1] if feed.readout == "last" else out.mean(0)


@torch.no_grad()
def evaluate(net, x, y, T, feed: Feed, batch_size=EVAL_BATCH) -> tuple[float, float]:
    """(accuracy, mean loss) on ``x, y``; the caller sets eval mode."""
    correct, loss = 0, 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        logits = scores(net, xb, T, feed)
        loss += float(F.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    return correct / len(x), loss / len(x)


# -- where it runs ---------------------------------------------------------------------------
def pick_device(device: str | torch.device | None) -> torch.device:
    """``device``, or CUDA when available and the CPU otherwise."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("no CUDA device is available here")
    return dev


def cpu_threads() -> int:
    """Intra-op threads for training on the CPU.

    The bundled data sets are tiny (8x8 images, batches of 64): every kernel is so small
    that splitting it over threads costs more than it saves. Measured on the 2-core
    development machine, one epoch of examples/digits.snn took 0.34 s with one thread
    and 2.7 s with two (the second thread spins waiting for work). So: one thread, and
    ``SNNDSL_THREADS`` overrides it.
    """
    env = os.environ.get("SNNDSL_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise UsageError(f"SNNDSL_THREADS must be a positive integer, got {env!r}") from None
    return 1


# -- evaluation of a checkpoint (snndsl run --data) -------------------------------------------
def evaluate_checkpoint(net: CompiledModule, data: str, T: int | None = None,
                        device: str | torch.device | None = None) -> float:
    """Accuracy in [0, 1] of ``net`` on the held-out test split of ``data``; ``T`` None is
    the data set's default (4 for digits, 8 for digits-rows)."""
    T = time_steps(data, T)
    if T < 1:
        raise UsageError("-T must be positive")
    split = load_split(data)
    feed = model_interface(net, split)
    dev = pick_device(device) if device is not None else next(
        (p.device for p in net.parameters()), torch.device("cpu"))
    check_batch_memory(net, T, min(EVAL_BATCH, len(split.x_test)), dev)
    was_training = net.training
    threads_before = torch.get_num_threads()
    torch.set_num_threads(cpu_threads())
    net.to(dev).eval()
    try:
        acc, _ = evaluate(net, feed.samples(split.x_test).to(dev), split.y_test.to(dev), T, feed)
    finally:
        net.train(was_training)
        torch.set_num_threads(threads_before)
    return acc
