"""The runtime's IFNode, LIFNode and ParametricLIFNode on each CPU path of ``'m'`` mode,
all generated from ``grammars/core_neurons.snn`` (``c``: the generated C kernel,
``torch``: the generated torch ``Fused``, ``loop``: the step loop of the generated
``step``, as for a non-spiking surrogate or under ``torch.compile``), each against
SpikingJelly 2.0.0, plus threads, memory layouts and the choice by ``SNNDSL_CPU_KERNEL``.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from snndsl.runtime import neuron, surrogate
from snndsl.runtime.kernels import parallel, program_native

from .conftest import SURROGATES, count_c_calls

KIND_DECAY = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
PATHS = ["c", "torch", "loop"]


@pytest.fixture
def force_path(monkeypatch):
    """``force_path(name)``: every multi-step neuron call takes that path, and the C
    kernel runs exactly when it is ``'c'`` (counted)."""
    calls = count_c_calls(monkeypatch)

    def force(path: str) -> None:
        monkeypatch.setenv("SNNDSL_CPU_KERNEL", "native" if path == "c" else "aten")
        monkeypatch.setattr(torch.compiler, "is_compiling", lambda: path == "loop")

    force.calls = calls  # type: ignore[attr-defined]
    return force


def _inputs(seed: int, shape: tuple[int, ...], quantised: bool = False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * 0.8 + 0.45
    if quantised:  # multiples of 1/4 hit H == v_threshold exactly
        x = (x * 4).round() / 4
    return x, torch.randn(shape[1:], generator=gen) * 0.5


@pytest.mark.parametrize(
    "path,kind,decay_input,v_reset,detach_reset,sg",
    [
        (p, k, d, r, det, SURROGATES[i % len(SURROGATES)])
        for i, ((k, d), r, det) in enumerate(
            itertools.product(KIND_DECAY, [0.0, None, -0.25], [False, True])
        )
        for p in PATHS
    ],
)
def test_each_path_matches_spikingjelly(
    neurons, run, assert_match, force_path, path, kind, decay_input, v_reset, detach_reset, sg
):
    force_path(path)
    ours, ref = neurons(
        kind, v_reset=v_reset, detach_reset=detach_reset, decay_input=decay_input,
        tau=3.0, sg=sg,
    )  # fmt: skip
    x, v0 = _inputs(11, (7, 3, 37), quantised=kind == "if")
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"))
    assert len(force_path.calls) == (1 if path == "c" else 0)


@pytest.mark.parametrize("sg", SURROGATES)
@pytest.mark.parametrize("kind,decay_input", KIND_DECAY)
def test_c_every_surrogate(neurons, run, assert_match, force_path, sg, kind, decay_input):
    force_path("c")
    ours, ref = neurons(kind, decay_input=decay_input, v_reset=None, sg=sg, tau=1.7)
    x, v0 = _inputs(3, (5, 2, 300))
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"), rtol=1e-6)


@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_v_seq_gradients_agree_across_paths(force_path, path, store_v_seq):
    """A loss on every step's ``v`` (store_v_seq) and on the last one."""
    x, v0 = _inputs(5, (6, 4, 50))
    results = []
    for p in (path, "loop"):
        force_path(p)
        node = neuron.ParametricLIFNode(init_tau=2.5, step_mode="m", store_v_seq=store_v_seq,
                                        v_reset=-0.1)  # fmt: skip
        xx, vv = x.clone().requires_grad_(), v0.clone().requires_grad_()
        node.v = vv
        s = node(xx)
        v = node.v_seq if store_v_seq else node.v
        gen = torch.Generator().manual_seed(1)
        loss = (s * torch.randn(s.shape, generator=gen)).sum() + (v * v.detach()).sum()
        grads = torch.autograd.grad(loss, [xx, vv, node.w])
        results.append((s, v, grads))
    (s1, v1, g1), (s2, v2, g2) = results
    assert torch.equal(s1, s2) and torch.equal(v1, v2)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_threads_split_the_neurons_without_changing_results(monkeypatch, force_path):
    force_path("c")
    x, v0 = _inputs(9, (4, 8, 1000))

    def go():
        node = neuron.ParametricLIFNode(step_mode="m", surrogate_function=surrogate.Erf())
        xx, vv = x.clone().requires_grad_(), v0.clone().requires_grad_()
        node.v = vv
        s = node(xx)
        (s.sum() + node.v.square().sum()).backward()
        return s, node.v.detach(), xx.grad, vv.grad, node.w.grad

    single = go()
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 0)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    assert len(parallel.ranges(8000, 3)) == 3
    kernel = program_native.kernel(neuron.ParametricLIFNode().generated().PROGRAM)
    assert kernel is not None
    splits = []
    for openmp in {kernel.openmp, False}:  # PyTorch's OpenMP pool, and Python threads
        monkeypatch.setattr(kernel, "openmp", openmp)
        splits.append(go())
    for split in splits:
        for a, b in zip(single[:4], split[:4], strict=True):
            assert torch.equal(a, b)
        torch.testing.assert_close(single[4], split[4], rtol=1e-6, atol=0)  # a sum: order


@pytest.mark.parametrize("path", PATHS)
def test_channels_last_input_keeps_its_layout(force_path, path):
    """Steps stored channels-last: no copy, outputs and gradients with the input's strides."""
    force_path(path)
    T, N, C, H, W = 3, 2, 5, 4, 6
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(T * N, C, H, W, generator=gen) + 0.5
    cl = base.contiguous(memory_format=torch.channels_last).unflatten(0, (T, N))
    assert not cl.is_contiguous()
    outs = []
    for x in (base.unflatten(0, (T, N)).contiguous(), cl):
        node = neuron.LIFNode(step_mode="m", tau=2.2)
        xx = x.detach().clone(memory_format=torch.preserve_format).requires_grad_()
        s = node(xx)
        (s * torch.arange(s.numel()).view(s.shape).sin()).sum().backward()
        outs.append((xx, s, node.v, xx.grad))
    (x1, s1, v1, g1), (x2, s2, v2, g2) = outs
    assert torch.equal(s1, s2) and torch.equal(v1, v2)
    torch.testing.assert_close(g1, g2, atol=1e-7, rtol=0)
    if path == "c":
        assert s2.stride() == x2.stride() and g2.stride() == x2.stride()


def test_selection_follows_the_environment(monkeypatch):
    prog = neuron.LIFNode().generated().PROGRAM
    sg = surrogate.Sigmoid()
    x = torch.zeros(2, 3)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "aten")
    assert not program_native.supports(prog, sg, x)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "native")
    assert program_native.supports(prog, sg, x) and program_native.supports(prog, sg, x.double())
    assert not program_native.supports(prog, sg, x.half())
    odd = type("Mine", (surrogate.Sigmoid,), {})()
    assert not program_native.supports(prog, odd, x)  # a subclass may change g'
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "fast please")
    with pytest.raises(ValueError, match="SNNDSL_CPU_KERNEL"):
        program_native.supports(prog, sg, x)


def test_each_configuration_is_one_program_and_one_class():
    """Equal constants share the generated class (and so its kernel); PLIF's init_tau is
    only w's initial value, not part of the program."""
    a, b = neuron.LIFNode(tau=3.0), neuron.LIFNode(tau=3.0)
    assert a.generated() is b.generated()
    assert neuron.LIFNode(tau=3.5).generated() is not a.generated()
    assert neuron.ParametricLIFNode(init_tau=3.0).generated() is neuron.ParametricLIFNode().generated()
    assert a.generated().PROGRAM.name == "LIF"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_an_input_broadcast_over_time_is_read_in_place(force_path, path, channels_last):
    """A hoisted static image reaches the neuron as ``x.expand(T, ...)`` (step stride 0):
    same results as the materialised sequence, for PLIF's ``grad_w`` too."""
    force_path(path)
    gen = torch.Generator().manual_seed(4)
    img = torch.rand(3, 4, 5, 6, generator=gen) * 2
    if channels_last:
        img = img.contiguous(memory_format=torch.channels_last)
    outs = []
    for x in (img.expand(5, *img.shape), img.expand(5, *img.shape).contiguous()):
        node = neuron.ParametricLIFNode(step_mode="m", v_reset=None)
        xx = x.detach().requires_grad_() if x.is_contiguous() else img.clone().requires_grad_()
        inp = xx if x.is_contiguous() else xx.expand(5, *img.shape)
        s = node(inp)
        (s * torch.arange(s.numel()).view(s.shape).cos()).sum().backward()
        grad = xx.grad if not x.is_contiguous() else xx.grad.sum(0)
        outs.append((s, node.v, grad, node.w.grad))
    (s1, v1, g1, w1), (s2, v2, g2, w2) = outs
    assert torch.equal(s1, s2) and torch.equal(v1, v2)
    torch.testing.assert_close(g1, g2, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(w1, w2, atol=1e-5, rtol=1e-5)


def test_a_leaf_input_gets_its_gradient_without_a_copy():
    """The pooled gradient buffer becomes ``x.grad`` as it is (AccumulateGrad takes it
    without a copy because the pool hands out a separate tensor object)."""
    from snndsl.runtime.kernels import buffer_pool

    node = neuron.LIFNode(step_mode="m")
    x = torch.rand(4, 64, 1024, requires_grad=True)  # 1 MiB per tensor: pooled
    node(x).sum().backward()
    pooled = {t.data_ptr() for t in buffer_pool._pool}
    assert x.grad.data_ptr() in pooled
    grad = x.grad.clone()
    x.grad = None
    node.reset()
    node(x).sum().backward()  # the buffer is reused once x.grad no longer holds it
    assert x.grad.data_ptr() in pooled and torch.equal(x.grad, grad)


def test_modifying_the_input_after_forward_is_caught(force_path):
    """The C path saves its input for the backward (it recomputes H from it): an
    in-place change of that input before backward is autograd's error, never a wrong
    gradient."""
    force_path("c")
    node = neuron.LIFNode(step_mode="m")
    x = torch.rand(4, 3, 10, requires_grad=True)
    y = x * 2.0
    s = node(y)
    with pytest.raises(RuntimeError, match="inplace"):  # refused at once, or at backward
        y.add_(1.0)
        s.sum().backward()


def test_a_pickled_neuron_runs_in_another_process(tmp_path):
    """The generated class is not pickled with the neuron (it is a module of one
    process); the unpickled neuron generates its own."""
    import pickle
    import subprocess
    import sys

    node = neuron.ParametricLIFNode(step_mode="m", v_reset=None)
    x = torch.rand(3, 2, 4) * 2
    out = node(x)
    node.reset()
    path = tmp_path / "node.pkl"
    path.write_bytes(pickle.dumps(node))
    torch.save(x, tmp_path / "x.pt")
    code = (
        "import pickle, sys, torch, snndsl\n"
        f"node = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"torch.save(node(torch.load({str(tmp_path / 'x.pt')!r})), {str(tmp_path / 'out.pt')!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.equal(torch.load(tmp_path / "out.pt"), out)
