"""The standard prelude (grammars/prelude.snn): it parses, each neuron elaborates for
every combination of its switches, its signatures are SpikingJelly's, and its programs,
run instruction by instruction, give SpikingJelly's values bit for bit."""

from __future__ import annotations

import inspect
import itertools
from pathlib import Path

import pytest
import torch

from snndsl.compiler import lower
from snndsl.frontend import ast
from snndsl.frontend.evaluate import Evaluator
from snndsl.frontend.prelude import prelude_file, prelude_neurons, prelude_text
from snndsl.ir import ops
from snndsl.ir.neuron_program import Code, NeuronProgram

ROOT = Path(__file__).resolve().parents[2]
SWITCHES = {
    "LI": {"tau": ("2.0", "10.0")},
    "CubaLIF": {"v_reset": ("0.0", "none", "-0.2"), "detach_reset": ("false", "true")},
    "KLIF": {"scale_reset": ("false", "true"), "decay_input": ("true", "false"), "v_reset": ("0.0", "none", "-0.2"),
             "detach_reset": ("false", "true")},
    "Izhikevich": {"v_reset": ("0.0", "none"), "detach_reset": ("false", "true"), "a": ("0.0", "0.3"),
                   "b": ("0.0", "0.1")},
    "ALIF": {"v_reset": ("none", "0.0"), "detach_reset": ("false", "true")},
}


def neuron_program(call: str) -> NeuronProgram:
    text = f"model M() {{\n    input x: [16]\n    return x -> sn: {call}\n}}\n"
    op = lower(text, "t.snn", stop_after="build").node("sn").op
    assert isinstance(op, ops.ProgramNeuron)
    return op.program


def calls(name: str) -> list[str]:
    keys = list(SWITCHES[name])
    return [f"{name}({', '.join(f'{k}={v}' for k, v in zip(keys, combo))})"
            for combo in itertools.product(*(SWITCHES[name][k] for k in keys))]


def test_the_prelude_parses_and_ships_in_the_wheel() -> None:
    items = prelude_file().items
    names = ["LI", "CubaLIF", "KLIF", "Izhikevich", "ALIF"]
    assert [i.name for i in items if isinstance(i, ast.NeuronDef)] == names
    assert list(prelude_neurons()) == names
    assert prelude_text() == (ROOT / "grammars" / "prelude.snn").read_text(encoding="utf-8")
    assert '"snndsl.grammars" = ["*.lark", "*.snn"]' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("call", [c for name in SWITCHES for c in calls(name)])
def test_each_prelude_neuron_elaborates(call: str) -> None:
    p = neuron_program(call)
    assert p.problems() == [] and p.spiking == (not call.startswith("LI("))  # LI returns its potential
    # SpikingJelly's default surrogates: Sigmoid(alpha=4.0), CUBALIFNode's Rect(alpha=1.0)
    assert p.surrogate == ops.SurrogateValue("Rect" if call.startswith("CubaLIF") else "Sigmoid")
    assert p.params == ((("k", 1.0),) if call.startswith("KLIF") else ())


def _signature(cls: type) -> list[tuple[str, object]]:
    skip = {"self", "surrogate_function", "step_mode", "store_v_seq"}
    return [(n, p.default) for n, p in inspect.signature(cls.__init__).parameters.items() if n not in skip]


def _header(name: str) -> list[tuple[str, object]]:
    decl = prelude_neurons()[name].node
    return [(p.name, Evaluator({})(p.default)) for p in decl.params if p.default is not None]


def test_signatures_are_spikingjellys() -> None:
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    assert _header("KLIF") == _signature(neuron.KLIFNode)
    assert _header("Izhikevich") == _signature(neuron.IzhikevichNode)
    # NonSpikingLIFNode's `decode` reduces over T, which is no step equation
    assert _header("LI") == [p for p in _signature(neuron.NonSpikingLIFNode) if p[0] != "decode"]
    # CubaLIF declares SpikingJelly's surrogate_function in its place, as `surrogate`, and adds
    # detach_reset (an attribute of SpikingJelly's neurons, not an argument of CUBALIFNode)
    cuba = _header("CubaLIF")
    assert cuba[:4] == _signature(neuron.CUBALIFNode)
    assert cuba[4:] == [("surrogate", ops.SurrogateValue("Rect")), ("detach_reset", False)]


def run(p: NeuronProgram, xs: torch.Tensor, params: dict[str, torch.Tensor]) -> tuple[list, list]:
    """The program's instructions, in order, as torch operations (the reference semantics)."""
    states = {name: torch.full_like(xs[0], value) for name, value in p.states}
    spikes, trace = [], []
    unary = {Code.EXP: torch.exp, Code.LOG: torch.log, Code.SQRT: torch.sqrt, Code.ABS: torch.abs,
             Code.TANH: torch.tanh, Code.SIGMOID: torch.sigmoid, Code.RELU: torch.relu, Code.NEG: torch.neg,
             Code.DETACH: torch.Tensor.detach, Code.SPIKE: lambda e: (e >= 0).to(e)}
    binary = {Code.ADD: torch.add, Code.SUB: torch.sub, Code.MUL: torch.mul, Code.DIV: torch.div,
              Code.POW: torch.pow, Code.MIN: torch.minimum, Code.MAX: torch.maximum}
    for x in xs:
        vals: list = []
        for ins in p.instrs:
            a = [vals[i] for i in ins.args]
            if ins.code is Code.CONST:
                vals.append(ins.value)  # a Python float, as SpikingJelly's own constants are
            elif ins.code is Code.INPUT:
                vals.append(x)
            elif ins.code is Code.STATE:
                vals.append(states[ins.value])
            elif ins.code is Code.PARAM:
                vals.append(params[ins.value])
            elif ins.code in unary:
                vals.append(unary[ins.code](a[0]))
            elif ins.code is Code.CLAMP:
                vals.append(torch.clamp(a[0], a[1], a[2]))
            else:
                x0, x1 = a
                if isinstance(x0, float) and isinstance(x1, float):  # pragma: no cover - folded by elaboration
                    raise AssertionError("two constants")
                vals.append(binary[ins.code](x0, x1) if not isinstance(x0, float) else
                            _scalar_left(ins.code, x0, x1))
        states = {name: vals[i] for name, i in p.updates}
        spikes.append(vals[p.output])
        trace.append(dict(states))
    return spikes, trace


def _scalar_left(code: Code, c: float, t: torch.Tensor) -> torch.Tensor:
    """``c op t`` as Python evaluates it for a float ``c`` (``1.0 - s`` is ``torch.rsub``)."""
    return {Code.ADD: lambda: c + t, Code.SUB: lambda: c - t, Code.MUL: lambda: c * t, Code.DIV: lambda: c / t,
            Code.POW: lambda: c**t}[code]()


SJ_CASES = [
    ("KLIF", "KLIFNode", {"scale_reset": sr, "decay_input": di, "v_reset": vr, "detach_reset": dr})
    for sr, di, vr, dr in itertools.product((False, True), (True, False), (0.0, None, -0.2), (False,))
] + [
    ("Izhikevich", "IzhikevichNode", {"v_reset": vr, "a": a, "b": b, "tau": 3.0})
    for vr, a, b in itertools.product((0.0, None), (0.0, 0.3), (0.0, 0.1))
] + [
    ("CubaLIF", "CUBALIFNode", {"c_decay": 0.6, "v_decay": 0.8, "v_threshold": th, "v_reset": vr})
    for th, vr in itertools.product((0.5, 1.0), (0.0, None, -0.2))
]


def _snn(v: object) -> str:
    return "none" if v is None else ("true" if v is True else "false" if v is False else repr(v))


@pytest.mark.parametrize(("name", "cls", "kwargs"), SJ_CASES)
def test_programs_give_spikingjellys_values_bit_for_bit(name: str, cls: str, kwargs: dict) -> None:
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    torch.manual_seed(0)
    xs = torch.randn(12, 3, 16) * 1.5
    p = neuron_program(f"{name}({', '.join(f'{k}={_snn(v)}' for k, v in kwargs.items())})")
    node = getattr(neuron, cls)(**kwargs)
    params = {n: getattr(node, n).detach().clone() for n, _ in p.params}
    with torch.no_grad():
        spikes, trace = run(p, xs, params)
        for t, x in enumerate(xs):
            assert torch.equal(node(x), spikes[t]), t
            for state, value in trace[t].items():
                assert torch.equal(getattr(node, state), value), (t, state)


def test_check_lists_the_neuron_definitions_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from snndsl.cli import main

    model = tmp_path / "izh.snn"
    model.write_text("model M() {\n    input x: [8]\n    return x -> fc: Linear(8, 4) -> sn: Izhikevich()\n}\n")
    assert main(["check", str(model)]) == 0
    out = capsys.readouterr().out
    assert "neuron definitions used: Izhikevich (spiking, at sn)" in out
