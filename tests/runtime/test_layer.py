"""Stateless layers and Dropout against SpikingJelly 2.0.0, in both step modes."""

from __future__ import annotations

import pytest
import torch

from snndsl.runtime import layer

T, N = 3, 2

# (name, constructor args, per-step input shape [N, *])
CASES = [
    ("Conv1d", (3, 4, 3), {"padding": 1}, (N, 3, 7)),
    ("Conv2d", (3, 4, 3), {"padding": 1, "bias": False}, (N, 3, 6, 6)),
    ("Conv3d", (2, 3, 3), {}, (N, 2, 5, 5, 5)),
    ("ConvTranspose1d", (3, 2, 3), {"stride": 2}, (N, 3, 5)),
    ("ConvTranspose2d", (3, 2, 3), {"stride": 2}, (N, 3, 4, 4)),
    ("Linear", (5, 4), {}, (N, 5)),
    ("BatchNorm1d", (4,), {}, (N, 4, 6)),
    ("BatchNorm2d", (4,), {}, (N, 4, 5, 5)),
    ("BatchNorm3d", (4,), {}, (N, 4, 3, 3, 3)),
    ("GroupNorm", (2, 4), {}, (N, 4, 5, 5)),
    ("MaxPool1d", (2,), {}, (N, 3, 8)),
    ("MaxPool2d", (2,), {}, (N, 3, 6, 6)),
    ("MaxPool3d", (2,), {}, (N, 3, 4, 4, 4)),
    ("AvgPool1d", (2,), {}, (N, 3, 8)),
    ("AvgPool2d", (2,), {}, (N, 3, 6, 6)),
    ("AvgPool3d", (2,), {}, (N, 3, 4, 4, 4)),
    ("AdaptiveAvgPool1d", (3,), {}, (N, 3, 8)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (N, 3, 6, 7)),
    ("AdaptiveAvgPool3d", (2,), {}, (N, 3, 4, 4, 4)),
    ("Flatten", (), {}, (N, 3, 4, 5)),
    ("Upsample", (), {"scale_factor": 2}, (N, 3, 4, 4)),
    ("VotingLayer", (5,), {}, (N, 20)),
]


@pytest.mark.parametrize("mode", "sm")
@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_stateless_layer_matches_spikingjelly(sj, name, args, kwargs, shape, mode):
    torch.manual_seed(0)
    ours = getattr(layer, name)(*args, step_mode=mode, **kwargs)
    ref = getattr(sj.layer, name)(*args, step_mode=mode, **kwargs)
    ref.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())  # no extra nesting
    x = torch.rand((T, *shape), generator=torch.Generator().manual_seed(1))
    inputs = list(x) if mode == "s" else [x]
    for xi in inputs:
        assert torch.equal(ours(xi), ref(xi))
    for key, value in ref.state_dict().items():  # running statistics too
        assert torch.equal(ours.state_dict()[key], value), key


@pytest.mark.parametrize("name", ["LayerNorm", "Identity"])
def test_trailing_dim_layers_need_no_reshape(name):
    torch.manual_seed(0)
    args = (6,) if name == "LayerNorm" else ()
    ours = getattr(layer, name)(*args, step_mode="m")
    plain = getattr(torch.nn, name)(*args)
    plain.load_state_dict(ours.state_dict())
    x = torch.rand(T, N, 6)
    assert torch.equal(ours(x), plain(x))


def test_flatten_counts_per_sample_dims_in_multi_step():
    assert layer.Flatten(step_mode="m")(torch.zeros(T, N, 3, 4, 5)).shape == (T, N, 60)


@pytest.mark.parametrize(
    "make,x,shape",
    [
        (
            lambda: layer.Conv2d(3, 4, 3, step_mode="m"),
            torch.zeros(N, 3, 6, 6),
            r"\[T, N, C, H, W\]",
        ),
        (lambda: layer.BatchNorm1d(4, step_mode="m"), torch.zeros(N, 4), r"\[T, N, C\] or"),
        (lambda: layer.MaxPool1d(2, step_mode="m"), torch.zeros(N, 3), r"\[T, N, C, L\]"),
    ],
)
def test_multi_step_rank_errors(make, x, shape):
    with pytest.raises(ValueError, match=f"expected x with shape {shape}.*step_mode='s'"):
        make()(x)


def test_maxpool_indices_survive_multi_step():
    pool = layer.MaxPool2d(2, return_indices=True, step_mode="m")
    y, idx = pool(torch.rand(T, N, 3, 4, 4))
    assert y.shape == idx.shape == (T, N, 3, 2, 2)


@pytest.mark.parametrize("cls,p", [("Dropout", 0.5), ("Dropout2d", 0.2)])
@pytest.mark.parametrize("mode", "sm")
def test_dropout_matches_spikingjelly(sj, cls, p, mode):
    ours, ref = getattr(layer, cls)(p, step_mode=mode), getattr(sj.layer, cls)(p, step_mode=mode)
    x = torch.rand(T, N, 4, 3, 3) + 0.1
    outs = []
    for module in (ours, ref):
        torch.manual_seed(3)
        outs.append(torch.stack([module(t) for t in x]) if mode == "s" else module(x))
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("mode", "sm")
def test_dropout_mask_is_reused_across_time_and_calls_until_reset(mode):
    drop = layer.Dropout(0.5, step_mode=mode)
    ones = torch.ones(T, 64, 8)
    first = torch.stack([drop(t) for t in ones]) if mode == "s" else drop(ones)
    assert all(torch.equal(first[0], first[t]) for t in range(T))  # same mask at every t
    assert set(first.unique().tolist()) == {0.0, 2.0}
    again = drop(ones[0]) if mode == "s" else drop(ones)[0]
    assert torch.equal(again, first[0])  # and on the next call
    drop.reset()
    assert drop.mask is None
    torch.manual_seed(123)
    fresh = drop(ones[0]) if mode == "s" else drop(ones)[0]
    assert not torch.equal(fresh, first[0])  # a new mask after reset
    drop.eval()
    assert torch.equal(drop(ones), ones)  # identity in eval


def test_dropout_refuses_p_outside_unit_interval():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        layer.Dropout(1.0)
