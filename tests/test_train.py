"""Training on the bundled digits data set (snndsl.training): a short run that must learn.

The full run (10 epochs, about 97% test accuracy) is measured in docs/training.md; here
one epoch must already be far above chance (10%), and the run folder must hold a
checkpoint keyed by the .snn labels, the metrics and three PNG pictures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnLimitError, UsageError

for _mod, _dist in (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib"), ("tqdm", "tqdm")):
    pytest.importorskip(_mod, reason=f"training needs {_dist}: pip install -e '.[examples]'")

from snndsl.training import evaluate_checkpoint, run_training  # noqa: E402
from snndsl.training.data import load_split  # noqa: E402

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits.snn"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    summary = run_training(DIGITS, data="digits", T=4, epochs=1, out=out, batch_size=64, lr=1e-3,
                           seed=0, progress=False)
    return out, summary


def test_one_epoch_learns(short_run):
    out, s = short_run
    assert s["epochs"] == 1
    assert s["train_size"] + s["test_size"] == 1797
    # chance is 10%; one epoch of the example reaches 80-90% (seeds 0-4)
    assert s["test_accuracy"] >= 0.5, s
    assert s["train_accuracy"] >= 0.5, s
    assert 0.0 < s["test_spike_rate"] < 1.0
    assert set(s["layer_spike_rates"]) == {"sn1", "sn2"}
    assert s["wall_time_s"] > 0


def test_run_folder(short_run):
    out, s = short_run
    for name in ("curves.png", "raster.png", "rates.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, name
        assert s["paths"][name.removesuffix(".png")] == str(out / name)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1
    row = metrics["history"][0]
    assert {"train_loss", "test_loss", "train_accuracy", "test_accuracy", "train_spike_rate"} <= set(row)
    assert metrics["summary"]["test_accuracy"] == s["test_accuracy"]
    assert not list(out.glob(".*.tmp")), "atomic writes left temporary files"


def test_checkpoint_keys_are_labels_and_reload(short_run):
    out, s = short_run
    state = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    net = snndsl.compile_file(DIGITS)
    assert list(state) == list(net.state_dict())
    assert {"conv1.weight", "bn1.running_mean", "fc1.weight", "bn2.weight", "fc2.bias"} <= set(state)
    net.load_state_dict(state, strict=True)
    acc = evaluate_checkpoint(net.eval(), "digits", T=4, device="cpu")
    assert acc == pytest.approx(s["test_accuracy"], abs=1e-9)


def test_split_is_fixed_and_stratified():
    a, b = load_split("digits"), load_split("digits")
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert (len(a.y_train), len(a.y_test)) == (1438, 359)
    assert a.x_train.shape[1:] == (1, 8, 8) and 0.0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1.0
    counts = torch.bincount(a.y_test, minlength=10).float()
    totals = counts + torch.bincount(a.y_train, minlength=10).float()
    assert torch.allclose(counts / totals, torch.full((10,), 0.2), atol=0.01)


def test_missing_extras_say_how_to_install(monkeypatch, tmp_path, capsys):
    from snndsl.cli import main

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    with pytest.raises(UsageError, match=r"scikit-learn.*pip install"):
        run_training(DIGITS, epochs=1, out=tmp_path, progress=False)
    assert main(["train", str(DIGITS), "--out", str(tmp_path / "cli")]) == 2
    err = capsys.readouterr().err
    assert 'pip install "snndsl[examples]"' in err and "Traceback" not in err
    assert not (tmp_path / "cli").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "--epochs"),
    ({"T": 0}, "-T"),
    ({"batch_size": 0}, "--batch-size"),
    ({"lr": -1.0}, "--lr"),
    ({"data": "mnist"}, "unknown data set"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        run_training(DIGITS, out=tmp_path, progress=False, **kwargs)


def test_model_that_does_not_fit_the_data(tmp_path):
    src = tmp_path / "wrong.snn"
    src.write_text("model M() {\n    input x: [3, 32, 32] static\n"
                   "    return x -> Flatten() -> fc: Linear(_, 10)\n}\n")
    with pytest.raises(UsageError, match=r"\[1, 8, 8\]"):
        run_training(src, out=tmp_path / "run", epochs=1, progress=False)
    src.write_text("model M() {\n    input x: [1, 8, 8] static\n"
                   "    return x -> Flatten() -> fc: Linear(_, 7)\n}\n")
    with pytest.raises(UsageError, match="10 classes"):
        run_training(src, out=tmp_path / "run", epochs=1, progress=False)


def test_a_run_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys):
    """-T so large that one value of a batch cannot fit: refused by snndsl.limits, located
    at the layer, before any [T, N, ...] tensor exists and before the run folder."""
    with pytest.raises(SnnLimitError, match=r"GiB.*memory here") as info:
        run_training(DIGITS, T=10**9, epochs=1, out=tmp_path / "run", progress=False)
    assert "lower -T" in info.value.hint
    assert not (tmp_path / "run").exists()
    net = snndsl.compile_file(DIGITS)
    with pytest.raises(SnnLimitError, match=r"N=359"):  # the evaluation batch: the test split
        evaluate_checkpoint(net, "digits", T=10**9, device="cpu")
    from snndsl.cli import main

    assert main(["train", str(DIGITS), "-T", str(10**9), "--out", str(tmp_path / "cli")]) == 1
    err = capsys.readouterr().err
    assert "GiB" in err and "Traceback" not in err and not (tmp_path / "cli").exists()
