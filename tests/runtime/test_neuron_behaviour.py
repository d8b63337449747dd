"""Neuron behaviour beyond the equations: state, ``v_seq``, input layouts and dtypes,
argument checking, copying and moving modules, and ``torch.compile``."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

from snndsl.runtime import functional, layer, neuron, surrogate


def _x(shape=(5, 2, 3), seed=0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) + 0.5


def test_v_starts_as_the_rest_float_and_resets_to_it():
    lif, soft = neuron.LIFNode(v_reset=-0.1), neuron.IFNode(v_reset=None)
    assert lif.v == -0.1 and soft.v == 0.0
    lif(torch.ones(3))
    assert isinstance(lif.v, torch.Tensor) and lif.v.shape == (3,)
    lif.reset()
    assert lif.v == -0.1 and not isinstance(lif.v, torch.Tensor)


def test_multi_step_leaves_the_last_v_and_continues_across_calls():
    x = _x()
    stepped = neuron.LIFNode(tau=3.0)
    s_ref = torch.stack([stepped(xt) for xt in torch.cat([x, x])])
    fused = neuron.LIFNode(tau=3.0, step_mode="m")
    s = torch.cat([fused(x), fused(x)])
    assert torch.equal(s, s_ref) and torch.equal(fused.v, stepped.v)


@pytest.mark.parametrize("mode", "sm")
def test_store_v_seq_matches_spikingjelly(sj, neurons, mode):
    ours, ref = neurons("lif", store_v_seq=True, step_mode=mode)
    x = _x()
    if mode == "s":
        for xt in x:
            ours(xt), ref(xt)
    else:
        ours(x), ref(x)
    assert torch.equal(ours.v_seq, ref.v_seq) and ours.v_seq.shape == x.shape
    assert torch.equal(ours.v, ours.v_seq[-1])
    ours.reset()
    assert ours.v_seq is None


def test_documented_v_seq_example():
    """LIF, tau=2, x=1.5 three times: V = [0.75, 0.0, 0.75] (post-reset)."""
    node = neuron.LIFNode(step_mode="m", store_v_seq=True)
    node(torch.full((3, 1), 1.5))
    assert node.v_seq.flatten().tolist() == [0.75, 0.0, 0.75]


def test_gradient_flows_through_v_seq():
    x = _x().requires_grad_()
    node = neuron.LIFNode(step_mode="m", store_v_seq=True)
    node(x)
    (gx,) = torch.autograd.grad(node.v_seq.sum(), x)
    step = neuron.LIFNode(store_v_seq=True)
    x2 = x.detach().clone().requires_grad_()
    for xt in x2:
        step(xt)
    (gx2,) = torch.autograd.grad(step.v_seq.sum(), x2)
    torch.testing.assert_close(gx, gx2, atol=1e-6, rtol=0)


def test_non_contiguous_and_broadcast_inputs():
    """The compiler feeds ``x.expand(T, ...)``; transposed views must work as well."""
    frame = torch.rand(2, 3, generator=torch.Generator().manual_seed(1)) * 1.5
    expanded = frame.unsqueeze(0).expand(4, 2, 3).requires_grad_(False)
    node = neuron.LIFNode(step_mode="m")
    s = node(expanded)
    s_ref = neuron.LIFNode(step_mode="m")(expanded.contiguous())
    assert torch.equal(s, s_ref)
    leaf = frame.clone().requires_grad_()
    (g,) = torch.autograd.grad(neuron.LIFNode(step_mode="m")(leaf.expand(4, 2, 3)).sum(), leaf)
    leaf2 = frame.clone().requires_grad_()
    (g2,) = torch.autograd.grad(
        neuron.LIFNode(step_mode="m")(leaf2.unsqueeze(0).repeat(4, 1, 1)).sum(), leaf2
    )
    torch.testing.assert_close(g, g2)
    t = _x((3, 4, 5)).transpose(1, 2)
    assert torch.equal(
        neuron.IFNode(step_mode="m")(t), neuron.IFNode(step_mode="m")(t.contiguous())
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_are_bit_identical_to_the_step_loop(dtype):
    x = _x((6, 4, 3)).to(dtype)
    for make in (lambda: neuron.LIFNode(tau=3.0), lambda: neuron.ParametricLIFNode().to(dtype)):
        stepped, fused = make(), make()
        fused.step_mode = "m"
        s_ref = torch.stack([stepped(xt) for xt in x])
        s = fused(x)
        assert s.dtype == dtype and fused.v.dtype == dtype
        assert torch.equal(s, s_ref) and torch.equal(fused.v, stepped.v)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_reduced_precision_gradients_follow_the_step_loop(dtype):
    x = _x((6, 4, 3)).to(dtype).requires_grad_()
    fused = neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan())
    (g,) = torch.autograd.grad(fused(x).float().sum(), x)
    stepped = neuron.LIFNode(surrogate_function=surrogate.ATan())
    (g_ref,) = torch.autograd.grad(torch.stack([stepped(t) for t in x]).float().sum(), x)
    assert g.dtype == dtype
    torch.testing.assert_close(g, g_ref, atol=1e-2, rtol=1e-2)


def test_integer_arguments_are_accepted():
    node = neuron.LIFNode(tau=2, v_threshold=1, v_reset=0)
    assert (node.tau, node.v_threshold, node.v_reset) == (2.0, 1.0, 0.0)
    assert neuron.ParametricLIFNode(init_tau=3).w.item() == pytest.approx(-0.6931471805599453)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: neuron.LIFNode(tau=1.0), "tau must be > 1"),
        (lambda: neuron.IFNode(v_threshold="1"), "v_threshold must be a real number"),
        (lambda: neuron.IFNode(detach_reset=1), "detach_reset must be a bool"),
        (lambda: neuron.IFNode(step_mode="x"), "step_mode can only be"),
    ],
)
def test_bad_arguments_are_refused_clearly(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_multi_step_rank_error_names_the_module_and_the_fix():
    node = neuron.LIFNode(step_mode="m")
    with pytest.raises(ValueError, match=r"LIFNode\(step_mode='m'\).*\[T, N, \*\].*step_mode='s'"):
        node(torch.tensor(1.0))
    with pytest.raises(ValueError, match="T >= 1"):
        node(torch.zeros(0, 3))


def test_memories_are_not_in_the_state_dict():
    assert list(neuron.LIFNode().state_dict()) == []
    assert list(neuron.ParametricLIFNode().state_dict()) == ["w"]


def test_deepcopy_after_a_forward_pass_with_grad():
    net = nn.Sequential(layer.Linear(3, 4), neuron.LIFNode(), layer.Dropout(0.3))
    net(torch.rand(2, 3, requires_grad=True))
    clone = copy.deepcopy(net)
    assert torch.equal(clone[1].v, net[1].v) and not clone[1].v.requires_grad
    assert torch.equal(clone[2].mask, net[2].mask)
    clone[1].reset()
    assert isinstance(net[1].v, torch.Tensor)


def test_to_and_half_move_tensor_memories():
    node = neuron.LIFNode()
    node(torch.rand(3))
    node.to(torch.float64)
    assert node.v.dtype == torch.float64
    node.half()
    assert node.v.dtype == torch.float16


def test_detach_cuts_the_graph():
    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(3, 2, requires_grad=True))
    assert node.v.requires_grad
    functional.detach_net(node)
    assert not node.v.requires_grad


def test_reset_before_backward_keeps_the_graph_valid():
    x = torch.rand(4, 3, requires_grad=True)
    node = neuron.ParametricLIFNode(step_mode="m")
    s = node(x)
    node.reset()
    (s.sum() + 0 * x.sum()).backward()
    assert x.grad is not None and node.w.grad is not None


def test_repr_shows_the_arguments():
    text = repr(neuron.LIFNode(tau=3.0, surrogate_function=surrogate.ATan(), step_mode="m"))
    assert "tau=3.0" in text and "step_mode=m" in text and "ATan(alpha=2.0)" in text


def test_torch_compile_gives_the_eager_results():
    torch._dynamo.reset()
    net = nn.Sequential(
        layer.Linear(5, 6, step_mode="m"),
        neuron.LIFNode(step_mode="m", surrogate_function=surrogate.ATan()),
        layer.Linear(6, 3, step_mode="m"),
        neuron.ParametricLIFNode(step_mode="m"),
    )
    x = _x((4, 2, 5))
    ref = net(x)
    ref_grads = torch.autograd.grad(ref.sum() + net[3].v.sum(), list(net.parameters()))
    functional.reset_net(net)
    compiled = torch.compile(net, backend="aot_eager")
    out = compiled(x)
    grads = torch.autograd.grad(out.sum() + net[3].v.sum(), list(net.parameters()))
    assert torch.equal(out, ref)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-6)


def test_runtime_works_without_triton():
    """With ``import triton`` failing, the runtime imports and runs on the PyTorch path."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from snndsl.runtime import neuron\n"
        "from snndsl.runtime.kernels import program_triton\n"
        "assert program_triton.triton is None\n"
        "s = neuron.LIFNode(step_mode='m')(torch.ones(3, 2) * 1.5)\n"
        "assert s.tolist() == [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], s\n"
    )
    root = __file__.rsplit("/tests/", 1)[0]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]


def test_buffer_pool_never_hands_out_a_tensor_in_use(monkeypatch):
    """The native and aten CPU paths reuse their large buffers between calls (to spare page faults);
    a buffer still referenced (by Python, a view, a retained graph) must not be reused."""
    from snndsl.runtime.kernels import buffer_pool

    monkeypatch.setattr(buffer_pool, "_MIN_BYTES", 0)
    buffer_pool.empty_cache()
    a, b = buffer_pool.empty((64, 64), torch.float32), buffer_pool.empty((64, 64), torch.float32)
    assert a.data_ptr() != b.data_ptr()
    address = a.data_ptr()
    del a
    c = buffer_pool.empty((64, 64), torch.float32)
    assert c.data_ptr() == address  # reused once unreferenced
    view, address = c.view(-1), c.data_ptr()
    del c
    assert buffer_pool.empty((64, 64), torch.float32).data_ptr() != address  # view alive
    del view

    def grads(x: torch.Tensor, node: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        s = node(x)
        (g,) = torch.autograd.grad((s * torch.arange(s.numel()).view_as(s)).sum(), x)
        return s, g

    x = _x((4, 3, 5)).requires_grad_()
    node = neuron.LIFNode(step_mode="m")
    s1 = node(x)
    kept = s1.clone()
    (g1,) = torch.autograd.grad(s1.sum(), x, retain_graph=True)
    node.reset()
    s2 = node(x * 0.5)  # a second call while s1 and its graph are alive
    (g1_again,) = torch.autograd.grad(s1.sum(), x)
    assert torch.equal(s1, kept) and torch.equal(g1, g1_again)
    assert not torch.equal(s2, s1)
    pooled = [grads(x, neuron.LIFNode(step_mode="m")) for _ in range(3)]
    monkeypatch.setattr(buffer_pool, "_LIMIT", 0)
    plain = grads(x, neuron.LIFNode(step_mode="m"))
    for s, g in pooled:
        assert torch.equal(s, plain[0]) and torch.equal(g, plain[1])
    buffer_pool.empty_cache()
    assert buffer_pool.pooled_bytes() == 0
