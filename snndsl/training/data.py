"""Bundled data sets and the optional dependencies they need.

``digits`` is scikit-learn's copy of the UCI handwritten digits (1,797 grey-scale 8x8
images, 10 classes, pixel values 0..16), shipped inside the scikit-learn package: no
download. The held-out split is stratified 80/20 and drawn with a fixed seed that does
not depend on the training seed, so ``snndsl train`` and ``snndsl run --data digits``
always see the same test images.

Two data sets are made of those images, with the same split and the same scaling
(pixel / 16, so values in [0, 1]):

``digits``
    an image per sample, ``[1, 8, 8]``, presented at every one of the ``T`` time steps
    (direct encoding; ``T`` is the run's choice, 4 by default); the class scores are
    the model's output averaged over time.
``digits-rows``
    a sequence per sample: 8 time steps of 8 pixels, row ``t`` of the image (top row
    first) at step ``t``. The data set brings its own time axis, so ``T`` is 8; a
    recurrent network reads the digit row by row (as in the sequential-MNIST tasks) and
    the class scores are its output at the last step, once it has seen every row.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import torch

from ..diagnostics import UsageError

#: pip command that installs every optional dependency of training and its pictures
INSTALL_HINT = 'pip install "snndsl[examples]" (in a source checkout: pip install -e ".[examples]")'

#: import name -> pip distribution name
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "tqdm": "tqdm"}

TEST_FRACTION = 0.2
SPLIT_SEED = 0

#: how the model's output over time becomes class scores: its mean over the steps, or its
#: value at the last step
Readout = Literal["mean", "last"]


@dataclass(frozen=True)
class DataSet:
    """What a run needs to know about a bundled data set before loading it."""

    name: str
    #: length of the data set's own time axis (a sample is a sequence of ``steps`` inputs),
    #: or None for images, which are presented at every one of the run's ``T`` steps
    steps: int | None
    readout: Readout
    #: ``T`` when the caller gives none (``steps`` for a sequence)
    default_T: int


_DATASETS = {
    "digits": DataSet("digits", steps=None, readout="mean", default_T=4),
    "digits-rows": DataSet("digits-rows", steps=8, readout="last", default_T=8),
}
DATASETS = tuple(_DATASETS)


def require(*modules: str, purpose: str) -> dict[str, ModuleType]:
    """Import optional modules, or raise :class:`UsageError` saying how to install them."""
    found: dict[str, ModuleType] = {}
    missing: list[str] = []
    for name in modules:
        try:
            found[name] = importlib.import_module(name)
        except ImportError:
            dist = _DISTRIBUTIONS.get(name.split(".")[0], name)
            if dist not in missing:
                missing.append(dist)
    if missing:
        names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
        raise UsageError(
            f"{purpose} needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed; "
            f"install the optional dependencies with: {INSTALL_HINT}, or: pip install {' '.join(missing)}"
        )
    return found


@dataclass(frozen=True)
class Split:
    """A data set as tensors: samples in [0, 1] and integer labels ``[N]``.

    A sample is an image ``[N, *shape]`` (``steps`` None) or a sequence
    ``[N, steps, *shape]``, one input of ``shape`` per time step.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    shape: tuple[int, ...]
    steps: int | None = None
    readout: Readout = "mean"

    def picture(self, x: torch.Tensor) -> torch.Tensor:
        """One sample as the 2-D picture it came from (``[8, 8]`` for both digit sets)."""
        return x.reshape(x.shape[-2:]) if self.steps is None else x.reshape(self.steps, -1)


def check_dataset(name: str) -> DataSet:
    if name not in _DATASETS:
        raise UsageError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}")
    return _DATASETS[name]


def time_steps(name: str, T: int | None) -> int:
    """The number of time steps of a run on ``name``: ``T``, or the data set's default
    when ``T`` is None; a sequence data set runs for exactly its own length."""
    ds = check_dataset(name)
    if T is None:
        return ds.default_T
    if ds.steps is not None and T != ds.steps:
        raise UsageError(f"{name!r} is a sequence of {ds.steps} time steps (one image row per step): "
                         f"-T must be {ds.steps}, or left out")
    return T


def load_split(name: str) -> Split:
    """The deterministic train/test split of a bundled data set."""
    ds = check_dataset(name)
    import numpy as np

    datasets = require("sklearn.datasets", purpose=f"the {name!r} data set")["sklearn.datasets"]
    bunch = datasets.load_digits()
    x = np.asarray(bunch.images, dtype=np.float32) / 16.0  # [N, 8, 8] in [0, 1]
    y = np.asarray(bunch.target, dtype=np.int64)
    # Stratified 80/20 with numpy's legacy generator, whose stream is frozen across
    # numpy versions: the same images are held out on every machine and version.
    rng = np.random.RandomState(SPLIT_SEED)
    test_idx = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        test_idx.extend(idx[: int(round(len(idx) * TEST_FRACTION))].tolist())
    test = np.zeros(len(y), dtype=bool)
    test[test_idx] = True
    shape: tuple[int, ...]
    if ds.steps is None:
        xt, shape = torch.from_numpy(x).unsqueeze(1), (1, 8, 8)  # [N, 1, 8, 8]: one image
    else:
        xt, shape = torch.from_numpy(x), (8,)  # [N, 8, 8]: step t is pixel row t
    yt = torch.from_numpy(y)
    mask = torch.from_numpy(test)
    return Split(name, xt[~mask].contiguous(), yt[~mask].contiguous(), xt[mask].contiguous(),
                 yt[mask].contiguous(), int(y.max()) + 1, shape, ds.steps, ds.readout)
