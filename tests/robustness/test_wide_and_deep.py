"""Programs that are wide or deep in ways the generated Python must survive: merges of
thousands of operands, groups nested past Python's 200 nested brackets (issue #17).
Each compiles to a module that runs and computes what the program says."""

from __future__ import annotations

import torch

import snndsl

MODEL = "model M() {{\n    input x: [4]\n    return {body}\n}}\n"


def test_add_of_3000_operands_is_flat_code_and_sums_left_to_right():
    terms = ", ".join(f"x -> s{i}: Identity()" for i in range(2999))
    net = snndsl.compile_source(MODEL.format(body=f"add(x, {terms})"))
    assert "sum((" in net.snn_source
    x = torch.rand(2, 3, 4)
    want = x.clone()
    for _ in range(2999):
        want = want + x
    assert torch.equal(net(x), want)


def test_merges_of_100k_operands_build_in_linear_time():
    for op, width in (("add", 4), ("cat", 400_000)):
        net = snndsl.compile_source(MODEL.format(body=f"{op}({', '.join(['x'] * 100_000)}) -> sn: IF()"))
        assert net(torch.rand(2, 1, 4)).shape == (2, 1, width)
        (pos,) = [p for src, dst, p in net.snn_ir.edges() if dst == f"{op}_0"]
        assert pos == tuple(range(100_000))


def test_110_nested_repeated_groups_compile():
    inner = "Linear(4, 4)"
    for _ in range(110):
        inner = f"({inner}) * 1"  # two nn.Sequential levels per group: 220 nested brackets
    net = snndsl.compile_source(MODEL.format(body="x -> " + inner + " -> sn: IF()"))
    keys = list(net.state_dict())
    assert keys[0] == "group_0" + ".0" * 220 + ".weight"
    x = torch.rand(3, 2, 4)
    lin = net.get_submodule("group_0" + ".0" * 220)
    y = net(x)
    snndsl.runtime.functional.reset_net(net)
    assert torch.equal(y, net.sn(lin(x.flatten(0, 1)).unflatten(0, (3, 2))))
