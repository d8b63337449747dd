"""Training and evaluation on bundled data sets (``snndsl train``, ``snndsl run --data``).

* :mod:`.loop`: :func:`run_training`, the training run and its run folder;
* :mod:`.evaluate`: :func:`evaluate_checkpoint` and what training shares with it (the
  model's interface, the forward pass over time, device and thread settings);
* :mod:`.data`: the data sets and the optional dependencies they need;
* :mod:`.monitor`: spike monitors (forward hooks on the stateful modules);
* :mod:`.plots`: the pictures of a run.

Nothing here imports scikit-learn, matplotlib or tqdm at import time: they are optional
(``pip install "snndsl[examples]"``) and are loaded when a command needs them.
"""

from .evaluate import evaluate_checkpoint
from .loop import run_training

__all__ = ["run_training", "evaluate_checkpoint"]
