"""The pictures of a training run (matplotlib, Agg, PNG).

Figures are made with :class:`matplotlib.figure.Figure` and drawn by the Agg canvas
directly: pyplot is never imported, so no global backend is chosen or changed, and
nothing needs a display. This module is imported only when pictures are written.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..fileio import write_atomic

DPI = 120


def write_png(fig: Figure, path: str | os.PathLike) -> str:
    """Render ``fig`` to PNG and write it atomically; returns the path."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    write_atomic(path, buf.getvalue())
    return os.fspath(path)


def curves(history: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Loss (left) and train/test accuracy (right) per epoch."""
    ep = [r["epoch"] for r in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(ep, [r["train_loss"] for r in history], "o-", label="train (during the epoch)")
    ax_loss.plot(ep, [r["test_loss"] for r in history], "s--", label="test (end of the epoch)")
    ax_loss.set(title="Cross-entropy loss", xlabel="epoch", ylabel="loss (mean over images)")
    ax_loss.set_ylim(bottom=0)
    ax_loss.legend()
    ax_loss.grid(True, alpha=0.3)
    ax_acc.plot(ep, [100 * r["train_accuracy"] for r in history], "o-", label="train (during the epoch)")
    ax_acc.plot(ep, [100 * r["test_accuracy"] for r in history], "s--", label="test (end of the epoch)")
    last = history[-1]
    ax_acc.annotate(f"{100 * last['test_accuracy']:.1f}%", (last["epoch"], 100 * last["test_accuracy"]),
                    textcoords="offset points", xytext=(-10, -16), ha="right", color="C1")
    ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    lo = min(100 * min(r["train_accuracy"], r["test_accuracy"]) for r in history)
    ax_acc.set_ylim(max(0.0, min(lo, 90.0) - 2), 100.5)
    ax_acc.legend(loc="lower right")
    ax_acc.grid(True, alpha=0.3)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"Training curves: {title}")
    return fig


#: at most this many neurons of a layer are drawn in the raster (one pixel column each)
MAX_RASTER_NEURONS = 1024


def raster(image: np.ndarray, label: int, step_scores: np.ndarray,
           trains: Mapping[str, tuple[tuple[int, ...], np.ndarray]], title: str, index: int,
           readout: str = "mean") -> Figure:
    """One test image (top left), the model output per time step (top middle), the
    prediction (top right) and, below, one raster per spiking layer: time steps are rows,
    neurons (flattened, in module order) are columns, a black cell is a spike.

    ``step_scores`` is the output ``[T, classes]``; ``trains`` maps a module path to
    (per-sample shape, spikes ``[T, neurons]``); ``readout`` says how the prediction is
    made from the output: its mean over time, or (``"last"``) its last step.
    """
    scores = np.asarray(step_scores, dtype=np.float64)
    mean = scores[-1] if readout == "last" else scores.mean(0)
    probs = np.exp(mean - mean.max())
    probs /= probs.sum()
    n = len(trains)
    T = max((t.shape[0] for _, t in trains.values()), default=1)
    row_h = max(1.1, 0.28 * T + 0.6)
    fig = Figure(figsize=(12, 3.2 + row_h * n), layout="constrained")
    grid = fig.add_gridspec(n + 1, 3, height_ratios=[3.2] + [row_h] * n, width_ratios=[1, 1.6, 1.6])
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
    ax.set(title=f"input: test image #{index} (label {label})", xlabel="pixel column", ylabel="pixel row")
    ax.legend(handles=[Patch(facecolor="black", label="ink (1.0)"),
                       Patch(facecolor="white", edgecolor="grey", label="no ink (0.0)")],
              loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    ax = fig.add_subplot(grid[0, 1])
    steps = scores.shape[0]
    lim = float(np.abs(scores).max()) or 1.0
    im = ax.imshow(scores.T, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest",
                   extent=(0.5, steps + 0.5, scores.shape[1] - 0.5, -0.5))
    ax.set_xticks(range(1, steps + 1) if steps <= 16 else np.linspace(1, steps, 5, dtype=int))
    ax.set_yticks(range(scores.shape[1]))
    ax.set(title="output (class scores) per time step", xlabel="time step", ylabel="class")
    fig.colorbar(im, ax=ax, label="score (logit)")
    ax = fig.add_subplot(grid[0, 2])
    classes = np.arange(len(probs))
    pred = int(np.argmax(probs))
    colors = ["C2" if c == label else ("C3" if c == pred else "C7") for c in classes]
    ax.barh(classes, probs, color=colors)
    ax.set_yticks(classes)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    verdict = "right" if pred == label else "wrong"
    which = "the output at the last step" if readout == "last" else "the time-averaged output"
    ax.set(title=f"output: predicted {pred} ({verdict})", xlabel=f"softmax of {which}",
           ylabel="class")
    ax.legend(handles=[Patch(color="C2", label="true class"), Patch(color="C3", label="wrong prediction"),
                       Patch(color="C7", label="other classes")], loc="lower right", fontsize=8)
    for row, (path, (shape, train)) in enumerate(trains.items(), start=1):
        ax = fig.add_subplot(grid[row, :])
        steps, neurons = train.shape
        shown = min(neurons, MAX_RASTER_NEURONS)
        ax.imshow(train[:, :shown] > 0, cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest",
                  extent=(-0.5, shown - 0.5, steps + 0.5, 0.5))
        ax.set_yticks(range(1, steps + 1) if steps <= 16 else np.linspace(1, steps, 5, dtype=int))
        rate = float((train > 0).mean()) if train.size else 0.0
        part = f"neurons 0-{shown - 1} of {neurons}" if shown < neurons else f"{neurons} neurons"
        ax.set(title=f"{path} {list(shape)}: {int((train > 0).sum())} spikes, rate {rate:.3f} ({part})",
               xlabel="neuron (index in the flattened layer output)", ylabel="time step")
        ax.legend(handles=[Patch(facecolor="black", label="spike"),
                           Patch(facecolor="white", edgecolor="grey", label="no spike")],
                  loc="center left", bbox_to_anchor=(1.005, 0.5), fontsize=8)
    fig.suptitle(f"Spike raster of one test image: {title}")
    return fig


def rates(layer_rates: Mapping[str, float], step_rates: Mapping[str, Sequence[float]], title: str) -> Figure:
    """Firing rate per spiking layer on the test split: one bar per time step, and the mean."""
    paths = list(layer_rates)
    fig = Figure(figsize=(max(7.0, 1.8 * len(paths) + 4), 4.5), layout="constrained")
    ax = fig.subplots()
    if not paths:
        ax.text(0.5, 0.5, "the model has no spiking layers", ha="center", va="center")
        ax.set(title=f"Firing rates: {title}", xlabel="layer", ylabel="firing rate")
        return fig
    T = max(len(v) for v in step_rates.values())
    x = np.arange(len(paths))
    width = 0.8 / T
    cmap = matplotlib.colormaps["viridis"]
    for t in range(T):
        color = cmap(0.15 + 0.7 * t / max(1, T - 1))
        ax.bar(x - 0.4 + width * (t + 0.5), [step_rates[p][t] for p in paths], width, color=color,
               label=f"{t + 1}")
    ax.hlines([layer_rates[p] for p in paths], x - 0.42, x + 0.42, colors="C3", linestyles="--", zorder=3,
              label="mean of the steps")
    for xi, p in zip(x, paths, strict=True):
        ax.annotate(f"mean {layer_rates[p]:.3f}", (xi + 0.42, layer_rates[p]), textcoords="offset points",
                    xytext=(0, 3), ha="right", va="bottom", color="C3", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xticks(x, paths)
    top = max([layer_rates[p] for p in paths] + [max(v) for v in step_rates.values()])
    ax.set_ylim(0, max(0.05, top * 1.25))
    ax.set(title="Firing rate per spiking layer on the test split", xlabel="layer (module path)",
           ylabel="spikes per neuron per time step")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, title="time step")
    fig.suptitle(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
