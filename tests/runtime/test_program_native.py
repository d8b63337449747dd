"""The generated C kernel of neuron programs (``snndsl.codegen.neuron_c``, run by
``snndsl.runtime.kernels.program_native``) against the generated PyTorch ``Fused`` and
SpikingJelly 2.0.0.

Every program of ``test_program_neurons`` (IF/LIF/PLIF in every reset mode, Izhikevich,
KLIF, CubaLIF, NonSpikingLIF): outputs, final states and ``v_seq`` ``torch.equal`` to
``Fused``'s, gradients of the input, of the initial states and of the params within
``1e-6`` (float32, relative) or ``1e-12`` (float64); a broadcast input (step stride 0),
initial states as tensors and as fills, two threads (OpenMP and Python threads) equal
to one; the source and the cache are deterministic; without a compiler the neurons fall
back to ``Fused`` with one warning.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from snndsl.codegen.neuron_c import c_source, layout
from snndsl.ir.neuron_program import Code, NeuronProgram
from snndsl.runtime import surrogate
from snndsl.runtime.kernels import build, parallel, program_native

from .test_program_neurons import (
    SGS,
    Asm,
    _compare,
    _data,
    _sg_pair,
    load,
    prog_cubalif,
    prog_izhikevich,
    prog_klif,
    prog_lif,
    prog_nonspiking,
)

DTYPES = [torch.float32, torch.float64]


def needs_kernel(program: NeuronProgram) -> None:
    if program_native.kernel(program) is None:
        pytest.skip(f"the generated kernel cannot be built here: {program_native.error(program)}")


def _programs() -> list[tuple[str, NeuronProgram, dict[str, float]]]:
    out = []
    for (kind, di), vr, det in itertools.product(
        [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)], [0.0, None, -0.25], [False, True]
    ):
        out.append((f"{kind}-di{di}-vr{vr}-det{det}",
                    prog_lif(kind, tau=2.5, init_tau=2.5, decay_input=di, v_reset=vr, detach_reset=det), {"v": 0.5}))
    for vr, det in [(0.0, False), (None, False), (-0.1, True)]:
        out.append((f"izhikevich-vr{vr}-det{det}",
                    prog_izhikevich(tau=2.5, v_c=0.7, a0=0.9, v_reset=vr, tau_w=3.0, a_=0.3, b=0.2, detach_reset=det),
                    {"v": 0.5, "w": 0.3}))
    for sr, di, vr, det in [(False, True, 0.0, False), (True, True, 0.0, False), (True, False, None, False),
                            (False, True, None, True), (True, True, -0.2, True)]:
        out.append((f"klif-sr{sr}-di{di}-vr{vr}-det{det}", prog_klif(sr, 2.0, di, 1.0, vr, det), {"v": 0.5}))
    for vr, det in [(0.0, False), (None, False), (0.1, True)]:
        out.append((f"cubalif-vr{vr}-det{det}", prog_cubalif(0.6, 0.7, 0.5, vr, det), {"v": 0.4, "c": 0.3}))
    out.append(("nonspiking", prog_nonspiking(2.5), {"v": 0.5}))
    return out


PROGRAMS = _programs()


def _both(program: NeuronProgram, sg, x: torch.Tensor, states: list, params: list[torch.Tensor], store: bool, seed: int = 0):
    """``Fused`` and ``NativeProgram`` on the same arguments: results, and the gradients
    of a random loss on every result (input, tensor initial states, params)."""
    cls = load(program, "Gen")
    leaves = [x] + [s for s in states if isinstance(s, torch.Tensor)] + params
    fused_states = [s if isinstance(s, torch.Tensor) else torch.full_like(x[0], s) for s in states]
    r_fused = cls.Fused.apply(sg, store, x, *fused_states, *params)
    r_c = program_native.NativeProgram.apply(program, sg, store, x, *states, *params)
    r_fused = (r_fused,) if isinstance(r_fused, torch.Tensor) else r_fused
    assert len(r_c) == len(r_fused)
    gen = torch.Generator().manual_seed(seed)
    weights = [None if r is None else torch.randn(r.shape, generator=gen, dtype=r.dtype) for r in r_fused]

    def grads(res):
        loss = sum((r * w).sum() for r, w in zip(res, weights) if r is not None)
        if not loss.requires_grad:
            return [torch.zeros_like(leaf) for leaf in leaves]
        gs = torch.autograd.grad(loss, leaves, allow_unused=True)
        return [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, gs)]

    return r_fused, r_c, grads(r_fused), grads(r_c)


def assert_equal_results(r_fused, r_c, g_fused, g_c, dtype) -> None:
    for k, (a, b) in enumerate(zip(r_fused, r_c)):
        if a is None:
            assert b is None
            continue
        assert a.shape == b.shape and torch.equal(a, b), f"result {k} differs by {(a - b).abs().max()}"
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    for k, (a, b) in enumerate(zip(g_fused, g_c)):
        err = (a - b).abs().max().item()
        assert err <= tol * (1.0 + a.abs().max().item()), f"gradient {k} differs by {err}"


# -- against Fused ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,program,scales", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_the_c_kernel_is_fused_bit_for_bit(name, program, scales, dtype):
    needs_kernel(program)
    assert layout(program).exact
    cls = load(program, "Gen")
    node = cls().to(dtype)
    sg = node.surrogate_function
    assert program_native.supports(program, sg, torch.zeros(2, 3, dtype=dtype))
    for n, (shape, store, fills) in enumerate([((6, 3, 5), True, False), ((4, 7), False, True), ((3, 2, 2, 3), True, True)]):
        x, init = _data(n, shape, dtype, scales)
        x.requires_grad_()
        states = [float(v) if fills else init[s].requires_grad_() for s, v in cls.STATES]
        r = _both(program, sg, x, states, list(node.parameters()), store, seed=n)
        assert_equal_results(*r, dtype)


@pytest.mark.parametrize("sgn", [*SGS, "PiecewiseExp", "SoftSign", "SuperSpike", "Rect"])
def test_every_surrogate(sj, sgn):
    program = prog_lif("plif", init_tau=2.5)
    needs_kernel(program)
    sg, _ = _sg_pair(sj, sgn)
    x, init = _data(5, (5, 4, 6), torch.float32, {"v": 0.5})
    node = load(program, "Gen")()
    r = _both(program, sg, x.requires_grad_(), [init["v"].requires_grad_()], list(node.parameters()), True)
    assert_equal_results(*r, torch.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_input_broadcast_over_time_is_read_in_place(dtype):
    program = prog_izhikevich(a_=0.3, b=0.2)
    needs_kernel(program)
    base = (torch.randn(1, 3, 8, dtype=dtype) * 0.8 + 0.5).requires_grad_()
    x = base.expand(7, 3, 8)
    assert x.stride(0) == 0
    sg = surrogate.Sigmoid()
    r = _both(program, sg, x, [0.0, 0.1], [], True)
    assert_equal_results(*r, dtype)
    # the gradient reaches the broadcast leaf
    out = program_native.NativeProgram.apply(program, sg, False, x, 0.0, 0.1)[0]
    (g,) = torch.autograd.grad((out * torch.arange(8, dtype=dtype)).sum(), base)
    assert g.shape == base.shape


def test_a_loss_on_the_final_states_only():
    """Undefined output gradients reach the kernel as missing (not materialised) ones."""
    program = prog_lif("plif", init_tau=3.0)
    needs_kernel(program)
    cls = load(program, "Gen")
    x, init = _data(2, (5, 9), torch.float64, {"v": 0.5})
    grads = []
    for native in (True, False):
        node = cls(step_mode="m").to(torch.float64) if native else type("T", (cls,), {"PROGRAM": None})(step_mode="m").to(torch.float64)
        xx = x.clone().requires_grad_()
        node(xx)
        grads.append(torch.autograd.grad((node.v ** 2).sum(), [xx, node.w]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_the_generated_class_runs_the_c_kernel_and_matches_spikingjelly(sj, monkeypatch):
    """``'m'`` mode of a generated neuron goes through ``NativeProgram`` (spied on), and
    gives SpikingJelly's spikes and states bit for bit."""
    calls = []
    forward = program_native.NativeProgram.forward

    def spy(ctx, *args):
        calls.append(args[0].name)
        return forward(ctx, *args)

    monkeypatch.setattr(program_native.NativeProgram, "forward", staticmethod(spy))
    for dtype in DTYPES:
        ours_sg, ref_sg = _sg_pair(sj, "ATan")
        ref = sj.neuron.IzhikevichNode(a=0.3, b=0.2, tau=2.5, v_c=0.7, a0=0.9, tau_w=3.0, surrogate_function=ref_sg)
        program = prog_izhikevich(tau=2.5, v_c=0.7, a0=0.9, tau_w=3.0, a_=0.3, b=0.2)
        needs_kernel(program)
        ours = load(program, "Izh")(surrogate_function=ours_sg)
        x, init = _data(11, (6, 3, 5), dtype, {"v": 0.5, "w": 0.3})
        _compare(ours, ref, ["v", "w"], x, init, dtype)
        ref = sj.neuron.CUBALIFNode(c_decay=0.6, v_decay=0.7, v_threshold=0.5, surrogate_function=sj.surrogate.Rect())
        program = prog_cubalif(0.6, 0.7, 0.5)
        ours = load(program, "Cuba")(surrogate_function=surrogate.Rect())
        x, init = _data(12, (6, 3, 5), dtype, {"v": 0.4, "c": 0.3})
        _compare(ours, ref, ["v", "c"], x, init, dtype)
    assert "Izhikevich" in calls and "CUBALIF" in calls


# -- threads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("openmp", [True, False])
def test_two_threads_equal_one(monkeypatch, openmp):
    program = prog_lif("plif", init_tau=2.5, v_reset=None)
    needs_kernel(program)
    k = program_native.kernel(program)
    assert k is not None
    if openmp and not k.openmp:
        pytest.skip("built without OpenMP")
    monkeypatch.setattr(k, "openmp", openmp)
    node = load(program, "Gen")()
    x, init = _data(3, (4, 160, 257), torch.float32, {"v": 0.5})  # 41120 neurons, > PARALLEL_MIN work
    results = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            assert parallel.threads(x[0].numel(), x.numel()) == threads
            results.append(_both(program, node.surrogate_function, x.clone().requires_grad_(),
                                 [init["v"].clone().requires_grad_()], list(node.parameters()), True))
    finally:
        torch.set_num_threads(old)
    (_, r1, _, g1), (_, r2, _, g2) = results
    for a, b in zip(r1, r2):
        assert torch.equal(a, b)
    for a, b in zip(g1[:-1], g2[:-1]):  # the input's and the state's: per neuron, the same operations
        assert torch.equal(a, b)
    torch.testing.assert_close(g1[-1], g2[-1], rtol=1e-6, atol=1e-6)  # the param's: summed per range


# -- what runs where ------------------------------------------------------------------------
def test_transcendental_programs_stay_on_fused_unless_asked():
    """A per-step ``exp`` (libm's can differ from torch's by an ulp): Fused by default;
    with ``exact=False`` the C kernel, within rounding."""
    a = Asm("expo")
    v = a.state("v", 0.0)
    x = a.input()
    h = v * 0.5 + a.op(Code.EXP, a.op(Code.TANH, x))
    s = a.op(Code.SPIKE, h - 1.0)
    program = a.program(s, {"v": h - s * 1.0})
    needs_kernel(program)
    assert not layout(program).exact
    sg = surrogate.Sigmoid()
    xs = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    assert not program_native.supports(program, sg, xs)
    assert program_native.supports(program, sg, xs, exact=False)
    r_fused, r_c, g_fused, g_c = _both(program, sg, xs, [0.0], [], False)
    torch.testing.assert_close(r_c[1], r_fused[1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_c[0], g_fused[0], rtol=1e-9, atol=1e-9)


def test_supports(monkeypatch):
    program = prog_lif("lif")
    needs_kernel(program)
    x = torch.zeros(3, 4)
    assert program_native.supports(program, surrogate.Sigmoid(), x)
    assert not program_native.supports(program, surrogate.Sigmoid(spiking=False), x)
    assert not program_native.supports(program, surrogate.Sigmoid(), x.half())
    assert program_native.supports(prog_nonspiking(), surrogate.Sigmoid(spiking=False), x)
    monkeypatch.setenv("SNNDSL_CPU_KERNEL", "aten")
    assert not program_native.supports(program, surrogate.Sigmoid(), x)


class _CountingProgram(NeuronProgram):
    """A program that counts how often it is hashed."""

    __slots__ = ()
    hashes = 0

    def __hash__(self) -> int:
        type(self).hashes += 1
        return NeuronProgram.__hash__(self)


def test_the_per_call_lookups_do_not_hash_the_program():
    base = prog_lif("lif")
    needs_kernel(base)
    fields = [getattr(base, f) for f in NeuronProgram.__dataclass_fields__]
    program = _CountingProgram(*fields)
    x = torch.rand(4, 3, requires_grad=True)
    assert program_native.supports(program, surrogate.Sigmoid(), x)  # first call: the caches fill
    k = program_native.kernel(program)
    _CountingProgram.hashes = 0
    for _ in range(3):
        assert program_native.supports(program, surrogate.Sigmoid(), x)
        out = program_native.NativeProgram.apply(program, surrogate.Sigmoid(), False, x, 0.0)[0]
        out.sum().backward()
    assert _CountingProgram.hashes == 0
    # an equal program, another object: found by equality once, then by identity
    twin = _CountingProgram(*fields)
    assert twin == program and twin is not program
    assert program_native.kernel(twin) is k
    assert _CountingProgram.hashes == 1
    assert program_native.kernel(twin) is k
    assert _CountingProgram.hashes == 1


# -- the source and the cache -----------------------------------------------------------------
def test_the_source_and_its_cache_file_are_deterministic(monkeypatch, tmp_path):
    program = prog_izhikevich(a_=0.3, b=0.2)
    text = c_source(program)
    assert text == c_source(prog_izhikevich(a_=0.3, b=0.2))
    assert "0x1.3333333333333p-2" in text  # 0.3, exactly
    try:
        key = build.key(text.encode())
    except build.BuildError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("SNNDSL_CACHE_DIR", str(tmp_path / "cache"))
    path = build.build("neuron-program", text.encode())
    assert path.name == f"neuron-program-{key}.so"
    assert (path.parent / f"neuron-program-{key}.c").read_text() == text
    stamp = os.stat(path).st_mtime_ns
    assert build.build("neuron-program", text.encode()) == path and os.stat(path).st_mtime_ns == stamp
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, f"neuron-program-{key}.c"])
    assert build.key(c_source(prog_izhikevich(a_=0.3, b=0.25)).encode()) != key


def test_without_a_compiler_the_neurons_fall_back_with_one_warning(tmp_path):
    script = textwrap.dedent("""
        import warnings
        import torch
        from tests.runtime.test_program_neurons import load, prog_lif, prog_izhikevich
        from snndsl.runtime.kernels import program_native
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for program in (prog_lif("plif"), prog_izhikevich(a_=0.3, b=0.2)):
                cls = load(program, "Gen")
                x = torch.randn(5, 3, 4, requires_grad=True)
                out = cls(step_mode="m")(x)
                ref = type("T", (cls,), {"PROGRAM": None})(step_mode="m")(x)
                assert torch.equal(out, ref)
                assert program_native.kernel(program) is None
            from snndsl.runtime import neuron  # the runtime's LIF: its generated torch Fused
            lif = neuron.LIFNode(step_mode="m", tau=3.0)
            x = (torch.rand(5, 3, 4) * 2).requires_grad_()
            out = lif(x)
            out.sum().backward()
            assert program_native.kernel(lif.generated().PROGRAM) is None and x.grad is not None
            lif.reset()
            lif.step_mode = "s"
            assert torch.equal(torch.stack([lif(x[t]) for t in range(5)]), out)
        ours = [w for w in caught if "generated C kernel" in str(w.message)]
        assert len(ours) == 1 and issubclass(ours[0].category, RuntimeWarning), [str(w.message) for w in caught]
        print("OK")
    """)
    env = dict(os.environ, CC="/nonexistent/cc", PATH=str(tmp_path / "empty"), SNNDSL_CACHE_DIR=str(tmp_path / "cache"),
               SNNDSL_CPU_KERNEL="auto")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


def test_a_channels_last_input_keeps_its_layout():
    """Steps in channels-last order are read in memory order (no copy); the output and
    ``v_seq`` have the input's strides, as ``Fused``'s ``empty_like`` gives them."""
    program = prog_lif("plif", init_tau=2.5)
    needs_kernel(program)
    cls = load(program, "Gen")
    x, init = _data(7, (4, 2, 3, 5, 6), torch.float32, {"v": 0.5})
    x = x.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3).requires_grad_()  # each step channels-last
    v0 = init["v"].contiguous(memory_format=torch.channels_last).requires_grad_()
    node = cls()
    sg = node.surrogate_function
    params = list(node.parameters())
    fused = cls.Fused.apply(sg, True, x, v0, *params)
    ours = program_native.run_in_memory_order(program, sg, True, x, [v0], params)
    for a, b in zip(fused, ours):
        assert torch.equal(a, b)
    assert ours[0].stride() == fused[0].stride() == x.stride() and ours[2].stride() == x.stride()
    assert ours[1].stride() == v0.stride()  # the final state in the steps' layout
    ga = torch.autograd.grad(sum(r.sum() for r in fused), [x, v0, *params])
    gb = torch.autograd.grad(sum(r.sum() for r in ours), [x, v0, *params])
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
