"""The runtime contract of a compiled model (compiler.md)."""

from __future__ import annotations

import copy
import importlib
import pickle
import sys

import pytest
import torch

import snndsl
from snndsl.runtime import functional

from ..conftest import EXAMPLES

SMALL = """
defaults LIF(tau=2.0, detach_reset=true)
model Small(h: int = 16) {
    input x: [2, 8, 8]
    y = x -> conv: Conv2d(2, 4, 3, padding=1) -> sn1: LIF() -> Flatten()
          -> fc: Linear(_, h) -> sn2: LIF(v_threshold=0.5) -> out: Linear(h, 3)
    return y
}
"""


def small(**kw):
    torch.manual_seed(0)
    net = snndsl.compile_source(SMALL, "small.snn", **kw)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    return net


def test_each_multi_step_call_starts_fresh():
    net = small()
    x = torch.rand(4, 3, 2, 8, 8)
    torch.testing.assert_close(net(x), net(x))  # no state leaks from the first call


def test_carry_state_streams_in_chunks():
    net = small(carry_state=True)
    x = torch.rand(6, 2, 2, 8, 8)
    whole = small()(x)
    net.reset()
    chunks = torch.cat([net(x[:2]), net(x[2:4]), net(x[4:])])
    torch.testing.assert_close(chunks, whole)


def test_single_step_keeps_state_until_reset():
    """compiler.md: in 's' mode the state persists from call to call until ``reset()``.

    The input is strong enough that the neurons fire (a weak one leaves the network
    silent, and then every call returns the same bias-only output whatever the state)."""
    net = small(step_mode="s")
    x = torch.rand(8, 2, 8, 8) * 4
    first = net(x)
    v_first = net.sn1.v.clone()
    second = net(x)
    assert not torch.equal(net.sn1.v, v_first), "the membrane did not carry over to the next call"
    assert not torch.equal(first, second), "the same input twice gave the same output: no state was kept"
    third = net(x)
    # steps taken one call at a time are the multi-step run over the same sequence
    torch.testing.assert_close(torch.stack([first, second, third]), small()(torch.stack([x, x, x])))
    net.reset()
    torch.testing.assert_close(net(x), first)
    torch.testing.assert_close(net.sn1.v, v_first)
    torch.testing.assert_close(net(x), second)
    assert net.sn1.step_mode == "s"


def test_set_step_mode_switches_the_whole_model():
    net = small()
    functional.set_step_mode(net, "s")
    assert net.step_mode == "s" and net.sn1.step_mode == "s" and net.sn2.step_mode == "s"
    functional.set_step_mode(net, "m")
    assert net.sn1.step_mode == "m"
    with pytest.raises(ValueError, match="expects x as \\[T, N, 2, 8, 8\\]"):
        net(torch.rand(2, 2, 8, 8))


def test_deepcopy_after_forward_with_grad():
    net = small()
    y = net(torch.rand(3, 2, 2, 8, 8))
    clone = copy.deepcopy(net)
    x = torch.rand(3, 2, 2, 8, 8)
    torch.testing.assert_close(clone(x), net(x))
    assert y.requires_grad


def test_pickle_in_process():
    net = small()
    x = torch.rand(3, 2, 2, 8, 8)
    again = pickle.loads(pickle.dumps(net))
    torch.testing.assert_close(again(x), net(x))


def test_saved_generated_module_imports_and_pickles(tmp_path, monkeypatch):
    src = snndsl.emit_python(SMALL, "small.snn")
    (tmp_path / "small_model.py").write_text(src)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("small_model")
    net = mod.Small()
    ref = small()
    net.load_state_dict(ref.state_dict(), strict=True)
    x = torch.rand(3, 2, 2, 8, 8)
    torch.testing.assert_close(net(x), ref(x))
    blob = pickle.dumps(net)
    sys.modules.pop("small_model")
    torch.testing.assert_close(pickle.loads(blob)(x), ref(x))


def test_to_device_and_dtype():
    net = small().to(torch.float64)
    y = net(torch.rand(2, 2, 2, 8, 8, dtype=torch.float64))
    assert y.dtype == torch.float64


def test_torch_compile_matches_eager_without_graph_breaks():
    net = small().eval()
    x = torch.rand(4, 2, 2, 8, 8)
    expected = net(x)
    explanation = torch._dynamo.explain(net)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(net, backend="aot_eager")
    torch.testing.assert_close(compiled(x), expected)


def test_torch_compile_of_a_training_step_has_no_graph_break():
    """Conv-BN-LIF-pool in train mode, channels-last regions: one graph; the compiled
    step (the neurons traced as plain tensor ops) gives eager's outputs and gradients."""
    net = snndsl.compile_file(EXAMPLES / "csnn.snn", params={"channels": 4}).train()
    x = torch.rand(3, 2, 1, 28, 28) * 3
    explanation = torch._dynamo.explain(net)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(net, backend="aot_eager")
    results = []
    for model in (net, compiled):
        model.zero_grad()
        y = model(x)
        (y * torch.linspace(0, 1, y.numel()).view(y.shape)).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in net.parameters()]))
    (y1, g1), (y2, g2) = results
    torch.testing.assert_close(y2, y1)
    for a, b in zip(g2, g1, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_labels_that_clash_with_module_attributes_and_keywords():
    text = """
model Clash() {
    input x: [4]
    h = x -> forward: Linear(4, 4) -> training: LIF() -> class: Linear(4, 4) -> T: ReLU()
    return h -> state_dict: Linear(4, 2) -> _modules: ReLU()
}
"""
    net = snndsl.compile_source(text)
    keys = set(net.state_dict())
    assert {"forward.weight", "class.weight", "state_dict.weight"} <= keys
    y = net(torch.rand(3, 5, 4))
    assert y.shape == (3, 5, 2)
    assert net.training is True and callable(net.forward)


def test_compiled_module_imports_only_torch_and_runtime():
    src = snndsl.emit_python(SMALL, "small.snn")
    imports = [line for line in src.splitlines() if line.startswith(("import ", "from "))]
    for line in imports:
        mod = line.split()[1]
        assert mod == "torch" or mod.startswith("snndsl.runtime"), line


def test_the_garbage_collector_is_paused_only_while_compiling():
    import gc

    from snndsl.diagnostics import SnnError

    seen = []
    real = snndsl.compiler.emit_module

    def spy(ir):
        seen.append(gc.isenabled())
        return real(ir)

    assert gc.isenabled()
    try:
        snndsl.compiler.emit_module = spy
        small()
    finally:
        snndsl.compiler.emit_module = real
    assert seen == [False] and gc.isenabled()
    with pytest.raises(SnnError):
        snndsl.compile_source("model M() { input x: [4]; return x -> Linear(5, 2) }")
    assert gc.isenabled()
    gc.disable()
    try:
        snndsl.compile_source("model M() { input x: [4]; return x -> Linear(4, 2) }")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
