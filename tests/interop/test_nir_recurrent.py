"""NIR cycles <-> ``prev``; NIR CubaLIF, LI, Delay and Scale <-> their ``.snn`` ops.

Imports are checked against a direct forward-Euler simulation of the NIR equations (the
reading Norse 1.1.0 and snnTorch use), exports against the importer (round trips).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

import snndsl
from snndsl.interop._common import NirError
from snndsl.interop.nir import read_nir, to_nir
from snndsl.interop.nir_import import import_graph

from .util import spikes

DT = 1e-4


def full(n: int, v: float) -> np.ndarray:
    return np.full(n, v, dtype=np.float64)


def affine(out: int, inp: int, seed: int, bias: bool = True):
    g = np.random.default_rng(seed)
    w = g.uniform(-0.3, 1.0, (out, inp)).astype(np.float32)
    if not bias:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=g.uniform(0, 0.2, out).astype(np.float32))


def cuba(n: int, tau_syn=2e-4, tau_mem=1e-3, r=None, w_in=None, thr=1.0, leak=0.0):
    r = tau_mem / DT if r is None else r
    w_in = tau_syn / DT if w_in is None else w_in
    return nir.CubaLIF(tau_syn=full(n, tau_syn), tau_mem=full(n, tau_mem), r=full(n, r),
                       v_leak=full(n, leak), v_threshold=full(n, thr), w_in=full(n, w_in))


def compiled(result):
    net = snndsl.compile_source(result.source)
    net.load_state_dict(result.state_dict, strict=True)
    return net.eval()


def recurrent_graph(n_in=5, n=6, **kw) -> nir.NIRGraph:
    nodes = {"x": nir.Input(np.array([n_in])), "fc": affine(n, n_in, 0), "lif": cuba(n, **kw),
             "rec": affine(n, n, 1), "y": nir.Output(np.array([n]))}
    edges = [("x", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "y")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def euler_cuba(x, fc, rec, lif, soft=False):
    """NIR's CubaLIF with a recurrent Affine, one Euler step of DT per input (as Norse
    runs it: the recurrent edge carries the previous step's value, nothing at step 0)."""
    a, b = DT / lif.tau_syn[0], DT / lif.tau_mem[0]
    i = v = s = None
    out = []
    for xt in x:
        inp = xt @ fc.weight.T + fc.bias
        if s is not None:
            inp = inp + s @ rec.weight.T + rec.bias
        i = (1 - a) * (0 if i is None else i) + a * lif.w_in[0] * inp
        v = (1 - b) * (0 if v is None else v) + b * lif.r[0] * i
        s = (v > lif.v_threshold[0]).astype(np.float32)
        v = v - s * lif.v_threshold[0] if soft else v * (1 - s)
        out.append(s)
    return np.stack(out)


@pytest.mark.parametrize("soft", [False, True])
def test_cycle_imports_as_prev_and_runs_as_nir_reads_it(soft):
    g = recurrent_graph()
    result = import_graph(g, dt=DT, soft_reset=soft)
    assert "lif = add(fc, prev(rec)) -> lif: CubaLIF(c_decay=0.5, v_decay=0.9" in result.source
    assert "rec = lif -> rec: Linear(6, 6)" in result.source
    assert any("rec -> lif" in line for line in result.report)
    x = spikes(40, 3, 5, seed=3, p=0.4)
    got = compiled(result)(x).detach().numpy()
    want = euler_cuba(x.numpy().astype(np.float64), g.nodes["fc"], g.nodes["rec"], g.nodes["lif"], soft)
    assert got.sum() > 0
    assert np.mean(got == want) > 0.995  # float32 vs float64 at threshold crossings


def test_cubalif_input_gain_is_a_scale_stage():
    """w_in and r that do not cancel the Euler factors: one exact Scale before the neuron."""
    g = recurrent_graph(w_in=1.0, r=1.0, tau_syn=5e-4, tau_mem=1e-3)
    result = import_graph(g, dt=DT)
    gain = (DT / 5e-4) * (DT / 1e-3)
    assert f"Scale({gain:g}) -> lif: CubaLIF(c_decay=0.8, v_decay=0.9" in result.source
    x = spikes(30, 2, 5, seed=1, p=0.6) * 40.0
    got = compiled(result)(x).detach().numpy()
    want = euler_cuba(x.numpy().astype(np.float64), g.nodes["fc"], g.nodes["rec"], g.nodes["lif"])
    assert got.sum() > 0 and np.mean(got == want) > 0.995


def test_cubalif_with_a_leak_is_refused():
    g = nir.NIRGraph.from_list(affine(3, 2, 0), cuba(3, leak=0.1))
    with pytest.raises(NirError, match="v_leak = 0.1.*leaks towards 0"):
        import_graph(g, dt=DT)


def test_self_loop_and_two_cycles():
    """A node feeding itself, and a second cycle through two layers."""
    nodes = {"x": nir.Input(np.array([4])), "a": affine(4, 4, 0), "la": cuba(4),
             "b": affine(4, 4, 1), "lb": cuba(4), "back": affine(4, 4, 2), "y": nir.Output(np.array([4]))}
    edges = [("x", "a"), ("a", "la"), ("la", "la"), ("la", "b"), ("b", "lb"), ("lb", "back"),
             ("back", "a"), ("lb", "y")]
    result = import_graph(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)
    src = result.source
    assert "add(x, prev(back))" in src and "add(a, prev(la))" in src
    net = compiled(result)
    y = net(spikes(20, 2, 4, seed=0, p=0.5))
    assert y.shape == (20, 2, 4)


def test_cycle_inside_a_subgraph():
    """snnTorch's RSynaptic export: the recurrent pair is a subgraph with its own ports."""
    inner = nir.NIRGraph(nodes={"input": nir.Input(np.array([6])), "lif": cuba(6), "w_rec": affine(6, 6, 1),
                                "output": nir.Output(np.array([6]))},
                         edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                         type_check=False)
    outer = nir.NIRGraph(nodes={"input": nir.Input(np.array([5])), "fc": affine(6, 5, 0), "lif1": inner,
                                "output": nir.Output(np.array([6]))},
                         edges=[("input", "fc"), ("fc", "lif1"), ("lif1", "output")], type_check=False)
    flat = recurrent_graph()
    x = spikes(30, 2, 5, seed=4)
    a = compiled(import_graph(outer, dt=DT))(x)
    b = compiled(import_graph(flat, dt=DT))(x)
    assert torch.equal(a, b)


def test_cycle_without_an_input_is_refused():
    nodes = {"x": nir.Input(np.array([3])), "fc": affine(3, 3, 0), "y": nir.Output(np.array([3])),
             "p": affine(3, 3, 1), "q": cuba(3)}
    edges = [("x", "fc"), ("fc", "y"), ("p", "q"), ("q", "p")]
    with pytest.raises(NirError, match="on a cycle that no Input reaches"):
        import_graph(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)


def test_edge_into_an_input_is_refused():
    nodes = {"x": nir.Input(np.array([3])), "fc": affine(3, 3, 0), "y": nir.Output(np.array([3]))}
    edges = [("x", "fc"), ("fc", "x"), ("fc", "y")]
    with pytest.raises(NirError, match="input 'x' has an incoming edge"):
        import_graph(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)


def test_li_readout():
    li = nir.LI(tau=full(3, 5e-4), r=full(3, 2.0), v_leak=full(3, 0.0))
    g = nir.NIRGraph.from_list(affine(3, 4, 0), li)
    result = import_graph(g, dt=DT)
    assert "li: LI(tau=5.0)" in result.source and "Scale(2.0) -> li" in result.source
    x = spikes(10, 2, 4, seed=2)
    got = compiled(result)(x).detach().numpy()
    fc = g.nodes["affine"]
    v, want = 0.0, []
    for xt in x.numpy():
        v = v + DT / 5e-4 * (2.0 * (xt @ fc.weight.T + fc.bias) - v)
        want.append(v)
    assert np.allclose(got, np.stack(want), atol=1e-5)


@pytest.mark.parametrize("li, match", [
    (nir.LI(tau=full(2, 1e-4), r=full(2, 1.0), v_leak=full(2, 0.0)), "more than one step"),
    (nir.LI(tau=full(2, 1e-3), r=full(2, 1.0), v_leak=full(2, 0.5)), "v_leak = 0.5"),
])
def test_li_refusals(li, match):
    with pytest.raises(NirError, match=match):
        import_graph(nir.NIRGraph.from_list(affine(2, 2, 0), li), dt=DT)


def test_delay_and_scale():
    g = nir.NIRGraph.from_list(affine(3, 2, 0), nir.Delay(delay=full(3, 3 * DT)),
                               nir.Scale(scale=full(3, 0.5)))
    result = import_graph(g, dt=DT)
    assert "delay: Delay(3)" in result.source and "scale: Scale(0.5)" in result.source
    x = torch.randn(8, 2, 2)
    net = compiled(result)
    fc = torch.nn.Linear(2, 3)
    fc.load_state_dict({k.split(".")[1]: v for k, v in result.state_dict.items()})
    want = torch.cat([torch.zeros(3, 2, 3), fc(x[:-3])]) * 0.5
    assert torch.allclose(net(x), want, atol=1e-6)


@pytest.mark.parametrize("node, match", [
    (nir.Delay(delay=full(3, 1.5 * DT)), "1.5 steps"),
    (nir.Delay(delay=np.array([DT, 2 * DT, DT])), "delay differs between neurons"),
    (nir.Scale(scale=np.array([1.0, 2.0, 1.0])), "scale differs between neurons"),
])
def test_delay_and_scale_refusals(node, match):
    with pytest.raises(NirError, match=match):
        import_graph(nir.NIRGraph.from_list(affine(3, 2, 0), node), dt=DT)


# -- export -------------------------------------------------------------------------------

RECURRENT = """
model Rec() {
    input x: [5]
    s = add(x -> fc: Linear(5, 6), prev(r)) -> sn: CubaLIF(c_decay=0.6, v_decay=0.8, v_threshold=0.4)
    r = s -> rec: Linear(6, 6)
    return s -> out: Linear(6, 3) -> ro: LI(tau=4.0)
}
"""


def test_prev_exports_as_a_nir_cycle_and_round_trips(tmp_path):
    net = snndsl.compile_source(RECURRENT).eval()
    graph, report = to_nir(net, dt=DT)
    assert ("rec", "sn") in graph.edges and ("sn", "rec") in graph.edges and ("fc", "sn") in graph.edges
    assert not any("readers" in line for line in report)
    sn, ro = graph.nodes["sn"], graph.nodes["ro"]
    assert isinstance(sn, nir.CubaLIF) and isinstance(ro, nir.LI)
    assert np.allclose(sn.tau_syn, DT / 0.4) and np.allclose(sn.tau_mem, DT / 0.2)
    assert np.allclose(sn.w_in, 1 / 0.4) and np.allclose(sn.r, 1 / 0.2)
    assert np.allclose(ro.tau, 4 * DT) and np.all(ro.r == 1)
    nir.write(tmp_path / "rec.nir", graph)
    result = import_graph(read_nir(tmp_path / "rec.nir"), dt=DT)
    assert "sn = add(fc, prev(rec)) -> sn: CubaLIF(c_decay=0.6, v_decay=0.8, v_threshold=0.4)" in result.source
    assert "Scale" not in result.source
    x = spikes(30, 2, 5, seed=5, p=0.6)
    assert torch.allclose(compiled(result)(x), net(x), atol=1e-6)


def test_export_reports_a_cycle_cut_elsewhere():
    """prev(s) -> rec delays the edge sn -> rec; NIR readers delay rec -> sn (rec's bias
    then enters one step later): reported."""
    src = RECURRENT.replace("add(x -> fc: Linear(5, 6), prev(r))", "add(x -> fc: Linear(5, 6), prev(s) -> rec: Linear(6, 6))") \
        .replace("    r = s -> rec: Linear(6, 6)\n", "")
    graph, report = to_nir(snndsl.compile_source(src), dt=DT)
    assert ("sn", "rec") in graph.edges and ("rec", "sn") in graph.edges
    assert any("readers (nirtorch, Norse, snndsl) delay rec -> sn" in line and "sn -> rec" in line
               for line in report)


def test_delay_and_prev_on_no_cycle_export_as_nir_delay():
    src = """
model D() {
    input x: [3]
    return add(x -> Delay(2), prev(x)) -> Scale(2.0)
}
"""
    net = snndsl.compile_source(src)
    graph, _ = to_nir(net, dt=DT)
    delays = sorted(float(n.delay[0]) / DT for n in graph.nodes.values() if isinstance(n, nir.Delay))
    assert np.allclose(delays, [1, 2])
    assert any(isinstance(n, nir.Scale) and np.all(n.scale == 2.0) for n in graph.nodes.values())
    result = import_graph(graph, dt=DT)
    x = torch.randn(6, 2, 3)
    assert torch.allclose(compiled(result)(x), net(x))


# LI and CubaLIF are prelude neurons: export recognises a call by its program, the
# prelude definition's with the call's arguments, not by its name
SAME_LI = """
neuron LI(tau: float = 2.0) overrides {
    input x
    state v = 0.0
    v = v + (x - v) / tau
    return v
}
"""
OTHER_LI = SAME_LI.replace("v = v + (x - v) / tau", "v = v - v / tau + x")
READOUT = "model M() {\n    input x: [4]\n    return x -> fc: Linear(4, 3) -> ro: NEURON\n}\n"


@pytest.mark.parametrize(("source", "exports"), [
    (READOUT.replace("NEURON", "LI(tau=3.0)"), True),
    (SAME_LI + READOUT.replace("NEURON", "LI(tau=3.0)"), True),  # the same equations
    (OTHER_LI + READOUT.replace("NEURON", "LI(tau=3.0)"), False),  # an LI that is not the prelude's
    (READOUT.replace("NEURON", "KLIF()"), False),  # NIR has no KLIF
])
def test_export_recognises_the_prelude_neurons_by_their_equations(source, exports):
    net = snndsl.compile_source(source, "m.snn")
    if exports:
        graph, _ = to_nir(net, dt=DT)
        assert isinstance(graph.nodes["ro"], nir.LI) and np.allclose(graph.nodes["ro"].tau, 3 * DT)
        return
    with pytest.raises(NirError, match="NIR has no node for a neuron defined in the language") as info:
        to_nir(net, dt=DT)
    assert info.value.span is not None and info.value.span.filename == "m.snn"
