"""Every example: checked, compiled, run in both step modes; golden IR and code."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import snndsl
from snndsl.cli import main
from snndsl.ir.yaml import dump_yaml, load_yaml
from snndsl.passes.manager import PIPELINE

from ..conftest import EXAMPLES, ROOT

EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.snn"))
GOLDEN = ROOT / "tests" / "golden"


def rel(name: str) -> str:
    return f"examples/{name}"


def read(name: str) -> str:
    return (EXAMPLES / name).read_text()


def test_there_are_examples():
    assert {"csnn.snn", "sew_resnet.snn", "plif_net.snn", "static_image.snn"} <= set(EXAMPLE_FILES)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_check_cli(name, capsys):
    assert main(["check", str(EXAMPLES / name)]) == 0
    out = capsys.readouterr().out
    assert "module path" in out and "parameters" in out


def _inputs(net, T=3, N=2, single=False):
    xs = []
    for n in net.snn_ir.input_nodes():
        static = n.op.static
        shape = (N, *n.op.shape) if (static or single) else (T, N, *n.op.shape)
        xs.append(torch.rand(shape) * 2)
    return xs


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_single_step_equals_multi_step(name):
    torch.manual_seed(0)
    T = 3
    net = snndsl.compile_source(read(name), rel(name)).eval()
    xs = _inputs(net, T)
    static = [n.op.static for n in net.snn_ir.input_nodes()]
    with torch.no_grad():
        ym = net(*xs, T=T)
        snndsl.runtime.functional.set_step_mode(net, "s")
        net.reset()
        ys = torch.stack([net(*[x if s else x[t] for x, s in zip(xs, static)]) for t in range(T)])
    assert ym.shape == ys.shape
    torch.testing.assert_close(ym, ys, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # and back: stateless layers (VotingLayer) keep running on flat batches
        snndsl.runtime.functional.set_step_mode(net, "m")
        torch.testing.assert_close(net(*xs, T=T), ym, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_golden_ir_and_code(name, update_golden):
    text = read(name)
    folder = GOLDEN / name.removesuffix(".snn")
    trace = snndsl.trace_passes(text, rel(name))
    files = {f"{i:02d}-{p}.yaml": dump_yaml(ir) for i, (p, ir) in enumerate(trace)}
    files["model.py"] = snndsl.emit_python(text, rel(name))
    # the variants: -O inference (its last pass too), and each optional pass switched off
    inference = snndsl.trace_passes(text, rel(name), optimize="inference")
    files[f"{len(inference) - 1:02d}-{inference[-1][0]}.yaml"] = dump_yaml(inference[-1][1])
    files["model-O-inference.py"] = snndsl.emit_python(text, rel(name), optimize="inference")
    for off in ("channels-last", "hoist-static"):
        files[f"model-no-{off}.py"] = snndsl.emit_python(text, rel(name), disable=[off])
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for fname, content in files.items():
            (folder / fname).write_text(content)
    for fname, content in files.items():
        expected = (folder / fname).read_text() if (folder / fname).exists() else None
        assert content == expected, f"{folder / fname} differs; rerun pytest with --update-golden and review the diff"
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_yaml_round_trip(name):
    for _, ir in snndsl.trace_passes(read(name), rel(name)):
        text = dump_yaml(ir)
        again = load_yaml(text)
        assert dump_yaml(again) == text
        assert list(again.graph.edges) == list(ir.graph.edges)


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_passes_are_idempotent(name):
    trace = dict(snndsl.trace_passes(read(name), rel(name)))
    for p in PIPELINE:
        if p.name not in trace:
            continue
        once = trace[p.name]
        twice = p.run(once)
        twice.passes = list(once.passes)
        assert dump_yaml(twice) == dump_yaml(once), p.name


def test_output_is_byte_identical_across_hash_seeds():
    code = ("import snndsl,sys;sys.stdout.write(snndsl.emit_python(open('examples/sew_resnet.snn').read(),"
            "'examples/sew_resnet.snn'))")
    outs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                                text=True, check=True).stdout)
    assert len(outs) == 1


def test_static_input_equals_repeated_image():
    torch.manual_seed(0)
    text = read("static_image.snn")
    hoisted = snndsl.compile_source(text, "s.snn")
    plain = snndsl.compile_source(text, "s.snn", disable=["hoist-static"])
    plain.load_state_dict(hoisted.state_dict())
    img = torch.rand(2, 3, 32, 32)
    for train in (False, True):
        hoisted.train(train)
        plain.train(train)
        torch.testing.assert_close(hoisted(img, T=4), plain(img, T=4), atol=1e-5, rtol=1e-5)
    assert "expand(T" in hoisted.snn_source and "expand(T" in plain.snn_source
    assert hoisted.snn_source.count("flatten(0, 1)") < plain.snn_source.count("flatten(0, 1)")


def test_static_region_runs_once():
    net = snndsl.compile_source(read("static_image.snn"), "s.snn").eval()
    calls = []
    net.encoder.register_forward_hook(lambda m, i, o: calls.append(tuple(i[0].shape)))
    with torch.no_grad():
        net(torch.rand(2, 3, 32, 32), T=6)
    assert calls == [(2, 3, 32, 32)]  # once on [N, ...], not on [T*N, ...]


def test_static_region_reads_the_image_even_after_a_dynamic_region_flattened_it():
    """Found by the grammar fuzzer: a region on the [T*N, ...] broadcast of a static input
    came first and the static region then read its flattened form ([T*N] rows)."""
    text = """
model Net() {
    input x: [7] static
    s = x -> sn: IF()
    a = mul(s, x)
    b = x -> l5: nn.Identity() -> bn: BatchNorm1d(7)
    return a, b
}
"""
    net = snndsl.compile_source(text, "s.snn").eval()
    x = torch.rand(4, 7)
    with torch.no_grad():
        a, b = net(x, T=3)
    assert a.shape == b.shape == (3, 4, 7)
    assert "x_flat = " in net.snn_source and "self.l5(x)" in net.snn_source
