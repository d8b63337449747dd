"""Make ``reference.npz``: the spike trains the NIR-paper tests feed, and Norse 1.1.0's outputs.

Run by hand (the tests only read the result; they never need Norse)::

    .venv/bin/python tests/interop/data/nir_paper/make_reference.py

Norse is run as the NIR paper runs it (``paper/03_rnn/norse_apply.ipynb`` and
``paper/02_cnn/norse_apply.ipynb`` in neuromorphs/NIR): ``norse.torch.from_nir(graph,
dt=1e-4, reset_method=...)`` (``reset_value`` for ``*_bias_zero``, ``reset_subtract`` for
``*_noBias_subtract``; the CNN with Norse's defaults), stepped one time step at a time
with its state, and the class is the argmax of the output spike counts over time.

The paper's own inputs (``paper/03_rnn/data/ds_test.pt``, ``paper/02_cnn/cnn_numbers.npy``)
are Git LFS objects that the repository snapshot does not hold, so the inputs here are
deterministic random spike trains of the paper's shapes: Braille ``[256 steps, 12 taxels]``
(a rate per sample and taxel, uniform in [0, 0.25]), N-MNIST ``[T, 2, 34, 34]`` frames.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
BRAILLE = {"braille_noDelay_bias_zero": "reset_value", "braille_noDelay_noBias_subtract": "reset_subtract"}
N_BRAILLE, T_BRAILLE, TAXELS = 50, 256, 12
N_CNN, T_CNN = 8, 40


def inputs() -> dict[str, np.ndarray]:
    g = np.random.default_rng(20231115)
    rates = g.uniform(0.0, 0.25, (N_BRAILLE, 1, TAXELS))
    braille = (g.random((N_BRAILLE, T_BRAILLE, TAXELS)) < rates).astype(np.uint8)
    rates = g.uniform(0.02, 0.12, (N_CNN, 1, 2, 1, 1))
    cnn = (g.random((N_CNN, T_CNN, 2, 34, 34)) < rates).astype(np.uint8)
    return {"braille_input": braille, "cnn_input": cnn}


def run_norse(graph, x: torch.Tensor, **kw) -> np.ndarray:
    """Norse's output spikes ``[T, ...]`` for input ``[T, ...]``, one step at a time."""
    import norse.torch

    net = norse.torch.from_nir(graph, **kw)
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            z, state = net(x[t], state)
            out.append(z)
    return torch.stack(out).numpy()


def main() -> int:
    import nir
    import norse
    import norse.torch.functional.reset as reset

    warnings.simplefilter("ignore", DeprecationWarning)
    data = inputs()
    out = dict(data)
    xb = torch.from_numpy(data["braille_input"]).float().transpose(0, 1)  # [T, N, 12]
    for name, method in BRAILLE.items():
        graph = nir.read(HERE / f"{name}.nir")
        z = run_norse(graph, xb, dt=1e-4, reset_method=getattr(reset, method)).transpose(1, 0, 2)
        out[f"{name}_norse_spikes"] = z.astype(np.uint8)  # [N, T, 7]
        out[f"{name}_norse_class"] = z.sum(1).argmax(1)
        print(name, "classes", np.bincount(out[f"{name}_norse_class"], minlength=7), "spikes", int(z.sum()))
    graph = nir.read(HERE / "cnn_sinabs.nir")
    # the graph's Flatten has start_dim=0, which Norse applies to a batch dim too: one
    # unbatched sample at a time ([2, 34, 34] per step)
    xc = torch.from_numpy(data["cnn_input"]).float()
    z = np.stack([run_norse(graph, xc[i]) for i in range(len(xc))])  # [N, T, 10]
    out["cnn_sinabs_norse_spikes"] = z.astype(np.uint8)
    print("cnn_sinabs spikes", int(z.sum()), "per sample", z.sum((1, 2)))
    out["norse_version"] = np.array(norse.__version__)
    out["nir_version"] = np.array(nir.__version__ if hasattr(nir, "__version__") else "")
    out["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(HERE / "reference.npz", **out)
    print("wrote", HERE / "reference.npz", (HERE / "reference.npz").stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
