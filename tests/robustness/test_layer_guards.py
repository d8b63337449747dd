"""nn.* layers and model calls that used to end in a traceback, a wrong result or a long
hang (issue #17): each is a located error now, or a clear exception from the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnLimitError, SnnTypeError

M = "model M() {{\n    input x: [4]\n    return x -> r: {layer} -> sn: IF()\n}}\n"


@pytest.mark.parametrize("layer, match, col", [
    ("nn.ReLU(inplace=true)", "inplace=true is not allowed", 28),
    ("nn.ReLU(true)", "inplace=true is not allowed", 28),
    ("nn.Hardtanh(-1.0, 1.0, true)", "inplace=true is not allowed", 43),
    ("nn.Identity(lambda=1)", "'lambda' is a Python keyword", 32),
    ("nn.Identity(class=1, x=2)", "'class' is a Python keyword", 32),
])
def test_refused_nn_arguments(layer, match, col):
    with pytest.raises(SnnTypeError, match=match) as info:
        snndsl.compile_source(M.format(layer=layer), "m.snn")
    assert (info.value.span.line, info.value.span.column) == (3, col)


def test_inplace_false_is_fine_and_a_fan_out_keeps_its_input():
    text = "model M() {\n    input x: [4]\n    h = x -> r: nn.ReLU(inplace=false)\n    return add(h, x)\n}\n"
    net = snndsl.compile_source(text)
    x = torch.randn(2, 3, 4)
    before = x.clone()
    assert torch.equal(net(x), torch.relu(before) + before) and torch.equal(x, before)


def test_a_keyword_argument_of_a_use_module_that_python_cannot_pass():
    text = ("use tests.compiler.usermods.Double as D stateless\nmodel M() {\n    input x: [4]\n"
            "    return x -> d: D(lambda=2) -> sn: IF()\n}\n")
    with pytest.raises(SnnTypeError, match="'lambda' is a Python keyword"):
        snndsl.compile_source(text, allow_imports={"tests"})


def test_probing_a_huge_nn_layer_is_bounded_in_time(monkeypatch):
    from snndsl.passes import infer_shapes

    monkeypatch.setattr(infer_shapes, "PROBE_SECONDS", 0.2)
    text = "model M() {\n    input x: [4, 1]\n    return x -> r: nn.RNN(1, 1, 100000) -> sn: IF()\n}\n"
    with pytest.raises(SnnLimitError, match="took more than 0.2 s") as info:
        snndsl.compile_source(text, "m.snn")
    assert (info.value.span.line, info.value.span.column) == (3, 17)


STATIC = "model M() {\n    input img: [4] static\n    return img -> fc: Linear(4, 4) -> sn: IF()\n}\n"


@pytest.mark.parametrize("T", [2.5, "4", True, 0, -1, None])
def test_static_input_T_must_be_a_positive_integer(T):
    net = snndsl.compile_source(STATIC)
    with pytest.raises(ValueError, match="T must be a positive integer|pass the number of time steps"):
        net(torch.rand(2, 4), T=T)


def test_inputs_must_be_tensors():
    net = snndsl.compile_source(STATIC)
    with pytest.raises(TypeError, match=r"expects img as a torch.Tensor, got ndarray; convert it with torch.from_numpy"):
        net(np.zeros((2, 4), dtype=np.float32), T=2)
    assert net(torch.zeros(2, 4), T=np.int64(3).item()).shape == (3, 2, 4)


def test_an_nn_argument_built_from_shared_tuples_is_refused_not_expanded():
    """30 lines describe 10**29 items; passing them to torch (or printing them) would hang."""
    lets = ["let A0 = (1, 2)"] + [f"let A{i} = ({', '.join([f'A{i - 1}'] * 10)})" for i in range(1, 30)]
    text = "\n".join(lets) + "\nmodel M() {\n    input x: [4]\n    return x -> nn.Identity(A29)\n}\n"
    with pytest.raises(SnnTypeError) as info:
        snndsl.compile_source(text, "a.snn")
    assert "holds more than 100,000 values" in info.value.message
    assert (info.value.span.line, info.value.span.column) == (33, 29)
