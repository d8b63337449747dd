r"""Generated neurons on CUDA: the Triton kernels of a neuron program, built and run.

:func:`snndsl.codegen.neuron_triton.triton_source` prints a neuron program's kernels as
a module (registered here by :func:`register_source`); ``@triton.jit`` reads the functions' source from their file, so the module is
written into the kernels' cache (``$SNNDSL_CACHE_DIR``, ...: :func:`.build.cache_dir`,
a ``triton`` folder there) under the sha256 of its text, atomically (a
temporary file renamed into place), and imported from there, once per process and
source. :class:`TritonProgram` is the ``autograd.Function`` that runs it: the same
arguments, results and gradients as the program's generated ``Fused`` (see
:mod:`snndsl.codegen.neuron_code`), so :class:`~snndsl.runtime.program.ProgramNode`
can call either.

The invariant values (``k = sigmoid(w)``) are computed in torch on the host and passed
as scalars; the params' gradients come from the per-program partial sums of the
invariant gradients, added on the host in a fixed order (float64) and taken through the
derived final instructions in torch. The module imports without Triton (:func:`supports`
is then ``False``); the jit helpers the generated kernels call (:func:`rnd`,
:func:`tanh_f32`, :func:`pow_f32`, :func:`surrogate_grad`) live here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from ...ir.neuron_program import Code, NeuronProgram
from .. import surrogate as sg_mod
from .build import cache_dir, fallback_dir

try:  # optional: the generated PyTorch path is the fallback
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the environment
    triton = None
    tl = None

__all__ = [
    "supports", "TritonProgram", "kernel_module", "register_source", "scalar_values", "surrogate_grad", "BLOCK",
    "SURROGATES",
]

#: the surrogates the kernels implement, by their number in :func:`surrogate_grad` (as
#: :mod:`.program_native`'s C kernels)
SURROGATES = sg_mod.KERNEL_IDS

#: neurons per program
BLOCK = 1024
_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def supports(
    program: NeuronProgram, sg: sg_mod.SurrogateFunctionBase, x: torch.Tensor, force: bool = False
) -> bool:
    """Whether :class:`TritonProgram` runs this call: Triton imports, ``x`` is on CUDA
    (or ``force`` under ``TRITON_INTERPRET=1``, for tests on the CPU), a float32/16 or
    bfloat16 ``x``, and a spiking surrogate the kernels implement (:data:`SURROGATES`;
    any, for a program without ``spike``)."""
    if triton is None or _printer is None or x.dtype not in _DTYPES:
        return False
    if not (x.is_cuda or (force and os.environ.get("TRITON_INTERPRET") == "1")):
        return False
    if any(ins.code is Code.SPIKE for ins in program.instrs):
        return bool(sg.spiking) and type(sg) in SURROGATES
    return True


if triton is not None:

    @triton.jit
    def rnd(v, DT: tl.constexpr):
        """A float32 value rounded to ``DT`` (nearest even), as a PyTorch op rounds its result."""
        if DT != tl.float32:
            v = v.to(DT, fp_downcast_rounding="rtne").to(tl.float32)
        return v

    @triton.jit
    def tanh_f32(x):
        """``tanh``: an odd series below 0.3, ``(1 - e) / (1 + e)`` with ``e = exp(-2|x|)``
        beyond (a few ulp; Triton's interpreter has no libdevice)."""
        a = tl.abs(x)
        x2 = x * x
        p = -0.008863235529902197  # the Taylor coefficients, x^11 to x^3
        p = p * x2 + 0.021869488536155203
        p = p * x2 - 0.05396825396825397
        p = p * x2 + 0.13333333333333333
        p = p * x2 - 0.3333333333333333
        series = x + x * (x2 * p)
        e = tl.exp(-2.0 * a)
        r = tl.div_rn(1.0 - e, 1.0 + e)
        return tl.where(a < 0.3, series, tl.where(x < 0.0, -r, r))

    @triton.jit
    def pow_f32(a, b):
        """``a ** b`` as ``exp2(b * log2|a|)``: the sign by parity for a negative ``a`` and
        an integral ``b``, NaN for a non-integral one, 1 for ``b == 0``."""
        m = tl.exp2(b * tl.log2(tl.abs(a)))
        whole = tl.floor(b) == b
        odd = whole & (tl.floor(b * 0.5) * 2.0 != b)
        r = tl.where(a < 0.0, tl.where(whole, tl.where(odd, -m, m), tl.log2(a)), m)
        return tl.where(b == 0.0, 1.0, r)

    @triton.jit
    def surrogate_grad(z, SG: tl.constexpr, a, b):
        """``surrogate'(z)`` (float32) of surrogate number ``SG`` (``surrogate.KERNEL_IDS``)
        with parameters ``a``, ``b`` (``surrogate.kernel_args``), SpikingJelly's formulas."""
        if SG == 0:
            s = tl.sigmoid(a * z)
            r = a * s * (1.0 - s)
        elif SG == 1:
            c = 1.5707963267948966 * a * z
            r = (a * 0.5) / (1.0 + c * c)
        elif SG == 2:
            r = tl.where(tl.abs(z) > 1.0 / a, 0.0, a - a * a * tl.abs(z))
        elif SG == 3:
            r = a * 0.5 * tl.exp(-a * tl.abs(z))
        elif SG == 4:
            d = 1.0 / a + tl.abs(z)
            r = 1.0 / (2.0 * a * d * d)
        elif SG == 5:
            r = a * 0.5641895835477563 * tl.exp(-(a * z) * (a * z))
        elif SG == 6:
            d = tl.abs(z) + 1.0
            r = a / (d * d)
        elif SG == 7:
            r = tl.where(tl.abs(z) < a, 0.5 / a, b)
        else:  # 8: Rect
            r = tl.where(tl.abs(z) < 0.5 / a, a, 0.0)
        return r


# -- the generated module: cached by the hash of its text --------------------------------
_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}


#: prints a program's Triton module: :func:`snndsl.codegen.neuron_triton.triton_source`,
#: registered by that module when it is imported (``import snndsl`` does): the runtime
#: runs generated code and does not import the code generator
_printer: Callable[[NeuronProgram], str] | None = None


def register_source(printer: Callable[[NeuronProgram], str]) -> None:
    """Set the function that prints a program's Triton module (see ``_printer``)."""
    global _printer
    _printer = printer
    _source.cache_clear()


@lru_cache(maxsize=256)
def _source(program: NeuronProgram) -> tuple[str, str]:
    """The module's text and its sha256."""
    if _printer is None:
        raise RuntimeError("no Triton source printer is registered (import snndsl.codegen.neuron_triton)")
    text = _printer(program)
    return text, hashlib.sha256(text.encode()).hexdigest()


def _directory() -> Path:
    try:
        directory = cache_dir() / "triton"
        directory.mkdir(parents=True, exist_ok=True)
        if not os.access(directory, os.W_OK):
            raise PermissionError(directory)
    except OSError:
        directory = fallback_dir() / "triton"
        directory.mkdir(mode=0o700, exist_ok=True)
    return directory


def _write(directory: Path, name: str, text: str) -> Path:
    """``directory/name`` holding ``text``: written to a temporary file and renamed into
    place, so a concurrent reader sees either nothing or the whole file."""
    target = directory / name
    data = text.encode()
    try:
        if target.read_bytes() == data:
            return target
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".neuron-", suffix=".py", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def kernel_module(program: NeuronProgram) -> ModuleType:
    """The imported Triton module of ``program`` (written to the cache on first use)."""
    text, key = _source(program)
    mod = _modules.get(key)
    if mod is not None:
        return mod
    with _lock:
        mod = _modules.get(key)
        if mod is None:
            name = f"snndsl_neuron_triton_{key[:24]}"
            path = _write(_directory(), f"{name}.py", text)
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod  # Triton and inspect look functions' modules up
            try:
                spec.loader.exec_module(mod)
            except BaseException:
                del sys.modules[name]
                raise
            _modules[key] = mod
        return mod


# -- the host side ------------------------------------------------------------------------
def _in_dtype(value: float, dtype: torch.dtype) -> float:
    return float(torch.tensor(value, dtype=torch.float64).to(dtype))


def scalar_values(
    mod: ModuleType, invariants: tuple[torch.Tensor, ...], dtype: torch.dtype, cuda: bool
) -> list[float]:
    """The kernels' scalar arguments, each prepared by its rule as PyTorch uses such a
    number on that device (see :mod:`snndsl.codegen.neuron_triton`)."""
    out = []
    for rule, value, inv in mod.SCALARS:
        if value is None:
            t = invariants[inv].detach()
            exact = float(t.float())
            rounded = float(t.to(dtype).float())
        else:
            exact = float(np.float32(value))
            rounded = _in_dtype(value, dtype)
        if rule == "raw":
            out.append(exact)
        elif rule == "dt":
            out.append(rounded)
        elif rule == "mul":
            out.append(rounded if cuda else exact)
        elif rule == "div":
            out.append(float(np.float32(1.0) / np.float32(rounded)) if cuda else exact)
        else:
            raise AssertionError(rule)
    return out


def _flat(t: torch.Tensor | float, M: int, like: torch.Tensor) -> torch.Tensor:
    """A state (a tensor, or a float for every neuron) as ``M`` contiguous values."""
    if not isinstance(t, torch.Tensor):
        return torch.full((M,), float(t), dtype=like.dtype, device=like.device)
    return t.detach().to(like.dtype).reshape(-1).contiguous()


class TritonProgram(torch.autograd.Function):
    """``apply(program, sg, store, x_seq, *states, *params)``: the program's ``Fused``,
    on the generated Triton kernels: ``(out_seq, *final_states, v_seq or None)``, or
    ``out_seq`` alone for a program without states. An initial state may be a float
    (every neuron starts there; it then gets no gradient)."""

    @staticmethod
    def forward(
        ctx: Any,
        program: NeuronProgram,
        sg: Any,
        store: bool,
        x_seq: torch.Tensor,
        *rest: torch.Tensor | float,
    ):  # type: ignore[override]
        mod = kernel_module(program)
        n = len(mod.STATES)
        states, params = rest[:n], rest[n:]
        T = x_seq.shape[0]
        step_shape = x_seq.shape[1:]
        dtype = x_seq.dtype
        if T > 1 and x_seq.stride(0) == 0:  # one input for every step
            x2, x_step = x_seq[0].contiguous().reshape(-1), 0
        else:
            x2 = x_seq.reshape(T, -1).contiguous()
            x_step = x2.shape[1] if T > 0 else 0
        M = x2.shape[-1] if x2.dim() else 1
        cuda = x_seq.is_cuda
        store = bool(store) and mod.RECORDED is not None
        with torch.no_grad():
            invs = tuple(mod.invariants(sg, *params)) if mod.INVARIANTS else ()
        scalars = scalar_values(mod, invs, dtype, cuda)
        dev = x_seq.device
        out = torch.empty((T, M), dtype=dtype, device=dev)
        v_seq = torch.empty((T, M), dtype=dtype, device=dev) if store else out
        s_in = [_flat(s, M, out) for s in states]
        finals = [torch.empty(M, dtype=dtype, device=dev) for _ in range(n)]
        saved = [torch.empty((T, M), dtype=dtype, device=dev) for _ in mod.SAVED]
        if M > 0:
            mod.forward_kernel[(triton.cdiv(M, BLOCK),)](
                x2, out, v_seq, *s_in, *finals, *saved, *scalars, M, T, x_step,
                STORE=store, CUDA=cuda, BLOCK=BLOCK, enable_fp_fusion=False,
            )  # fmt: skip
        ctx.save_for_backward(
            x2 if mod.BACKWARD_READS_X else None,
            out if mod.BACKWARD_READS_OUT else None,
            *saved,
            *params,  # type: ignore[arg-type]
        )
        ctx.program, ctx.sg, ctx.store, ctx.x_step = program, sg, store, x_step
        ctx.shapes = (
            x_seq.shape,
            [s.shape if isinstance(s, torch.Tensor) else None for s in states],
            M,
        )
        outs: list[torch.Tensor | None] = [out.view(x_seq.shape)]
        outs += [f.view(step_shape) for f in finals]
        if not n:
            return outs[0]
        outs.append(v_seq.view(x_seq.shape) if store else None)
        return tuple(outs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: torch.Tensor, *grads: torch.Tensor | None):  # type: ignore[override]
        program, sg, store = ctx.program, ctx.sg, ctx.store
        mod = kernel_module(program)
        n = len(mod.STATES)
        x_shape, state_shapes, M = ctx.shapes
        x2, out, *rest = ctx.saved_tensors
        saved, params = rest[: len(mod.SAVED)], rest[len(mod.SAVED) :]
        T = x_shape[0]
        dtype = g_out.dtype
        dev = g_out.device
        cuda = g_out.is_cuda
        g2 = g_out.reshape(T, M).contiguous()
        g_last = [_flat(g if g is not None else 0.0, M, g2) for g in grads[:n]]
        g_vseq = grads[n] if n and store else None
        gv = g_vseq.reshape(T, M).contiguous() if g_vseq is not None else g2
        with torch.no_grad():
            invs = tuple(mod.invariants(sg, *params)) if mod.INVARIANTS else ()
        scalars = scalar_values(mod, invs, dtype, cuda)
        grid = triton.cdiv(M, BLOCK) if M > 0 else 0
        gx = torch.empty((T, M), dtype=dtype, device=dev)
        gs0 = [torch.empty(M, dtype=dtype, device=dev) for _ in range(n)]
        parts = torch.zeros(
            (max(len(mod.ACCUMULATED), 1), max(grid, 1)), dtype=torch.float32, device=dev
        )
        sg_id, a, b = sg_mod.kernel_args(sg)
        if grid:
            mod.backward_kernel[(grid,)](
                g2, *g_last, gv, x2 if x2 is not None else g2, out if out is not None else g2, *saved,
                gx, *gs0, parts, *scalars, a, b, M, T, ctx.x_step,
                SG=sg_id, STORE=store and g_vseq is not None, CUDA=cuda, BLOCK=BLOCK, enable_fp_fusion=False,
            )  # fmt: skip
        pgrads: list[torch.Tensor | None] = [None] * len(params)
        if params and mod.ACCUMULATED:
            sums = [parts[j].double().sum().to(dtype) for j in range(len(mod.ACCUMULATED))]
            with torch.no_grad():
                pgrads = list(mod.param_grads(sg, *params, *sums))
        elif params:
            with torch.no_grad():
                pgrads = list(mod.param_grads(sg, *params))
        pgrads = [
            g if g is None or isinstance(g, torch.Tensor) else torch.tensor(g).to(p)
            for g, p in zip(pgrads, params)
        ]
        gx_out = gx.view(x_shape)
        state_out = [g.view(s) if s is not None else None for g, s in zip(gs0, state_shapes)]
        return (None, None, None, gx_out, *state_out, *pgrads)
