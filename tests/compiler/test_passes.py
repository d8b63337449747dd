"""Pass-level behaviour: verifier, regions, step loops for user modules, random programs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snndsl
from snndsl.compiler import lower
from snndsl.diagnostics import SnnPermissionError
from snndsl.frontend.elaborate import elaborate
from snndsl.frontend.parse import parse
from snndsl.ir import ops
from snndsl.ir.graph import Node, quotient_is_acyclic
from snndsl.ir.verify import IRVerificationError, verify
from snndsl.passes.manager import PIPELINE, run_pipeline

RESIDUAL = """
model R() {
    input x: [4]
    a = x -> l1: Linear(4, 4) -> n1: LIF()
    b = a -> l2: Linear(4, 4) -> bn: BatchNorm1d(4)
    c = a -> l3: Linear(4, 4) -> bn3: BatchNorm1d(4)
    return add(b, c) -> n2: LIF()
}
"""


def test_branches_and_merge_form_one_region():
    ir = lower(RESIDUAL)
    regions = {n.path: n.region for n in ir.nodes() if n.region}
    assert regions["l2"] == regions["bn"] == regions["l3"] == regions["bn3"] == regions["add_0"]
    assert regions["l1"] != regions["l2"]
    assert len(ir.regions) == 2


def test_skip_around_a_neuron_is_split_to_avoid_a_cycle():
    ir = lower("""
model S() {
    input x: [4]
    a = x -> l1: Linear(4, 4)
    b = a -> n1: LIF()
    return add(a, b) -> l2: Linear(4, 4)
}
""")
    assert ir.node("l1").region != ir.node("add_0").region  # fusing them would need n1 inside
    assert ir.node("add_0").region == ir.node("l2").region
    group = {n.path: n.region for n in ir.nodes() if n.region}
    assert quotient_is_acyclic(ir, group)


def test_verifier_names_the_pass_that_broke_the_ir():
    ir = lower(RESIDUAL)
    broken = ir.copy()
    broken.update("l2", region=None)
    with pytest.raises(IRVerificationError) as info:
        verify(broken, "fuse-stateless")
    assert info.value.pass_name == "fuse-stateless"
    assert "l2: stateless node outside any region" in str(info.value)


def test_pass_manager_verifies_after_each_pass(monkeypatch):
    from snndsl.passes import manager

    def bad_mark_state(ir):
        return ir  # forgets to mark anything

    patched = tuple(p if p.name != "mark-state" else manager.Pass("mark-state", bad_mark_state) for p in PIPELINE)
    monkeypatch.setattr(manager, "PIPELINE", patched)
    with pytest.raises(IRVerificationError, match="after pass 'mark-state'"):
        run_pipeline(elaborate(parse(RESIDUAL)))


def test_cycle_is_rejected():
    ir = lower(RESIDUAL)
    ir.graph.add_edge("n2", "l1", pos=(1,))
    with pytest.raises(IRVerificationError, match="cycle"):
        verify(ir)


USE = """
use tests.compiler.usermods.Accumulator as Acc stateful
use tests.compiler.usermods.Double as Double stateless
model U() {
    input x: [3]
    return x -> lin: Linear(3, 3) -> acc: Acc(0.5) -> dbl: Double() -> sn: LIF()
}
"""


def test_use_needs_permission():
    with pytest.raises(SnnPermissionError, match="not allowed") as info:
        snndsl.compile_source(USE, "u.snn")
    assert "--allow-import tests" in info.value.hint
    assert info.value.span.line == 2


def test_stateful_user_module_runs_in_a_step_loop():
    torch.manual_seed(0)
    net = snndsl.compile_source(USE, "u.snn", allow_imports={"tests"}).eval()
    ir = net.snn_ir
    assert ir.node("acc").container == "step-loop" and ir.node("dbl").container == "region"
    assert "functional.multi_step_forward" in net.snn_source
    x = torch.rand(5, 2, 3)
    with torch.no_grad():
        ym = net(x)
        net.acc.reset()
        snndsl.runtime.functional.set_step_mode(net, "s")
        net.reset()
        net.acc.reset()
        ys = torch.stack([net(x[t]) for t in range(5)])
    torch.testing.assert_close(ym, ys)


# Random programs: chains of layers and merges over 8 features -------------------------

STEPS = st.lists(
    st.tuples(st.sampled_from(["Linear(8, 8)", "ReLU()", "LIF()", "IF(v_reset=none)", "BatchNorm1d(8)",
                               "add", "mul", "cat"]),
              st.integers(0, 100), st.integers(0, 100)),
    min_size=1, max_size=12)


def _program(steps) -> str:
    lines = ["model P() {", "    input x: [8]", "    v0 = x"]
    for i, (op, a, b) in enumerate(steps, start=1):
        pa, pb = f"v{a % i}", f"v{b % i}"
        if op in ("add", "mul"):
            lines.append(f"    v{i} = {op}({pa}, {pb})")
        elif op == "cat":
            lines.append(f"    v{i} = cat({pa}, {pb}, dim=0) -> Linear(16, 8)")
        else:
            lines.append(f"    v{i} = {pa} -> {op}")
    lines.append(f"    return v{len(steps)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_random_programs_compile_and_step_modes_agree(steps):
    text = _program(steps)
    net = snndsl.compile_source(text, "p.snn").eval()
    ir = net.snn_ir
    group = {n.path: n.region for n in ir.nodes() if n.region}
    assert quotient_is_acyclic(ir, group)
    for n in ir.nodes():
        if not isinstance(n.op, (ops.Input, ops.Output)):
            assert (n.region is None) == bool(n.stateful)
    x = torch.rand(3, 2, 8) * 2
    with torch.no_grad():
        ym = net(x)
        snndsl.runtime.functional.set_step_mode(net, "s")
        net.reset()
        ys = torch.stack([net(x[t]) for t in range(3)])
    torch.testing.assert_close(ym, ys, atol=1e-5, rtol=1e-5)


def test_node_records_are_frozen():
    n = Node("a", ops.Merge("add"), lower(RESIDUAL).node("l1").span)
    with pytest.raises(AttributeError):
        n.path = "b"  # type: ignore[misc]


def test_a_value_read_by_two_regions_is_flattened_in_the_one_that_runs_first():
    """Found by the grammar fuzzer: `s` is first read (in source order) by the region of
    `a`, which itself waits for `c`'s region; flattening `s` there made the regions wait on
    each other ("regions form a cycle"). It is flattened in `c`'s region, which runs first."""
    text = """
model Net() {
    input x: [4]
    s = x -> n0: IF()
    d = s -> n1: IF()
    a = add(s, d)
    c = s -> l2: Linear(4, 4)
    b = add(a, c)
    return b -> n2: IF()
}
"""
    net = snndsl.compile_source(text)
    ir = net.snn_ir
    assert ir.node("n0~flat").region == ir.node("l2").region != ir.node("add_1").region
    torch.manual_seed(0)
    x = torch.rand(5, 3, 4) * 3
    with torch.no_grad():
        ym = net(x)
        snndsl.runtime.functional.set_step_mode(net, "s")
        net.reset()
        ys = torch.stack([net(x[t]) for t in range(5)])
    assert torch.equal(ym, ys)
