"""Everything is checked before anything runs: arguments that torch or the runtime would
reject must be located errors at compile time, never exceptions from ``compile_source``,
``check`` or the first forward pass.

Each row is one stage on a small input. ``ok`` rows must compile and run; ``error`` rows
must raise a located ``SnnError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import snndsl
from snndsl.diagnostics import SnnError

from .support import assert_clean, run_cli, tiny_forward

OK, ERROR = "ok", "error"


ROWS = [
    # (input shape, stage, expected, marks)
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, padding_mode="circular", padding=1)', OK, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, padding_mode="evil")', ERROR, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, padding="same", stride=2)', ERROR, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, padding="xx")', ERROR, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 1, padding=-1)', ERROR, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, groups=0)', ERROR, ()),
    ("[1, 4, 4]", 'Conv2d(1, 2, 3, dilation=0)', ERROR, ()),
    ("[1, 4, 4]", 'GELU(approximate="evil")', ERROR, ()),
    ("[1, 4, 4]", 'Upsample(scale_factor=2, mode="evil")', ERROR, ()),
    ("[1, 4, 4]", 'Upsample(scale_factor=2, mode="nearest", align_corners=true)', ERROR, ()),
    ("[1, 4, 4]", 'Upsample(scale_factor=2, mode="linear")', ERROR, ()),
    ("[1, 4, 4]", 'Upsample(scale_factor=2, mode="bilinear", align_corners=true)', OK, ()),
    ("[1, 4, 4]", "Upsample(size=8, scale_factor=2)", ERROR, ()),
    ("[4]", "LIF(tau=-1.0)", ERROR, ()),
    ("[4]", "LIF(tau=1)", ERROR, ()),
    ("[4]", "PLIF(init_tau=0.5)", ERROR, ()),
    ("[4]", "LIF(tau=1.5, v_threshold=-1, v_reset=none)", OK, ()),
    ("[4]", "LIF(surrogate=PiecewiseLeakyReLU(w=0, c=0))", ERROR, ()),
    ("[4]", "Dropout(p=1)", ERROR, ()),
    ("[4]", "Dropout(-0.5)", ERROR, ()),
    ("[4]", "Dropout2d()", ERROR, ()),
    ("[1, 4, 4]", "BatchNorm2d(1, eps=-1)", ERROR, ()),
    ("[1, 4, 4]", "MaxPool2d(2, padding=-1)", ERROR, ()),
    ("[1, 4, 4]", "MaxPool2d(2, dilation=0)", ERROR, ()),
    ("[1, 4, 4]", "AvgPool2d(2, divisor_override=0)", ERROR, ()),
    ("[1, 4, 4]", "AvgPool2d(3, stride=2, ceil_mode=true, padding=1)", OK, ()),
    ("[1, 4, 4]", "AdaptiveAvgPool2d(0)", ERROR, ()),
    ("[1, 4, 4]", "AdaptiveAvgPool2d(none)", OK, ()),
    ("[1, 4, 4]", "Flatten(2, 1)", ERROR, ()),
    ("[1, 4, 4]", "VotingLayer(2)", ERROR, ()),
    ("[1, 4, 4]", "ConvTranspose2d(1, 2, 3, output_padding=5)", ERROR, ()),
    ("[1, 4, 4]", "ConvTranspose2d(1, 2, 3, padding=-3)", ERROR, ()),
    ("[1, 4, 4]", "ConvTranspose2d(1, 3, 3, groups=2)", ERROR, ()),
    ("[1, 4, 4]", "LayerNorm(())", ERROR, ()),
    ("[1, 6, 6]", 'Conv2d(1, 2, 3, padding=2, padding_mode="reflect")', OK, ()),
    ("[1, 2, 2]", 'Conv2d(1, 2, 3, padding=3, padding_mode="reflect")', ERROR, ()),
    ("[1, 4, 4]", 'ConvTranspose2d(1, 2, 3, padding_mode="reflect")', ERROR, ()),
    ("[4]", "LIF(v_threshold=1e308, v_reset=-1e308)", ERROR, ()),
    ("[4]", "nn.CELU(alpha=0)", ERROR, ()),  # torch checks this only in a real forward
    ("[3, 6]", "nn.Softmax(3)", ERROR, ()),  # meta kernels do not check dims
    ("[4]", "nn.LazyLinear(3)", ERROR, ()),
    ("[4]", "nn.Flatten(0)", ERROR, ()),
    ("[4]", 'nn.Linear(4, 4, device="meta")', ERROR, ()),
    ("[4]", "nn.Module()", ERROR, ()),
    ("[4]", "nn.RNN(4, 3)", ERROR, ()),
    ("[4]", "nn.Softmax(dim=-1)", OK, ()),
    ("[4]", "nn.Softmax(dim=0)", ERROR, ()),
    ("[4]", 'nn.Linear(4, 4, dtype="float64")', ERROR, ()),
    ("[1, 4, 4]", "AdaptiveAvgPool2d((none, 2))", OK, ()),
    ("[1, 2, 2]", 'Conv2d(1, 2, 5, padding="same", padding_mode="reflect")', ERROR, ()),
    ("[1, 2, 2]", 'Conv2d(1, 2, 3, padding=2, padding_mode="circular")', OK, ()),
    ("[1, 2, 2]", 'Conv2d(1, 2, 3, padding=3, padding_mode="circular")', ERROR, ()),
    ("[4]", "LIF(surrogate=SoftSign(alpha=0))", ERROR, ()),
    ("[4]", "LIF(tau=3.5e38)", ERROR, ()),
    ("[4]", 'nn.Identity("x\\n\\"\')")', OK, ()),
    # were crashes (issue #13): now located errors at compile time
    ("[1, 4]", "AdaptiveAvgPool1d(none)", ERROR, ()),
    ("[1, 4, 4]", "Upsample(scale_factor=(2, 3, 4))", ERROR, ()),
    ("[2, 6]", "Upsample(scale_factor=(1, 2))", ERROR, ()),
    ("[1, 4, 4]", "Upsample(scale_factor=(2,))", ERROR, ()),
    ("[1, 4, 4]", "Upsample(scale_factor=(2, 3))", OK, ()),
    ("[4]", "nn.ZeroPad2d(1)", ERROR, ()),
    ("[4]", "nn.ZeroPad1d(1)", OK, ()),
]


@pytest.mark.parametrize("shape,stage,expected",
                         [pytest.param(s, st, e, marks=m, id=st) for s, st, e, m in ROWS])
def test_argument_is_checked_before_anything_runs(shape: str, stage: str, expected: str) -> None:
    text = f"model M() {{ input x: {shape}; return x -> {stage} }}"
    try:
        net = snndsl.compile_source(text, "args.snn")
        tiny_forward(net)
    except SnnError as e:
        assert expected == ERROR, f"a valid stage was refused: {e}"
        assert e.span.filename == "args.snn" and e.span.line == 1
        return
    assert expected == OK, "an invalid argument was accepted"


PARAM_MODEL = "model M(p: float = 0.5, t: float = 2.0, c: int = 4) { input x: [4]; return x -> Dropout(p) -> fc: Linear(4, c) -> LIF(tau=t) }\n"


@pytest.mark.parametrize("setting", [
    "p=nan", "p=-inf", "c=-3", "c=0x10", "c=true", "t=none", "c=" + "9" * 5000, "c=99999999999999999999999",
    "t=inf", "t=nan", "t=1e999", "t=-1e999",
])
def test_cli_parameters_are_checked(setting: str, tmp_path: Path) -> None:
    src = tmp_path / "par.snn"
    src.write_text(PARAM_MODEL)
    status, out, err = run_cli(["check", str(src), "--set", setting])
    assert_clean(status, out, err, str(src), allowed=(1, 2))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_api_parameters_must_be_finite(value: float) -> None:
    with pytest.raises((SnnError, ValueError)):
        snndsl.compile_source(PARAM_MODEL, "par.snn", params={"t": value})


def test_non_literal_values_cannot_reach_generated_code() -> None:
    """``literal()`` refuses anything that ``repr`` would not turn back into the same value."""
    from snndsl.codegen.emit import literal

    for v in (1, -2.5, 1e308, True, None, "a'\"\\\n", (1, (2.0, "x")), ()):
        assert eval(literal(v), {"__builtins__": {}}) == v  # noqa: S307 - our own literal
    for v in (object(), [1], {1: 2}, b"x", 1j):
        with pytest.raises((TypeError, ValueError)):
            literal(v)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_floats_are_not_emitted_as_names(value: float) -> None:
    """``repr`` gives ``nan``/``inf``, which are names in Python: ``literal`` refuses the value,
    or writes source that evaluates, without builtins, to the same value."""
    import math

    from snndsl.codegen.emit import literal

    try:
        text = literal(value)
    except (TypeError, ValueError):
        return  # refused: the value cannot reach generated code
    assert text not in ("nan", "inf", "-inf"), text
    back = eval(text, {"__builtins__": {}})  # noqa: S307 - our own literal
    assert isinstance(back, float) and (math.isnan(back) if math.isnan(value) else back == value), text
