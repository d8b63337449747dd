"""The three CPU implementations of the fused neurons (``native``: compiled C, ``aten``:
in-place ATen ops, ``mirror``: the reference ops),
each against SpikingJelly 2.0.0, plus what is particular to the C kernel: threads, memory
layouts, selection by ``SNNDSL_CPU_KERNEL`` and the fallback when it cannot be built."""

from __future__ import annotations

import itertools
import os

import pytest
import torch

from snndsl.runtime import kernels, neuron, surrogate
from snndsl.runtime.kernels import native_neuron, torch_neuron
from snndsl.runtime.kernels.reference import NeuronSpec

from .conftest import SURROGATES

KIND_DECAY = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
PATHS = ["native", "aten", "mirror"]  # the CPU ones of kernels.PATHS


@pytest.fixture
def force_path(monkeypatch):
    """``force_path(name)``: every multi-step neuron call takes that implementation."""

    def force(path: str) -> None:
        if path == "native":
            needs_native_kernel()
        monkeypatch.setattr(kernels, "select_path", lambda spec, x: path)

    return force


def needs_native_kernel() -> None:
    """The C kernel needs a C compiler; CI and this machine have one."""
    native_neuron._load()
    if native_neuron._state.get("lib") is None:
        pytest.skip(f"the native kernel cannot be built here: {native_neuron._state.get('error')}")


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


@pytest.mark.parametrize("sg", SURROGATES)
@pytest.mark.parametrize("kind,decay_input", KIND_DECAY)
def test_native_every_surrogate(neurons, run, assert_match, force_path, sg, kind, decay_input):
    force_path("native")
    ours, ref = neurons(kind, decay_input=decay_input, v_reset=None, sg=sg, tau=1.7)
    x, v0 = _inputs(3, (5, 2, 300))
    assert_match(run(ours, x, v0, "m"), run(ref, x, v0, "m"), rtol=1e-6)


@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_v_seq_gradients_agree_across_paths(force_path, path, store_v_seq):
    """A loss on every step's ``v`` (store_v_seq) and on the last one."""
    x, v0 = _inputs(5, (6, 4, 50))
    results = []
    for p in (path, "mirror"):
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
    force_path("native")
    x, v0 = _inputs(9, (4, 8, 1000))

    def go():
        node = neuron.ParametricLIFNode(step_mode="m", surrogate_function=surrogate.Erf())
        xx, vv = x.clone().requires_grad_(), v0.clone().requires_grad_()
        node.v = vv
        s = node(xx)
        (s.sum() + node.v.square().sum()).backward()
        return s, node.v.detach(), xx.grad, vv.grad, node.w.grad

    single = go()
    threads = torch.get_num_threads()
    monkeypatch.setattr(native_neuron, "PARALLEL_MIN", 0)
    assert len(native_neuron._ranges(8000, 3)) == 3
    native_neuron._load()
    has_openmp = bool(native_neuron._state.get("openmp"))
    torch.set_num_threads(3)
    try:
        splits = []
        for openmp in {has_openmp, False}:  # PyTorch's OpenMP pool, and Python threads
            monkeypatch.setitem(native_neuron._state, "openmp", openmp)
            splits.append(go())
    finally:
        torch.set_num_threads(threads)
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
    if path != "mirror":
        assert s2.stride() == x2.stride() and g2.stride() == x2.stride()


def test_selection_follows_the_environment(monkeypatch):
    needs_native_kernel()
    spec = NeuronSpec("lif", 1.0, 0.0, False, surrogate.Sigmoid())
    x = torch.zeros(2, 3)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "aten")
    assert torch_neuron.select_path(spec, x) == "aten"
    assert kernels.path_for(spec, x) == "aten"  # the name the environment variable uses
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "native")
    assert torch_neuron.select_path(spec, x) == "native"
    assert kernels.path_for(spec, x) == "native"
    assert torch_neuron.select_path(spec, x.double()) == "aten"
    assert torch_neuron.select_path(spec, x.half()) == "mirror"
    odd = NeuronSpec("lif", 1.0, 0.0, False, type("Mine", (surrogate.Sigmoid,), {})())
    assert torch_neuron.select_path(odd, x) == "aten"  # a subclass may change g'
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "fast please")
    with pytest.raises(ValueError, match="SNNDSL_CPU_KERNEL"):
        torch_neuron.select_path(spec, x)


def test_a_failed_build_falls_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(native_neuron, "_state", {})

    def no_compiler() -> str:
        raise RuntimeError("no C compiler found")

    monkeypatch.setattr(native_neuron, "_compiler", no_compiler)
    spec = NeuronSpec("if", 1.0, 0.0, False, surrogate.ATan())
    x = torch.zeros(2, 3)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "auto")
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        assert torch_neuron.select_path(spec, x) == "aten"
    assert torch_neuron.select_path(spec, x) == "aten"  # warned once
    node = neuron.IFNode(step_mode="m")
    assert node(torch.ones(3, 4)).shape == (3, 4)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "native")
    with pytest.raises(RuntimeError, match="did not build"):
        torch_neuron.select_path(spec, x)


def test_build_is_cached_and_atomic(monkeypatch, tmp_path):
    needs_native_kernel()
    monkeypatch.setattr(native_neuron, "_state", {})
    monkeypatch.setenv("SNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    path = native_neuron.library_path()
    assert path is not None and path.parent == tmp_path / "cache"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    stamp = os.stat(path).st_mtime_ns
    assert native_neuron._build() == path and os.stat(path).st_mtime_ns == stamp


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


@pytest.mark.parametrize("store_v_seq", [False, True])
def test_in_memory_order_runs_a_flattening_kernel_on_channels_last_without_a_copy(store_v_seq):
    """The Triton path's wrapper: the kernel sees a contiguous permutation of a
    channels-last sequence and the results come back in the caller's layout."""
    T, N, C, H, W = 3, 2, 4, 5, 6
    x = torch.randn(T * N, C, H, W).contiguous(memory_format=torch.channels_last)
    x = x.unflatten(0, (T, N)).requires_grad_()
    v0 = torch.randn(N, C, H, W)
    seen = {}

    def kernel(xs, v):  # a stand-in for TritonMultiStepNeuron: flattens its input
        seen["contiguous"] = xs.is_contiguous()
        flat = xs.reshape(T, -1)
        seen["copied"] = flat.data_ptr() != xs.data_ptr() or not flat._is_view()
        out = (flat * 2).view(xs.shape)
        vv = (out + v) if store_v_seq else (out[-1] + v)
        return out, vv

    s, v = torch_neuron.in_memory_order(kernel, x, v0, store_v_seq)
    assert seen == {"contiguous": True, "copied": False}
    assert torch.equal(s, x * 2) and s.stride() == x.stride()
    assert torch.equal(v, (x * 2 + v0) if store_v_seq else (x[-1] * 2 + v0))
    s.sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))


def test_modifying_the_input_after_forward_is_caught(force_path):
    """The native path saves its input for the backward (it recomputes H from it): an
    in-place change of that input before backward is autograd's error, never a wrong
    gradient."""
    force_path("native")
    node = neuron.LIFNode(step_mode="m")
    x = torch.rand(4, 3, 10, requires_grad=True)
    y = x * 2.0
    s = node(y)
    with pytest.raises(RuntimeError, match="inplace"):  # refused at once, or at backward
        y.add_(1.0)
        s.sum().backward()
