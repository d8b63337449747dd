"""Bundled data sets and the optional dependencies they need.

``digits`` is scikit-learn's copy of the UCI handwritten digits (1,797 grey-scale 8x8
images, 10 classes, pixel values 0..16), shipped inside the scikit-learn package: no
download. The held-out split is stratified 80/20 and drawn with a fixed seed that does
not depend on the training seed, so ``snndsl train`` and ``snndsl run --data digits``
always see the same test images.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import torch

from ..diagnostics import UsageError

#: pip command that installs every optional dependency of training and its pictures
INSTALL_HINT = 'pip install "snndsl[examples]" (in a source checkout: pip install -e ".[examples]")'

#: import name -> pip distribution name
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "matplotlib": "matplotlib", "tqdm": "tqdm"}

DATASETS = ("digits",)
TEST_FRACTION = 0.2
SPLIT_SEED = 0


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
    """A data set as tensors: images ``[N, *shape]`` in [0, 1] and integer labels ``[N]``."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    shape: tuple[int, ...]


def check_dataset(name: str) -> None:
    if name not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; available: {', '.join(DATASETS)}")


def load_split(name: str) -> Split:
    """The deterministic train/test split of a bundled data set."""
    check_dataset(name)
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
    xt = torch.from_numpy(x).unsqueeze(1)  # [N, 1, 8, 8]
    yt = torch.from_numpy(y)
    mask = torch.from_numpy(test)
    return Split(name, xt[~mask].contiguous(), yt[~mask].contiguous(), xt[mask].contiguous(),
                 yt[mask].contiguous(), int(y.max()) + 1, (1, 8, 8))
