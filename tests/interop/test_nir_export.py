"""NIR export: node mapping, dt/tau formulas, full arrays, the loss report and --strict."""

from __future__ import annotations

import math
import re

import nir
import numpy as np
import pytest
import torch

import snndsl
from snndsl.cli import main
from snndsl.diagnostics import SnnError, UsageError
from snndsl.interop.nir import NirError, export_file, export_source, read_nir, to_nir

from .util import spikes, strengthen

NET = """\
defaults LIF(surrogate=ATan(), detach_reset=true)
model Net(c: int = 4) {
    input img: [2, 8, 8]
    h = img -> conv1: Conv2d(2, c, 3, padding=1) -> sn1: LIF(tau=4.0) -> pool1: AvgPool2d(2)
    h = h -> flat: Flatten() -> fc1: Linear(_, 16, bias=false) -> sn2: IF(v_threshold=0.5, v_reset=-0.2)
    r = h -> fc2: Linear(16, 16) -> sn3: LIF(tau=2.5, decay_input=false)
    return add(h, r) -> fc3: Linear(16, 5) -> sn4: PLIF(init_tau=3.0)
}
"""


def test_nodes_edges_and_types():
    graph, report = export_source(NET, "net.snn", dt=1e-3)
    assert list(graph.nodes) == ["img", "conv1", "sn1", "pool1", "flat", "fc1", "sn2", "fc2", "sn3",
                                 "fc3", "sn4", "output"]
    kinds = {k: type(v).__name__ for k, v in graph.nodes.items()}
    assert kinds == {"img": "Input", "conv1": "Conv2d", "sn1": "LIF", "pool1": "AvgPool2d",
                     "flat": "Flatten", "fc1": "Linear", "sn2": "IF", "fc2": "Affine", "sn3": "LIF",
                     "fc3": "Affine", "sn4": "LIF", "output": "Output"}
    # the residual add is fan-in: both sources feed fc3, and nothing else changes
    assert ("sn2", "fc3") in graph.edges and ("sn3", "fc3") in graph.edges
    assert len(graph.edges) == 12
    assert graph.nodes["flat"].start_dim == 0 and graph.nodes["flat"].end_dim == -1
    assert list(graph.nodes["flat"].output_type["output"]) == [64]
    assert tuple(graph.nodes["conv1"].input_shape) == (8, 8)
    assert list(graph.nodes["pool1"].output_type["output"]) == [4, 4, 4]
    assert graph.metadata["snndsl_dt"] == 1e-3
    assert any("fire on v > v_threshold" in line for line in report)


def test_neuron_parameters_follow_the_dt_convention():
    dt = 1e-3
    graph, _ = export_source(NET, dt=dt)
    sn1, sn2, sn3, sn4 = (graph.nodes[k] for k in ("sn1", "sn2", "sn3", "sn4"))
    # full per-neuron arrays, never scalars
    for node, shape in ((sn1, (4, 8, 8)), (sn2, (16,)), (sn3, (16,)), (sn4, (5,))):
        for field in ("r", "v_threshold", "v_reset"):
            assert getattr(node, field).shape == shape, (node, field)
    # LIF decay_input=true: tau_nir = tau * dt, r = 1, v_leak = v_reset
    assert np.allclose(sn1.tau, 4.0 * dt) and np.all(sn1.r == 1.0) and np.all(sn1.v_leak == 0.0)
    # LIF decay_input=false: r = tau
    assert np.allclose(sn3.tau, 2.5 * dt) and np.allclose(sn3.r, 2.5)
    # IF: dv/dt = r I with r = 1/dt
    assert np.allclose(sn2.r, 1.0 / dt) and np.all(sn2.v_threshold == 0.5) and np.all(sn2.v_reset == -0.2)
    # PLIF: tau = 1 / sigmoid(w), frozen
    assert np.allclose(sn4.tau, 3.0 * dt)
    assert sn1.metadata["snndsl"] == "LIF(tau=4.0, surrogate=ATan(), detach_reset=true)"


def test_weights_are_written_and_bias_false_gives_zero_conv_bias():
    text = NET.replace("Conv2d(2, c, 3, padding=1)", "Conv2d(2, c, 3, padding=1, bias=false)")
    net = strengthen(snndsl.compile_source(text))
    graph, _ = to_nir(net)
    assert np.array_equal(graph.nodes["conv1"].weight, net.conv1.weight.detach().numpy())
    assert not np.any(graph.nodes["conv1"].bias)
    assert np.array_equal(graph.nodes["fc2"].bias, net.fc2.bias.detach().numpy())
    assert np.array_equal(graph.nodes["fc1"].weight, net.fc1.weight.detach().numpy())


def test_file_round_trips_through_hdf5(tmp_path):
    out = tmp_path / "net.nir"
    report = export_file(NET, "net.snn", out)
    assert report
    g = read_nir(out)
    assert set(g.nodes) >= {"img", "conv1", "sn4", "output"}
    assert g.nodes["sn1"].metadata["snndsl"].startswith("LIF(")
    assert isinstance(g.nodes["sn4"], nir.LIF)


SOFT = """\
model Soft() {
    input x: [6]
    h = x -> fc: Linear(6, 4) -> bn: BatchNorm1d(4) -> drop: Dropout(0.2) -> sn: IF(v_reset=none)
    return h
}
"""


def test_loss_report_lists_what_nir_cannot_express():
    graph, report = export_source(SOFT)
    text = "\n".join(report)
    assert "soft reset" in text and "drop (Dropout): omitted" in text
    assert "BatchNorm folded" in text
    assert "surrogate" in text
    # the dropout is gone: fc feeds the neuron directly; bn is folded into fc
    assert ("fc", "sn") in graph.edges and "drop" not in graph.nodes and "bn" not in graph.nodes
    assert np.all(graph.nodes["sn"].v_reset == 0.0)


def test_strict_raises_at_the_offending_node():
    with pytest.raises(NirError) as e:
        export_source(SOFT, "soft.snn", strict=True)
    assert e.value.span.line == 3
    assert "Dropout" in e.value.message or "soft reset" in e.value.message
    rendered = str(e.value)
    assert "soft.snn:3:" in rendered and "^" in rendered


def test_maxpool_is_approximated_and_unfolded_batchnorm_reported():
    text = """\
model M() {
    input x: [2, 8, 8]
    h = x -> sn0: IF() -> bn: BatchNorm2d(2) -> pool: MaxPool2d(2) -> sn: LIF()
    return h
}
"""
    graph, report = export_source(text)
    joined = "\n".join(report)
    assert "pool (MaxPool2d)" in joined and "bn (BatchNorm2d): not folded" in joined
    assert isinstance(graph.nodes["pool"], nir.AvgPool2d)
    assert isinstance(graph.nodes["bn"], nir.Conv2d)  # per-channel affine, eval statistics
    with pytest.raises(NirError, match="BatchNorm2d"):
        export_source(text, strict=True)


def test_unfolded_batchnorm_is_exact_in_eval_mode():
    text = """\
model M() {
    input x: [3, 4, 4]
    h = x -> sn0: IF() -> bn: BatchNorm2d(3) -> sn: IF()
    return h
}
"""
    net = snndsl.compile_source(text)
    with torch.no_grad():
        net.bn.running_mean.copy_(torch.tensor([0.1, -0.2, 0.3]))
        net.bn.running_var.copy_(torch.tensor([0.5, 2.0, 1.5]))
        net.bn.weight.copy_(torch.tensor([1.5, 0.7, 2.0]))
        net.bn.bias.copy_(torch.tensor([0.2, 0.9, -0.1]))
    net.eval()
    graph, _ = to_nir(net)
    conv = graph.nodes["bn"]
    x = torch.randn(5, 3, 4, 4)
    ref = net.bn(x)
    got = torch.nn.functional.conv2d(x, torch.from_numpy(conv.weight), torch.from_numpy(conv.bias))
    assert torch.allclose(ref, got, atol=1e-5)


def test_batchnorm_fold_matches_eval_outputs():
    text = """\
model M() {
    input x: [2, 6, 6]
    h = x -> conv: Conv2d(2, 4, 3, bias=false) -> bn: BatchNorm2d(4) -> sn: IF()
    return h -> flat: Flatten() -> fc: Linear(_, 3) -> bn2: BatchNorm1d(3) -> out: IF()
}
"""
    net = strengthen(snndsl.compile_source(text), seed=3, low=0.0)
    with torch.no_grad():
        for bn in (net.bn, net.bn2):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    net.eval()
    graph, report = to_nir(net, strict=True)  # folding is not a loss
    assert "bn" not in graph.nodes and "bn2" not in graph.nodes
    assert sum("BatchNorm folded" in line for line in report) == 1
    x = torch.randn(7, 2, 6, 6)
    conv = graph.nodes["conv"]
    ref = net.bn(net.conv(x))
    got = torch.nn.functional.conv2d(x, torch.from_numpy(conv.weight), torch.from_numpy(conv.bias))
    assert torch.allclose(ref, got, atol=1e-5)
    # a model compiled with -O inference (FoldedNorm nodes) exports the same graph
    folded = snndsl.compile_source(text, optimize="inference")
    assert "fused.conv_bn" in folded.snn_source and "fused.linear_bn" in folded.snn_source
    folded.load_state_dict(net.state_dict())
    again, report_again = to_nir(folded.eval(), strict=True)
    assert report_again == report and list(again.nodes) == list(graph.nodes)
    for name, node in graph.nodes.items():
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, getattr(again.nodes[name], key)), (name, key)


@pytest.mark.parametrize("body, match", [
    ("return cat(x -> a: Linear(4, 4), x -> b: Linear(4, 4), dim=0)", "cat"),
    ("h = x -> a: Linear(4, 4)\n    return add(h, h -> Identity()) -> sn: IF()", "more than once"),
    ("return x -> r: ReLU()", "ReLU"),
    ("return x -> n: nn.Hardswish()", "Hardswish"),
])
def test_unsupported_ops_are_errors_even_without_strict(body, match):
    text = f"model M() {{\n    input x: [4]\n    {body}\n}}\n"
    with pytest.raises(NirError, match=match) as e:
        export_source(text, "m.snn")
    assert e.value.span.filename == "m.snn" and e.value.span.line >= 3


def test_weights_file_is_loaded_strictly(tmp_path):
    net = strengthen(snndsl.compile_source(NET), seed=5)
    w = tmp_path / "w.pt"
    torch.save(net.state_dict(), w)
    graph, _ = export_source(NET, weights=w)
    assert np.array_equal(graph.nodes["fc3"].weight, net.fc3.weight.detach().numpy())
    torch.save({"state_dict": net.state_dict()}, w)  # a wrapped checkpoint
    graph, _ = export_source(NET, weights=w)
    assert np.array_equal(graph.nodes["fc3"].weight, net.fc3.weight.detach().numpy())
    bad = dict(net.state_dict())
    bad.pop("fc3.bias")
    bad["extra.weight"] = torch.zeros(1)
    torch.save(bad, w)
    with pytest.raises(UsageError, match=re.escape("missing keys: fc3.bias | unexpected keys: extra.weight")):
        export_source(NET, weights=w)


def test_bad_dt():
    with pytest.raises(SnnError, match="dt"):
        export_source(NET, dt=0.0)
    with pytest.raises(SnnError, match="dt"):
        export_source(NET, dt=math.inf)


def test_cli_export(tmp_path, capsys):
    src = tmp_path / "soft.snn"
    src.write_text(SOFT)
    out = tmp_path / "soft.nir"
    assert main(["export", str(src), "--nir", str(out), "--dt", "1e-3"]) == 0
    err = capsys.readouterr().err
    assert "note: drop (Dropout): omitted" in err
    assert read_nir(out).metadata["snndsl_dt"] == 1e-3
    before = out.read_bytes()
    assert main(["export", str(src), "--nir", str(out), "--strict"]) == 1
    err = capsys.readouterr().err
    assert "soft.snn:3:" in err and "NIR cannot express" in err and "Traceback" not in err
    assert out.read_bytes() == before  # a failed export leaves the old file alone


def test_exported_graph_runs_like_the_model():
    """A NIR interpreter written from the NIR equations (Euler, dt) gives the same spikes."""
    text = """\
model M() {
    input x: [6]
    h = x -> fc1: Linear(6, 8) -> sn1: LIF(tau=3.0) -> fc2: Linear(8, 4) -> sn2: IF(v_threshold=0.7)
    r = h -> fc3: Linear(4, 4, bias=false) -> sn3: LIF(tau=2.0, decay_input=false, v_reset=0.1)
    return add(h, r) -> fc4: Linear(4, 3) -> sn4: IF()
}
"""
    dt = 1e-4
    net = strengthen(snndsl.compile_source(text), seed=11, low=-0.1)
    graph, _ = to_nir(net, dt=dt)
    x = spikes(12, 3, 6, seed=2)
    want = net(x)
    got = _simulate(graph, x, dt)
    assert want.sum() > 0
    assert torch.equal(want, got)


def _simulate(graph, x: torch.Tensor, dt: float) -> torch.Tensor:
    order, preds = list(graph.nodes), {k: [] for k in graph.nodes}
    for s, d in graph.edges:
        preds[d].append(s)
    state: dict[str, torch.Tensor] = {}
    outs = []
    for t in range(x.shape[0]):
        val: dict[str, torch.Tensor] = {}
        for k in order:
            n = graph.nodes[k]
            if isinstance(n, nir.Input):
                val[k] = x[t]
                continue
            i = sum(val[p] for p in preds[k])
            if isinstance(n, nir.Output):
                outs.append(i)
            elif isinstance(n, (nir.Affine, nir.Linear)):
                w = torch.from_numpy(n.weight)
                val[k] = i @ w.T + (torch.from_numpy(n.bias) if isinstance(n, nir.Affine) else 0)
            else:
                f = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731
                v = state.get(k, f(n.v_reset).expand_as(i))
                if isinstance(n, nir.IF):
                    v = v + dt * f(n.r) * i
                else:
                    v = v + dt / f(n.tau) * (f(n.v_leak) - v + f(n.r) * i)
                z = (v >= f(n.v_threshold)).float()  # snndsl's >=; NIR's > differs only at ties
                state[k] = torch.where(z > 0, f(n.v_reset), v)
                val[k] = z
    return torch.stack(outs)


def test_to_nir_accepts_an_ir_with_or_without_weights():
    from snndsl.compiler import lower

    ir = lower(NET)
    graph, _ = to_nir(ir)  # fresh weights
    assert graph.nodes["fc3"].weight.shape == (5, 16)
    net = strengthen(snndsl.compile_source(NET), seed=2)
    graph, _ = to_nir(ir, net.state_dict())
    assert np.array_equal(graph.nodes["fc3"].weight, net.fc3.weight.detach().numpy())
    with pytest.raises(UsageError):
        to_nir(torch.nn.Linear(2, 2))
