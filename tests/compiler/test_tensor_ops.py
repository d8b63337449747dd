"""Tensor operations (issue #16): shapes, located errors, single- vs multi-step, and values
and gradients against plain PyTorch on the flattened batch."""

from __future__ import annotations

import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnError

# (id, input shape, chain, output shape, the same in torch on [B, *input])
OPS = [
    ("reshape", (6, 4), "Reshape(3, -1)", (3, 8), lambda x: x.reshape(x.shape[0], 3, 8)),
    ("reshape-tuple", (6, 4), "Reshape((2, 3, 4))", (2, 3, 4), lambda x: x.reshape(-1, 2, 3, 4)),
    ("reshape-flat", (6, 4), "Reshape(-1)", (24,), lambda x: x.reshape(x.shape[0], 24)),
    ("permute", (2, 3, 4), "Permute(2, 0, 1)", (4, 2, 3), lambda x: x.permute(0, 3, 1, 2)),
    ("permute-neg", (2, 3, 4), "Permute(-1, 0, 1)", (4, 2, 3), lambda x: x.permute(0, 3, 1, 2)),
    ("transpose", (2, 3, 4), "Transpose(-2, -1)", (2, 4, 3), lambda x: x.transpose(-2, -1)),
    ("transpose-pos", (2, 3, 4), "Transpose(0, 2)", (4, 3, 2), lambda x: x.transpose(1, 3)),
    ("sum", (2, 3, 4), "Sum(1)", (2, 4), lambda x: x.sum(2)),
    ("sum-keep", (2, 3, 4), "Sum(-1, keepdim=true)", (2, 3, 1), lambda x: x.sum(-1, keepdim=True)),
    ("sum-tuple", (2, 3, 4), "Sum((0, 2))", (3,), lambda x: x.sum((1, 3))),
    ("mean", (2, 3, 4), "Mean(-1)", (2, 3), lambda x: x.mean(-1)),
    ("mean-keep", (2, 3, 4), "Mean((1, 2), keepdim=true)", (2, 1, 1), lambda x: x.mean((2, 3), keepdim=True)),
    ("scale", (4,), "Scale(0.125)", (4,), lambda x: x * 0.125),
    ("scale-int", (4,), "Scale(3)", (4,), lambda x: x * 3.0),
    ("select", (2, 3, 4), "Select(1, 2)", (2, 4), lambda x: x.select(2, 2)),
    ("select-neg", (2, 3, 4), "Select(-1, -1)", (2, 3), lambda x: x[..., -1]),
    ("chain", (8, 6), "Reshape(2, 4, 6) -> Transpose(-2, -1) -> Sum(0) -> Scale(0.5)", (6, 4),
     lambda x: x.reshape(-1, 2, 4, 6).transpose(-2, -1).sum(1) * 0.5),
]


def _model(shape: tuple[int, ...], chain: str) -> str:
    return f"model M() {{\n    input x: [{', '.join(map(str, shape))}]\n    return x -> {chain}\n}}\n"


@pytest.mark.parametrize("shape, chain, out, ref", [o[1:] for o in OPS], ids=[o[0] for o in OPS])
def test_tensor_op_shape_values_gradients_and_step_modes(shape, chain, out, ref):
    net = snndsl.compile_source(_model(shape, chain), "m.snn")
    (node,) = net.snn_ir.output_nodes()
    assert node.shape == out
    T, N = 3, 2
    x = torch.randn(T, N, *shape, requires_grad=True)
    y = net(x)
    want = ref(x.detach().flatten(0, 1)).unflatten(0, (T, N))
    assert y.shape == (T, N, *out) and torch.equal(y, want)
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g)
    x2 = x.detach().clone().requires_grad_(True)
    (gref,) = torch.autograd.grad(ref(x2.flatten(0, 1)).unflatten(0, (T, N)), x2, g)
    assert torch.allclose(gx, gref, atol=1e-6)
    snndsl.runtime.functional.set_step_mode(net, "s")
    steps = torch.stack([net(x[t].detach()) for t in range(T)])
    assert torch.equal(steps, want)


ERRORS = [
    # (id, input shape, chain, message fragment, column of the stage)
    ("reshape-product", (6, 4), "Reshape(5, 5)", "cannot reshape [6, 4] (24 elements) to [5, 5] (25 elements)", 17),
    ("reshape-divide", (6, 4), "Reshape(5, -1)", "24 is not divisible by 5", 17),
    ("reshape-two-minus", (6, 4), "Reshape(-1, -1)", "only one size may be -1", 17),
    ("reshape-zero", (6, 4), "Reshape(0, -1)", "sizes must be positive", 17),
    ("reshape-empty", (6, 4), "Reshape()", "Reshape needs the shape", 17),
    ("reshape-float", (6, 4), "Reshape(2.5, -1)", "must be an integer, got 2.5", 25),
    ("reshape-kw", (6, 4), "Reshape(shape=4)", "positional arguments only", 25),
    ("permute-rank", (2, 3, 4), "Permute(1, 0)", "names 2 dims but the value [2, 3, 4] has 3", 17),
    ("permute-dup", (2, 3, 4), "Permute(0, 0, 1)", "names a dimension twice", 17),
    ("permute-range", (2, 3, 4), "Permute(0, 1, 3)", "dim=3 is out of range", 17),
    ("transpose-range", (2, 3), "Transpose(0, 2)", "dim1=2 is out of range for a per-sample shape of 2 dims", 17),
    ("sum-range", (2, 3), "Sum(2)", "dim=2 is out of range", 17),
    ("sum-all", (2, 3), "Sum((0, 1))", "leaves a scalar per sample", 17),
    ("select-index", (2, 3), "Select(1, 3)", "index 3 is out of range for dim 1 of size 3", 17),
    ("chunk-uneven", (10,), "Chunk(3)", "cannot split dim 0 of [10] (10) into 3 equal chunks", 17),
    ("scale-type", (4,), 'Scale("x")', "must be a number", 23),
]


@pytest.mark.parametrize("shape, chain, match, col", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_tensor_op_errors_are_located(shape, chain, match, col):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(_model(shape, chain), "m.snn")
    e = info.value
    assert match in e.message, e.message
    assert (e.span.line, e.span.column) == (3, col), str(e)
    assert e.hint


def _merge_model(a: tuple[int, ...], b: tuple[int, ...], expr: str) -> str:
    return (f"model M() {{\n    input a: [{', '.join(map(str, a))}]\n    input b: [{', '.join(map(str, b))}]\n"
            f"    return {expr}\n}}\n")


MERGES = [
    ("matmul", (2, 3, 4), (2, 4, 5), "matmul(a, b)", (2, 3, 5), lambda a, b: a @ b),
    ("matmul-2d", (3, 4), (4, 2), "matmul(a, b)", (3, 2), lambda a, b: a @ b),
    ("add-broadcast", (3, 1), (1, 4), "add(a, b, broadcast=true)", (3, 4), lambda a, b: a + b),
    ("sub-broadcast", (2, 3, 4), (2, 1, 4), "sub(a, b, broadcast=true)", (2, 3, 4), lambda a, b: a - b),
    ("mul-broadcast", (2, 3, 4), (1, 3, 1), "mul(a, b, broadcast=true)", (2, 3, 4), lambda a, b: a * b),
]


@pytest.mark.parametrize("sa, sb, expr, out, ref", [m[1:] for m in MERGES], ids=[m[0] for m in MERGES])
def test_merges_of_two_tensors(sa, sb, expr, out, ref):
    net = snndsl.compile_source(_merge_model(sa, sb, expr), "m.snn")
    assert net.snn_ir.output_nodes()[0].shape == out
    T, N = 2, 3
    a = torch.randn(T, N, *sa, requires_grad=True)
    b = torch.randn(T, N, *sb, requires_grad=True)
    y = net(a, b)
    want = ref(a.detach().flatten(0, 1), b.detach().flatten(0, 1)).unflatten(0, (T, N))
    assert torch.allclose(y, want, atol=1e-6)
    ga, gb = torch.autograd.grad(y.sum(), (a, b))
    a2, b2 = a.detach().requires_grad_(True), b.detach().requires_grad_(True)
    ra, rb = torch.autograd.grad(ref(a2, b2).sum(), (a2, b2))
    assert torch.allclose(ga, ra, atol=1e-5) and torch.allclose(gb, rb, atol=1e-5)
    snndsl.runtime.functional.set_step_mode(net, "s")
    steps = torch.stack([net(a[t].detach(), b[t].detach()) for t in range(T)])
    assert torch.allclose(steps, want, atol=1e-6)


MERGE_ERRORS = [
    ("matmul-inner", (4, 16, 64), (4, 32, 64), "matmul(a, b)",
     "matmul of [4, 16, 64] and [4, 32, 64]: inner dims 64 and 32 differ"),
    ("matmul-leading", (2, 3, 4), (3, 4, 5), "matmul(a, b)", "the leading dims [2] and [3] differ"),
    ("matmul-rank", (4,), (4, 2), "matmul(a, b)", "at least 2 dims"),
    ("matmul-arity", (4, 4), (4, 4), "matmul(a, b, a)", "matmul takes exactly 2 values"),
    ("broadcast-rank", (3,), (1, 3), "add(a, b, broadcast=true)", "equal rank"),
    ("broadcast-size", (3, 2), (3, 4), "mul(a, b, broadcast=true)", "dim 1 has sizes [2, 4]"),
    ("no-broadcast", (3, 1), (3, 4), "add(a, b)", "broadcast=true broadcasts size-1 dims"),
    ("broadcast-on-cat", (3,), (3,), "cat(a, b, broadcast=true)", "cat has no argument 'broadcast'"),
    ("broadcast-not-bool", (3,), (3,), "add(a, b, broadcast=1)", "broadcast must be true or false"),
]


@pytest.mark.parametrize("sa, sb, expr, match", [m[1:] for m in MERGE_ERRORS], ids=[m[0] for m in MERGE_ERRORS])
def test_merge_errors_show_both_shapes(sa, sb, expr, match):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(_merge_model(sa, sb, expr), "m.snn")
    assert match in info.value.message, info.value.message
    col = expr.index("broadcast") + 11 if "must be" in match else expr.index("broadcast") + 1 if "no arg" in match else 1
    assert (info.value.span.line, info.value.span.column) == (4, 11 + col)


POISSON = "model M() {\n    input x: [64] static\n    return x -> p: Poisson()\n}\n"


def test_poisson_draws_afresh_at_every_step_and_call():
    """Never hoisted with its static input, never cached: every step and every call differ;
    the rate follows the input (SpikingJelly's PoissonEncoder: rand <= x)."""
    net = snndsl.compile_source(POISSON, "m.snn")
    (region,) = net.snn_ir.regions.values()
    assert not region.static
    x = torch.full((2, 64), 0.5)
    torch.manual_seed(0)
    y1 = net(x, T=8)
    y2 = net(x, T=8)
    assert set(y1.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(y1, y2)
    assert all(not torch.equal(y1[0], y1[t]) for t in range(1, 8))
    torch.manual_seed(1)
    big = net(torch.full((256, 64), 0.25), T=8)
    assert abs(float(big.mean()) - 0.25) < 0.01
    torch.manual_seed(3)
    want = torch.rand(8 * 2, 64).le(torch.full((16, 64), 0.5)).float().unflatten(0, (8, 2))
    torch.manual_seed(3)
    assert torch.equal(net(x, T=8), want)  # one draw of rand_like over [T*N, ...], as in SpikingJelly's encoder


SEVERAL = """\
block Split2() {
    input x
    a, b = x -> Chunk(2)
    return a -> ReLU(), b
}
model M() {
    input x: [6, 4]
    q, k, v = x -> parts: Chunk(3, dim=0)
    s, t = x -> pair: Split2()
    return matmul(q, k -> Transpose(0, 1)), add(v, v), s, t
}
"""


def test_several_values_from_a_chunk_and_from_a_block():
    net = snndsl.compile_source(SEVERAL, "m.snn")
    assert [n.path for n in net.snn_ir.nodes() if isinstance(n.op, snndsl.ir.ops.Chunk)] == [
        "parts.0", "parts.1", "parts.2", "pair.chunk_0.0", "pair.chunk_0.1"]
    x = torch.randn(2, 3, 6, 4)
    y1, y2, y3, y4 = net(x)
    q, k, v = x.chunk(3, dim=2)
    assert torch.equal(y1, q @ k.transpose(-2, -1)) and torch.equal(y2, v + v)
    a, b = x.chunk(2, dim=2)
    assert torch.equal(y3, a.relu()) and torch.equal(y4, b)
    assert net.state_dict() == {}


DESTRUCTURING_ERRORS = [
    # (id, body, message fragment, line, column)
    ("too-many-names", "    a, b, c = x -> Chunk(2)\n    return a", "3 names for 2 values (Chunk gives 2)", 3, 5),
    ("names-for-one", "    a, b = x -> ReLU()\n    return a", "2 names for 1 value", 3, 5),
    ("chunk-as-one", "    return x -> Chunk(2) -> ReLU()", "Chunk(2) gives 2 values; a chain goes on from one", 3, 29),
    ("chunk-bound-once", "    a = x -> Chunk(2)\n    return a", "Chunk gives 2 values, where one is expected", 3, 9),
    ("chunk-in-merge", "    return add(x -> Chunk(2), x)", "Chunk gives 2 values, where one is expected", 3, 16),
    ("same-name-twice", "    a, a = x -> Chunk(2)\n    return a", "'a' is bound twice in one assignment", 3, 8),
]


@pytest.mark.parametrize("body, match, line, col", [e[1:] for e in DESTRUCTURING_ERRORS],
                         ids=[e[0] for e in DESTRUCTURING_ERRORS])
def test_destructuring_errors_are_located(body, match, line, col):
    text = "model M() {\n    input x: [6]\n" + body + "\n}\n"
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(text, "m.snn")
    assert match in info.value.message, info.value.message
    assert (info.value.span.line, info.value.span.column) == (line, col)


def test_a_model_may_return_the_parts_of_a_chunk():
    net = snndsl.compile_source("model M() {\n    input x: [6]\n    return x -> Chunk(3)\n}\n", "m.snn")
    x = torch.randn(2, 1, 6)
    assert all(torch.equal(a, b) for a, b in zip(net(x), x.chunk(3, dim=2)))


def test_keywords_are_labels():
    """SpikingJelly names submodules `block`, `neuron`, ...: a label may be any name,
    keywords included (after `->` no keyword can start a stage)."""
    text = ("model M() {\n    input x: [4]\n"
            "    return x -> block: (Linear(4, 4) -> ReLU()) -> input: Linear(4, 2) -> neuron: LIF()\n}\n")
    net = snndsl.compile_source(text, "m.snn")
    assert list(net.state_dict()) == ["block.0.weight", "block.0.bias", "input.weight", "input.bias"]
