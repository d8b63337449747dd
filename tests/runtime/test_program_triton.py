"""The generated Triton kernels of neuron programs against the generated fused PyTorch
Function, on CPU tensors with ``TRITON_INTERPRET=1``.

Triton reads ``TRITON_INTERPRET`` when a kernel is defined, so the comparison runs in a
fresh interpreter process. The programs are test_program_neurons.py's (SpikingJelly's
IF/LIF/PLIF in every reset mode, with ``detach_reset`` and ``decay_input``, the eight
surrogates, ``Izhikevich``, ``KLIF``, ``CUBALIF`` (also with ``Rect``),
``NonSpikingLIF``), the prelude's neurons as elaborated, and random ones. In float32
outputs, final states and ``v_seq`` must be the fused path's bit for bit
(``torch.equal``) and the gradients of the input and the initial states within ``1e-6``
relative; a param's gradient, a sum over all neurons and steps added in another order,
as close to the float64 sum as the fused path's (twice its error, plus ``1e-6``
relative). In float16 the forward bit for bit, the gradients within a few float16 ulp
(the fused path accumulates the params' gradients in float16, the kernels in float32).
Random programs with transcendentals (``exp``, ``log``, ``tanh``, ``sigmoid``,
``sqrt``: Triton's, or IEEE where the CPU's vectorised ones are not) are compared within
a tolerance. bfloat16 is not checked: the interpreter truncates float32
to bfloat16 instead of rounding to nearest as GPUs do.
"""

from __future__ import annotations

import ast
import os
import textwrap

import pytest
import torch

pytest.importorskip(
    "triton", reason="Triton is not installed; the generated PyTorch path is the fallback"
)

from snndsl.codegen.neuron_triton import triton_source  # noqa: E402
from snndsl.ir.neuron_program import Code, NeuronProgram  # noqa: E402
from snndsl.runtime import surrogate  # noqa: E402
from snndsl.runtime.kernels import program_triton  # noqa: E402

from .conftest import run_interpreted
from .test_program_neurons import (
    Asm,
    prog_cubalif,
    prog_izhikevich,
    prog_klif,
    prog_lif,
    prog_nonspiking,
)  # noqa: E402


def prog_every_op() -> NeuronProgram:
    """One program with every operation (values kept finite): the transcendentals,
    ``pow`` by constants and by a run-time exponent, ``c / a`` and ``a / c``, ``min``/
    ``max`` of two values and with a constant, ``clamp``, ``relu``, ``detach``."""
    a = Asm("every_op")
    v, u, x, p = a.state("v", 0.1), a.state("u", 0.0), a.input(), a.param("p", 0.5)
    e = a.op(Code.EXP, a.op(Code.TANH, x))
    lg = a.op(Code.LOG, a.op(Code.ABS, v) + 0.5)
    q = a.op(Code.SQRT, a.op(Code.ABS, u) + 0.25)
    s = a.op(Code.SIGMOID, x * p)
    r = a.op(Code.RELU, x - v)
    low, high = a.op(Code.MIN, e, lg), a.op(Code.MAX, q, 0.3)
    c = a.op(Code.CLAMP, s - r, -0.5, 0.75)
    pw = a.op(Code.TANH, u) ** 2.0 + a.op(Code.TANH, v) ** 3.0 + q**1.7 + q**s + q**-1.0
    d = 2.0 / (a.op(Code.ABS, x) + 1.0) + low / 3.0
    h = v * 0.5 + high - low + c + pw + d - r * 0.1 + (-u)
    spk = a.op(Code.SPIKE, h - 1.0)
    v_next = a.op(Code.TANH, h - a.op(Code.DETACH, spk) * 1.0)
    u_next = 0.9 * u + 0.1 * s + a.op(Code.MIN, x, v) - a.op(Code.MAX, u, x) * 0.05
    return a.program(spk, {"v": v_next, "u": u_next}, "SuperSpike")



CHECK = textwrap.dedent(
    """
    import itertools, time, torch
    from hypothesis import HealthCheck, given, settings, strategies as st
    from snndsl.ir.neuron_program import Code
    from snndsl.runtime import surrogate
    from snndsl.runtime.kernels.program_triton import BLOCK, TritonProgram, supports
    from tests.runtime.conftest import SURROGATE_PARAMS, SURROGATES
    from tests.runtime import test_program_neurons as tp

    failures = []

    def run(cls, program, sg, store, x, states, params, impl):
        leaves = [x.clone().requires_grad_(), *(s.clone().requires_grad_() for s in states),
                  *(p.clone().requires_grad_() for p in params)]
        if impl == "fused":
            res = cls.Fused.apply(sg, store, *leaves)
        else:
            assert supports(program, sg, x, force=True)
            res = TritonProgram.apply(program, sg, store, *leaves)
        if isinstance(res, torch.Tensor):  # a program without states: its output alone
            res = (res,)
        outs = [r for r in res if r is not None]
        gen = torch.Generator().manual_seed(1)
        loss = sum((o.float() * torch.randn(o.shape, generator=gen)).sum() for o in outs)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True) if loss.requires_grad else [None] * len(leaves)
        grads = [torch.zeros_like(v) if g is None else g for v, g in zip(leaves, grads)]
        return outs, grads

    def compare(name, program, sg, dtype=torch.float32, store=True, shape=(5, 3, 7), seed=0,
                exact=True, broadcast=False, init=None, p_value=None):
        cls = tp.load(program, "Gen")
        node = cls(surrogate_function=sg).to(dtype)
        sg = node.surrogate_function
        gen = torch.Generator().manual_seed(seed)
        x = (torch.randn(shape, generator=gen) * 0.8 + 0.45).to(dtype)
        if broadcast:  # one input for every step (step stride 0)
            x = x[:1].expand(shape)
        states = [(torch.randn(shape[1:], generator=gen) * (init or 0.5)).to(dtype) for _ in cls.STATES]
        params = [p.detach().clone() for p in node.parameters()]
        if p_value is not None:
            params = [torch.full_like(p, p_value) for p in params]
        (o1, g1), (o2, g2) = (run(cls, program, sg, store, x, states, params, impl) for impl in ("fused", "triton"))
        ftol, gtol = (0.0, 1e-6) if dtype == torch.float32 else (0.0, 5e-3)
        if not exact:
            ftol, gtol = (1e-4, 1e-4) if dtype == torch.float32 else (5e-3, 5e-3)
        for k, (a, b) in enumerate(zip(o1, o2, strict=True)):
            same = torch.equal(a, b) if ftol == 0.0 else torch.allclose(a.float(), b.float(), rtol=ftol, atol=ftol, equal_nan=True)
            if not same:
                failures.append(f"{name}: result {k} differs by {(a.float() - b.float()).abs().max().item()}")
        exact64 = None
        for k, (a, b) in enumerate(zip(g1, g2, strict=True)):
            a, b = a.float(), b.float()
            err = (a - b).abs().nan_to_num(0.0).max().item() if a.numel() else 0.0
            bound = gtol * (1.0 + b.abs().nan_to_num(0.0).max().item() if b.numel() else 1.0)
            if err > bound and k > len(states) and dtype == torch.float32 and exact:
                # a param's gradient is a sum over all neurons and steps, added up in
                # another order: as close to the float64 sum as the fused path's
                if exact64 is None:
                    exact64 = run(cls, program, sg, store, x.double(), [s.double() for s in states],
                                  [p.double() for p in params], "fused")[1]
                ref = exact64[k].item()
                err = abs(b.item() - ref) - 2.0 * abs(a.item() - ref)
                bound = gtol * (1.0 + abs(ref))
            if err > bound or not torch.equal(a.isnan(), b.isnan()):
                failures.append(f"{name}: gradient {k} differs by {err} (bound {bound})")

    def sgf(name):
        return getattr(surrogate, name)(**SURROGATE_PARAMS.get(name, {"alpha": 0.8}))

    start = time.time()
    n = 0
    # -- SpikingJelly's IF, LIF and PLIF ------------------------------------------------
    kinds = [("if", True), ("lif", True), ("lif", False), ("plif", True), ("plif", False)]
    for i, ((kind, decay), v_reset, detach) in enumerate(itertools.product(kinds, [0.0, None, -0.25], [False, True])):
        program = tp.prog_lif(kind, tau=2.5, init_tau=2.5, decay_input=decay, v_reset=v_reset, detach_reset=detach)
        compare(f"{kind} decay={decay} v_reset={v_reset} detach={detach}", program, sgf(SURROGATES[i % 8]),
                store=i % 3 != 1, seed=i)
        n += 1
    # -- the other neurons of test_program_neurons ------------------------------------------
    izh = dict(tau=2.5, v_c=0.7, a0=0.9, v_rest=-0.1, w_rest=0.0, tau_w=3.0, a_=0.3, b=0.2)
    others = [
        ("izhikevich", tp.prog_izhikevich(v_reset=0.0, **izh), "Sigmoid"),
        ("izhikevich soft", tp.prog_izhikevich(v_reset=None, **izh), "ATan"),
        ("izhikevich detach", tp.prog_izhikevich(v_reset=-0.1, detach_reset=True, **izh), "SoftSign"),
        ("cubalif", tp.prog_cubalif(0.6, 0.7, 0.5, 0.0, False), "Sigmoid"),
        ("cubalif soft detach", tp.prog_cubalif(0.6, 0.7, 0.5, None, True), "Erf"),
        ("cubalif rect", tp.prog_cubalif(0.6, 0.7, 0.5, 0.1, True), "Rect"),
        ("nonspiking lif", tp.prog_nonspiking(2.5), "Sigmoid"),
    ]
    for scale, decay, v_reset, detach in [(False, True, 0.0, False), (True, True, 0.0, False),
                                          (True, False, None, False), (False, True, None, True), (True, True, -0.2, True)]:
        others.append((f"klif scale={scale} decay={decay} v_reset={v_reset} detach={detach}",
                       tp.prog_klif(scale, 2.0, decay, 1.0, v_reset, detach), "ATan"))
    for j, (name, program, sgn) in enumerate(others):
        compare(name, program, sgf(sgn), store=j % 2 == 0, seed=100 + j,
                p_value=0.7 if name.startswith("klif") and j % 2 else None)
        compare(name + " no store", program, sgf(sgn), store=False, seed=200 + j, shape=(3, 4))
        n += 2
    # -- shapes: several programs (partial sums), a broadcast input, one step ------------------
    plif = tp.prog_lif("plif", tau=2.5, init_tau=2.5, v_reset=None)
    compare("plif, two programs", plif, sgf("Sigmoid"), shape=(3, BLOCK + 37), seed=7)
    compare("izhikevich, broadcast input", tp.prog_izhikevich(**izh), sgf("ATan"), shape=(4, 2, 5), broadcast=True)
    compare("lif, T = 1", tp.prog_lif("lif"), sgf("Erf"), shape=(1, 6))
    n += 3
    # -- a program without states; initial states given as floats ---------------------------
    a = tp.Asm("stateless")
    x = a.input()
    h = a.op(Code.RELU, x * a.param("p", 0.8)) - 0.25
    compare("stateless", a.program(a.op(Code.SPIKE, h), {}), sgf("SuperSpike"))
    program = tp.prog_izhikevich(**izh)
    cls = tp.load(program, "Izh")
    xs = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(5))
    want = cls.Fused.apply(sgf("Sigmoid"), True, xs, torch.full((3, 5), 0.2), torch.full((3, 5), -0.1))
    got = TritonProgram.apply(program, sgf("Sigmoid"), True, xs, 0.2, -0.1)
    if not all(torch.equal(u, v) for u, v in zip(want, got, strict=True)):
        failures.append("float initial states")
    n += 2
    # -- the output is the previous state, or the input ----------------------------------
    for returned in ("state", "input"):
        a = tp.Asm("returns_" + returned)
        v = a.state("v", 0.0)
        x = a.input()
        nxt = v * v * 0.5 + x * v
        compare("returns the " + returned, a.program(v if returned == "state" else x, {"v": nxt}), sgf("ATan"))
        n += 1
    # -- every operation (transcendentals: within a tolerance) -----------------------------
    from tests.runtime.test_program_triton import prog_every_op

    for dtype in (torch.float32, torch.float16):
        compare(f"every op {dtype}", prog_every_op(), sgf("SuperSpike"), dtype=dtype, exact=False, init=0.3)
        n += 1
    # -- the prelude's neurons as the compiler elaborates them (default arguments) -------
    from snndsl.frontend.neurons import build_program, header_values
    from snndsl.frontend.prelude import prelude_neurons

    for pname, decl in prelude_neurons().items():
        program = build_program(decl.node, header_values(decl.node, {}))
        sg = getattr(surrogate, program.surrogate.name)(**dict(program.surrogate.kwargs))
        compare("prelude " + pname, program, sg, seed=400 + n)
        compare("prelude f16 " + pname, program, sg, dtype=torch.float16, seed=500 + n, store=False)
        n += 2
    # -- float16 -----------------------------------------------------------------------------
    for name, program, sgn in [
        ("lif f16", tp.prog_lif("lif", tau=3.7, v_reset=-0.3), "Sigmoid"),
        ("plif f16", tp.prog_lif("plif", decay_input=False, v_reset=None), "ATan"),
        ("izhikevich f16", tp.prog_izhikevich(**izh), "ATan"),
        ("klif f16", tp.prog_klif(True, 2.0, True, 1.0, 0.0, False), "Sigmoid"),
    ]:
        compare(name, program, sgf(sgn), dtype=torch.float16, seed=300 + n)
        n += 1
    # -- random programs (test_program_neurons' strategy) ------------------------------------
    APPROX = {Code.EXP, Code.LOG, Code.TANH, Code.SIGMOID, Code.SQRT}
    counts = {"exact": 0, "approx": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(tp.programs(), st.integers(0, 10_000), st.booleans())
    def random_programs(program, seed, store):
        exact = not any(ins.code in APPROX for ins in program.instrs)
        counts["exact" if exact else "approx"] += 1
        sg = getattr(surrogate, program.surrogate.name)()
        compare(f"random {seed}", program, sg, store=store, seed=seed, shape=(4, 3, 4), exact=exact,
                init=0.7, p_value=0.37)

    random_programs()
    n += sum(counts.values())
    print("\\n".join(failures) if failures else f"ok {n} {counts} {time.time() - start:.1f}s")
    """
)


def test_generated_kernels_match_the_fused_function_in_the_interpreter(tmp_path):
    run_interpreted(CHECK.replace("EXAMPLES", "60"), cache_dir=tmp_path)
    # the modules are in the cache, one file per program, named by the hash of the text
    files = sorted(p.name for p in (tmp_path / "triton").iterdir())
    assert files and all(f.startswith("snndsl_neuron_triton_") and f.endswith(".py") for f in files)


# -- without running a kernel ------------------------------------------------------------------
PROGRAMS = {
    "lif": prog_lif("lif", v_reset=None),
    "plif": prog_lif("plif", detach_reset=True),
    "izhikevich": prog_izhikevich(a_=0.3, b=0.2),
    "klif": prog_klif(True),
    "cubalif": prog_cubalif(),
    "li": prog_nonspiking(),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_source_is_deterministic_python(name):
    text = triton_source(PROGRAMS[name])
    assert text == triton_source(PROGRAMS[name])
    ast.parse(text)
    assert (
        "@triton.jit\ndef forward_kernel(" in text and "@triton.jit\ndef backward_kernel(" in text
    )
    assert "atomic" not in text  # partial sums per program, added up on the host


class Smooth(surrogate.Sigmoid):
    """Not one of the kernels' surrogates: a subclass may change the derivative."""


def test_supports(monkeypatch):
    lif, li = PROGRAMS["lif"], PROGRAMS["li"]
    x = torch.zeros(2, 3)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not program_triton.supports(lif, surrogate.Sigmoid(), x)  # a CPU tensor
    assert not program_triton.supports(lif, surrogate.Sigmoid(), x, force=True)  # not interpreted
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert program_triton.supports(lif, surrogate.Sigmoid(), x, force=True)
    assert program_triton.supports(lif, surrogate.Sigmoid(), x.half(), force=True)
    assert not program_triton.supports(lif, surrogate.Sigmoid(), x.double(), force=True)
    assert not program_triton.supports(lif, surrogate.Sigmoid(spiking=False), x, force=True)
    assert program_triton.supports(lif, surrogate.Rect(), x, force=True)
    assert not program_triton.supports(lif, Smooth(), x, force=True)  # a subclass may differ
    assert program_triton.supports(li, surrogate.Rect(), x, force=True)  # no spike, no surrogate


def test_the_module_is_cached_by_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNDSL_CACHE_DIR", str(tmp_path))
    program = PROGRAMS["cubalif"]
    mod = program_triton.kernel_module(program)
    assert program_triton.kernel_module(program) is mod
    (path,) = (tmp_path / "triton").iterdir()
    assert path.read_text() == triton_source(program)
    assert mod.STATES == ("v", "c") and mod.__file__ == str(path)
    assert not [
        p for p in (tmp_path / "triton").iterdir() if p.name.startswith(".")
    ]  # no temporary left


def test_scalars_follow_the_device_rules():
    """A constant divisor: float32 on the CPU, the reciprocal of the rounded value on
    CUDA; a mul's constant: float32 on the CPU, rounded to the dtype on CUDA."""
    mod = program_triton.kernel_module(prog_lif("lif", tau=3.7))
    rules = [r for r, _, _ in mod.SCALARS]
    assert "div" in rules
    k = rules.index("div")
    cpu = program_triton.scalar_values(mod, (), torch.float16, cuda=False)[k]
    cuda = program_triton.scalar_values(mod, (), torch.float16, cuda=True)[k]
    assert cpu == float(torch.tensor(3.7, dtype=torch.float32))
    assert cuda == float(torch.tensor(1.0, dtype=torch.float32) / float(torch.tensor(3.7).half()))


def _signature(fn, dtype: str, constexprs: dict) -> dict:
    """Argument types of a generated kernel: pointers to ``dtype`` (the partial sums:
    float32), 32-bit sizes, float32 scalars."""
    out = {}
    for name in fn.arg_names:
        if name in constexprs:
            out[name] = "constexpr"
        elif name.endswith("_ptr"):
            out[name] = "*fp32" if name == "part_ptr" else f"*{dtype}"
        else:
            out[name] = "i32" if name in ("M", "T", "X_STEP") else "fp32"
    return out


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="compiles the jit functions")
def test_the_kernels_compile_for_cuda_without_contraction(tmp_path, monkeypatch):
    """No GPU needed: Triton compiles for a named target down to PTX (and ``ptxas``).
    Every operation compiles; in programs of basic operations floating-point contraction
    stays off (no ``fma``), and the forward divides by IEEE ``div.rn`` or multiplies by a
    reciprocal, never by the approximate ``div.full``."""
    import re

    triton = pytest.importorskip("triton")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    monkeypatch.setenv("SNNDSL_CACHE_DIR", str(tmp_path))
    cases = [
        (prog_izhikevich(a_=0.3, b=0.2), "fp16"),
        (prog_klif(True), "fp32"),
        (prog_every_op(), "fp32"),
    ]
    for program, dtype in cases:
        mod = program_triton.kernel_module(program)
        for name, constexprs in (
            ("forward_kernel", {"STORE": True, "CUDA": True, "BLOCK": 1024}),
            ("backward_kernel", {"SG": 1, "STORE": True, "CUDA": True, "BLOCK": 1024}),
        ):
            fn = getattr(mod, name)
            src = ASTSource(
                fn=fn, signature=_signature(fn, dtype, constexprs), constexprs=constexprs
            )
            try:
                kernel = triton.compile(
                    src, target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": False}
                )
            except (ImportError, RuntimeError, FileNotFoundError) as e:  # no CUDA backend here
                pytest.skip(f"Triton cannot compile for CUDA here: {e}")
            if program.name == "every_op":  # log and pow expand to Triton's own fma sequences
                continue
            ops = set(re.findall(r"\b(?:div|fma)\.[a-z.]*f32", kernel.asm["ptx"]))
            assert not {o for o in ops if o.startswith("fma")}, (program.name, name, ops)
            if name == "forward_kernel":
                assert "div.full.f32" not in ops, (program.name, ops)


def test_the_runtime_is_told_the_printer():
    """``runtime`` does not import ``codegen``: importing snndsl registers the printer."""
    import snndsl  # noqa: F401

    assert program_triton._printer is triton_source
