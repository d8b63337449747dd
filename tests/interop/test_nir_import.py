"""NIR import: names, op mapping, neuron conventions, fan-in, nested graphs, clear refusals."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

import snndsl
from snndsl.cli import main
from snndsl.interop._common import Namer, sanitize
from snndsl.interop.nir import NirError, from_nir, import_file, import_nir

from .util import spikes


def _lif(n: int, tau: float = 2e-3, r: float = 1.0, thr: float = 1.0, leak: float = 0.0, reset: float = 0.0):
    full = lambda v: np.full(n, v, dtype=np.float64)  # noqa: E731
    return nir.LIF(tau=full(tau), r=full(r), v_leak=full(leak), v_threshold=full(thr), v_reset=full(reset))


def _if(n: int, r: float, thr: float = 1.0, reset: float = 0.0):
    full = lambda v: np.full(n, v, dtype=np.float64)  # noqa: E731
    return nir.IF(r=full(r), v_threshold=full(thr), v_reset=full(reset))


def _affine(out: int, inp: int, seed: int, low: float = -0.2) -> nir.Affine:
    g = np.random.default_rng(seed)
    return nir.Affine(weight=g.uniform(low, 1.0, (out, inp)).astype(np.float32),
                      bias=g.uniform(0, 0.2, out).astype(np.float32))


def _compile(source: str, state: dict) -> torch.nn.Module:
    net = snndsl.compile_source(source)
    net.load_state_dict(state, strict=True)
    return net


@pytest.mark.parametrize("raw, want", [
    ("conv1", "conv1"), ("0", "n0"), ("layer1.0.conv1", "layer1_0_conv1"), ("input", "input_"),
    ("my node-2", "my_node_2"), ("", "node"), ("return", "return_"), ("class", "class_"), ("_0", "_0"),
])
def test_sanitize(raw, want):
    assert sanitize(raw) == want


def test_names_are_unique_and_deterministic():
    namer = Namer()
    assert [namer(n) for n in ("a.b", "a_b", "a b", "0", "n0")] == ["a_b", "a_b_1", "a_b_2", "n0", "n0_1"]


def test_from_list_graph_with_keyword_names():
    """NIR's own constructor names nodes 'input', 'affine', 'lif', 'affine_1', 'output'."""
    graph = nir.NIRGraph.from_list(_affine(5, 3, 0), _lif(5), _affine(2, 5, 1), _lif(2, tau=5e-4))
    source, state = from_nir(graph, dt=1e-4)
    assert "input input_: [3]" in source
    assert "affine: Linear(3, 5)" in source and "lif_1: LIF(tau=5.0)" in source
    assert set(state) == {"affine.weight", "affine.bias", "affine_1.weight", "affine_1.bias"}
    net = _compile(source, state)
    assert net(spikes(4, 2, 3)).shape == (4, 2, 2)


def test_import_matches_an_euler_reference_of_the_nir_equations():
    """IF with r*dt != 1 and LIF with r neither 1 nor tau/dt are rescaled exactly."""
    dt = 1e-3
    nodes = {"x": nir.Input(np.array([4])), "fc1": _affine(6, 4, 2), "a": _if(6, r=2.0 / dt, thr=1.5),
             "fc2": _affine(3, 6, 3), "b": _lif(3, tau=4e-3, r=2.5, thr=0.4, leak=0.1, reset=0.1),
             "y": nir.Output(np.array([3]))}
    edges = [("x", "fc1"), ("fc1", "a"), ("a", "fc2"), ("fc2", "b"), ("b", "y")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    report: list[str] = []
    source, state = from_nir(graph, dt=dt, report=report)
    assert "a: IF(v_threshold=0.75)" in source
    assert any("divided by r*dt" in line for line in report)
    assert any("rescaled" in line for line in report)
    net = _compile(source, state)
    x = spikes(20, 3, 4, seed=4)
    got = net(x)
    # reference: NIR's ODEs with forward Euler, in float64
    w1, b1 = nodes["fc1"].weight.astype(np.float64), nodes["fc1"].bias
    w2, b2 = nodes["fc2"].weight.astype(np.float64), nodes["fc2"].bias
    va, vb, out = np.zeros((3, 6)), np.full((3, 3), 0.1), []
    for t in range(20):
        va = va + dt * (2.0 / dt) * (x[t].numpy() @ w1.T + b1)
        za = va >= 1.5
        va = np.where(za, 0.0, va)
        vb = vb + dt / 4e-3 * (0.1 - vb + 2.5 * (za @ w2.T + b2))
        zb = vb >= 0.4
        vb = np.where(zb, 0.1, vb)
        out.append(zb)
    ref = torch.from_numpy(np.stack(out).astype(np.float32))
    assert ref.sum() > 0
    assert torch.equal(got, ref)


def test_snntorch_style_lif_maps_to_decay_input_false():
    """snnTorch writes r = tau/dt, v_leak = 0."""
    dt = 1e-4
    graph = nir.NIRGraph.from_list(_affine(4, 3, 0), _lif(4, tau=5 * dt, r=5.0))
    source, _ = from_nir(graph, dt=dt)
    assert "LIF(tau=5.0, decay_input=false)" in source


def test_conv_pool_flatten_and_fan_in(tmp_path):
    rng = np.random.default_rng(0)
    conv = nir.Conv2d(input_shape=(6, 6), weight=rng.uniform(-0.2, 1, (3, 2, 3, 3)).astype(np.float32),
                      stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3, dtype=np.float32))
    nodes = {
        "in": nir.Input(np.array([2, 6, 6])),
        "conv": conv,
        "sn.a": nir.IF(r=np.full((3, 6, 6), 1e4), v_threshold=np.ones((3, 6, 6))),
        "sum": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "avg": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type=np.array([3, 3, 3]), start_dim=0, end_dim=-1),
        "fc": _affine(4, 27, 1),
        "out": nir.Output(np.array([4])),
    }
    edges = [("in", "conv"), ("conv", "sn.a"), ("sn.a", "sum"), ("sn.a", "avg"), ("sum", "flat"),
             ("avg", "flat"), ("flat", "fc"), ("fc", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    path = tmp_path / "g.nir"
    nir.write(path, graph)
    source, state = from_nir(path, dt=1e-4)
    assert "input in_: [2, 6, 6]" in source  # `in` is a Python keyword
    assert "sum: AvgPool2d(2, divisor_override=1)" in source
    assert "fc = add(sum, avg) -> flat: Flatten()\n        -> fc: Linear(27, 4)" in source
    net = _compile(source, state)
    x = spikes(3, 2, 2, 6, 6)
    y = net(x)
    # reference in plain torch
    c = torch.nn.functional.conv2d(x.flatten(0, 1), torch.from_numpy(conv.weight), padding=1).unflatten(0, (3, 2))
    v, s = torch.zeros_like(c[0]), []
    for t in range(3):
        v = v + c[t]
        s.append((v >= 1).float())
        v = v * (1 - s[-1])
    h = torch.nn.functional.avg_pool2d(torch.stack(s).flatten(0, 1), 2) * 5  # sum (4x) + average (1x)
    fc = nodes["fc"]
    ref = (h.flatten(1) @ torch.from_numpy(fc.weight).T + torch.from_numpy(fc.bias)).unflatten(0, (3, 2))
    assert torch.allclose(y, ref, atol=1e-5)


def test_nested_graphs_are_inlined():
    inner = nir.NIRGraph.from_list(_affine(4, 3, 0), _lif(4))
    nodes = {"x": nir.Input(np.array([3])), "block": inner, "head": _affine(2, 4, 1),
             "y": nir.Output(np.array([2]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("x", "block"), ("block", "head"), ("head", "y")])
    source, state = from_nir(graph)
    assert "block_affine: Linear(3, 4)" in source and "block_lif: LIF(tau=20.0)" in source
    assert _compile(source, state)(spikes(2, 1, 3)).shape == (2, 1, 2)


def test_heterogeneous_parameters_are_refused():
    lif = nir.LIF(tau=np.array([1e-3, 2e-3]), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    with pytest.raises(NirError, match="tau differs between neurons"):
        from_nir(nir.NIRGraph.from_list(_affine(2, 2, 0), lif))


@pytest.mark.parametrize("node, name", [  # LI, CubaLIF, Delay, Scale: tests/interop/test_nir_recurrent.py
    (nir.CubaLI(tau_syn=np.full(3, 1e-3), tau_mem=np.full(3, 2e-3), r=np.ones(3), v_leak=np.zeros(3)),
     "CubaLI"),
    (nir.I(r=np.ones(3)), "I"),
    (nir.Threshold(threshold=np.ones(3)), "Threshold"),
])
def test_nodes_without_snn_equivalent_give_a_clear_error(node, name):
    graph = nir.NIRGraph.from_list(_affine(3, 2, 0), node)
    with pytest.raises(NirError, match=f"'{name.lower()}' \\({name}\\)") as e:
        from_nir(graph)
    assert "has no" in e.value.message or "is a" in e.value.message


def test_norse_style_readout_imports():
    """Affine -> LIF -> Affine -> LI, as Norse's examples end: the LI is a readout."""
    graph = nir.NIRGraph.from_list(_affine(4, 2, 0), _lif(4), _affine(2, 4, 1),
                                   nir.LI(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2)))
    source, state = from_nir(graph)
    assert "li: LI(tau=10.0)" in source
    assert _compile(source, state)(spikes(3, 1, 2)).shape == (3, 1, 2)


def test_dt_mismatch_with_file_metadata_is_noted():
    graph = nir.NIRGraph.from_list(_affine(2, 2, 0), _lif(2))
    graph.metadata = {"snndsl_dt": 1e-3}
    result = import_nir(graph, dt=1e-4)
    assert any("exported with dt = 0.001" in line for line in result.report)
    assert "# note: the file was exported with dt" in result.source


def test_import_file_and_cli(tmp_path, capsys):
    path = tmp_path / "net.nir"
    nir.write(path, nir.NIRGraph.from_list(_affine(4, 3, 0), _lif(4)))
    written = import_file(path, tmp_path / "out" / "my-net.snn")
    assert written == [str(tmp_path / "out" / "my-net.snn"), str(tmp_path / "out" / "my-net.pt")]
    text = (tmp_path / "out" / "my-net.snn").read_text()
    assert "model MyNet()" in text
    state = torch.load(tmp_path / "out" / "my-net.pt", weights_only=True)
    _compile(text, state)
    assert main(["import", str(path), "-o", str(tmp_path / "cli.snn"), "--model", "Cli"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "model Cli()" in (tmp_path / "cli.snn").read_text()
    assert (tmp_path / "cli.pt").exists()
    bad = tmp_path / "bad.nir"
    nir.write(bad, nir.NIRGraph.from_list(_affine(2, 2, 0), nir.Threshold(threshold=np.ones(2))))
    assert main(["import", str(bad), "-o", str(tmp_path / "cli.snn")]) == 1
    err = capsys.readouterr().err
    assert "Threshold" in err and "Traceback" not in err
    assert "model Cli()" in (tmp_path / "cli.snn").read_text()  # untouched
    assert main(["import", str(tmp_path / "missing.nir"), "-o", str(tmp_path / "x.snn")]) == 2


def _shipped_graphs() -> list:
    """NIR example graphs shipped by the installed nir/nirtorch packages, if any."""
    import importlib.util
    from pathlib import Path

    found = []
    for pkg in ("nir", "nirtorch"):
        spec = importlib.util.find_spec(pkg)
        if spec and spec.origin:
            root = Path(spec.origin).parent
            found += sorted(p for ext in ("*.nir", "*.h5", "*.hdf5") for p in root.rglob(ext))
    return found


@pytest.mark.parametrize("path", _shipped_graphs() or [None])
def test_shipped_example_graphs_import_or_explain(path):
    if path is None:
        pytest.skip("the installed nir/nirtorch packages ship no example graphs")
    try:
        source, state = from_nir(path)
    except NirError as e:  # a clear refusal names the node and why
        assert "'" in e.message and ("no .snn equivalent" in e.message or "cannot import" in e.message
                                     or "recurrent" in e.message or "differs" in e.message)
    else:
        _compile(source, state)
