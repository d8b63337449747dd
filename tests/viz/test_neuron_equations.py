"""viz shows a neuron defined in the language by its equations: the node's tooltip and a
panel of the report hold its step (:mod:`snndsl.viz.equations`), escaped for DOT and HTML,
the same bytes on every run."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

import pytest

from snndsl.compiler import lower, trace_passes
from snndsl.ir import ops
from snndsl.viz import render, to_dot
from snndsl.viz.equations import program_lines
from snndsl.viz.report import build_report

MODEL = """
neuron Odd(tag: str = "a<b>&\\"c", tau: float = 2.0) {
    input x
    state v = 0.0
    state w = 0.0
    h = v + (x - (v + w)) / tau
    s = spike(h - 1.0)
    w = w - (-0.5) * s ** 2.0
    v = h - s
    return s
}
model M() {
    input x: [4]
    h = x -> fc: Linear(4, 4) -> sn: Odd(tag="<script>&amp;'x'</script>", tau=4.0)
    return h -> ro: LI(tau=3.0)
}
"""


def program(call: str) -> object:
    op = lower(f"model M() {{\n    input x: [4]\n    return x -> sn: {call}\n}}\n", "t.snn",
               stop_after="build").node("sn").op
    assert isinstance(op, ops.ProgramNeuron)
    return op.program


@pytest.mark.parametrize(("call", "lines"), [
    ("LI(tau=4.0)", ["v' = v + (x - v) / 4.0", "return v'"]),
    ("CubaLIF()", ["c' = c * 0.5 + x", "t1 = v * 0.75 + c'", "s = spike(t1 - 0.5)",
                   "v' = s * 0.0 + (1.0 - s) * t1", "return s"]),
    ("CubaLIF(v_reset=none, detach_reset=true, v_threshold=-0.2)",
     ["c' = c * 0.5 + x", "t1 = v * 0.75 + c'", "s = spike(t1 - (-0.2))", "v' = t1 - detach(s) * (-0.2)",
      "return s"]),
])
def test_a_program_reads_as_its_equations(call, lines):
    assert program_lines(program(call)) == lines


def test_parentheses_follow_the_evaluation_order_and_every_state_is_shown():
    lines = program_lines(lower(MODEL, "m.snn", stop_after="build").node("sn").op.program)
    assert lines == ["t1 = v + (x - (v + w)) / 4.0", "s = spike(t1 - 1.0)", "w' = w - (-0.5) * s ** 2.0",
                     "v' = t1 - s", "return s"]


def test_the_tooltip_of_a_defined_neuron_holds_its_equations_escaped():
    traces = trace_passes(MODEL, "m.snn")
    ir = dict(traces)["mark-state"]
    svg = render(ir, fmt="svg")
    root = ET.fromstring(svg)  # well-formed XML, whatever the strings of the file
    tips = [a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter("{http://www.w3.org/2000/svg}a")]
    (sn,) = [t for t in tips if t.startswith("m.snn:") and "\nsn: Odd(" in t]
    assert "<script>&amp;'x'</script>" in sn  # the string as written, not markup
    assert "neuron Odd, one step:\nt1 = v + (x - (v + w)) / 4.0\n" in sn and sn.rstrip().endswith("return s")
    (ro,) = [t for t in tips if "\nro: LI(tau=3.0)" in t]
    assert "neuron LI, one step:\nv' = v + (x - v) / 3.0\nreturn v'" in ro
    (fc,) = [t for t in tips if "\nfc: Linear(" in t]
    assert "one step" not in fc  # built-in layers have no program


def test_the_report_has_a_panel_of_the_neurons_escaped_and_deterministic():
    traces = trace_passes(MODEL, "m.snn")
    files = build_report(traces, fmt="dot")
    index = files["index.html"]
    assert isinstance(index, str)
    panel = index[index.index('<section id="neurons">'):]
    panel = panel[: panel.index("</section>")]
    assert "<script>" not in index and html.escape("<script>&amp;'x'</script>") in panel
    assert panel.index("Odd(") < panel.index("LI(tau=3.0)")  # source order
    assert "used as sn" in panel and "used as ro" in panel
    assert "<pre>" + html.escape("v' = v + (x - v) / 3.0\nreturn v'") + "</pre>" in panel
    assert build_report(trace_passes(MODEL, "m.snn"), fmt="dot") == files
    assert to_dot(dict(traces)["build"]) == to_dot(dict(trace_passes(MODEL, "m.snn"))["build"])


def test_a_model_without_defined_neurons_has_no_panel():
    traces = trace_passes("model M() {\n    input x: [4]\n    return x -> sn: LIF()\n}\n", "m.snn")
    index = build_report(traces, fmt="dot")["index.html"]
    assert isinstance(index, str) and 'id="neurons"' not in index
