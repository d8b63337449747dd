r"""Generated neurons on the CPU: the C kernel of a neuron program, built and run.

:func:`snndsl.codegen.neuron_c.c_source` prints a neuron program's fused forward and
BPTT backward as C (float32 and float64; registered here by :func:`register_source`,
as the runtime does not import the code generator); :func:`kernel` compiles it once per machine
through :func:`.build.build` (cached by the sha256 of the source, atomically) and loads
it with :mod:`ctypes`. :class:`NativeProgram` is the ``autograd.Function`` that runs it,
with the same arguments, results and gradients as the program's generated ``Fused``
(:mod:`snndsl.codegen.neuron_code`), so :class:`~snndsl.runtime.program.ProgramNode`
calls either: ``apply(program, sg, store, x_seq, *states, *params)`` returns
``(out_seq, *final_states[, v_seq or None])``; a state may be a tensor shaped like one
step or a float every neuron starts at.

What is kept for the backward is the input (and the initial states): the backward
recomputes, block by block of neurons while the block is in cache, the values the
derived backward reads. The loop-invariant values (``k = sigmoid(w)``) are computed in
torch (:func:`~snndsl.codegen.neuron_c.host_source`'s ``invariants``) and passed as
doubles; the params' gradients come from the per-call double sums of the invariant
gradients through the derived final instructions in torch. A large call is split over
``torch.get_num_threads()`` neuron ranges (:mod:`.parallel`: OpenMP sharing PyTorch's
pool, else Python threads).

:func:`supports` says when: CPU, float32 or float64, a spiking surrogate the C
implements (``surrogate.KERNEL_IDS``) or a program without
``spike``, no per-step transcendental (whose libm value can differ from torch's by an
ulp; :func:`supports` ``exact=False`` allows them), not while ``torch.compile`` traces,
``SNNDSL_CPU_KERNEL`` not ``aten``, and the kernel builds. Where it does not build (no compiler), ``ProgramNode`` runs the
generated PyTorch ``Fused`` after one ``RuntimeWarning`` (``SNNDSL_CPU_KERNEL=native``
makes it an error).
"""

from __future__ import annotations

import ctypes
import subprocess
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import surrogate as sg_mod
from . import buffer_pool, build, parallel

__all__ = ["NativeProgram", "StepCalls", "kernel", "register_source", "run_in_memory_order", "supports", "SURROGATES"]

Tensor = torch.Tensor

#: the surrogates the generated C implements, by their number in ``csrc/surrogates.h``
SURROGATES = sg_mod.KERNEL_IDS
_DTYPES = {torch.float32: "f32", torch.float64: "f64"}
#: the backward's block buffers of one block aim at this many bytes (L2-resident)
_BLOCK_BYTES = 256 << 10


@dataclass
class Kernel:
    """One program's loaded library and what its calls need."""

    lib: ctypes.CDLL
    path: Path
    layout: Any  # neuron_c.CLayout
    host: dict[str, Any]  # invariants(sg, *params), param_grads(sg, *params, *sums)
    openmp: bool
    source: str


#: ``(c_source, host_source, layout)`` of :mod:`snndsl.codegen.neuron_c`, which registers
#: them when it is imported (``import snndsl`` does): the runtime runs the kernels but
#: does not import the code generator
_printers: tuple[Callable[[Any], str], Callable[[Any], str], Callable[[Any], Any]] | None = None


def register_source(c_source: Callable[[Any], str], host_source: Callable[[Any], str],
                    layout: Callable[[Any], Any]) -> None:
    """Set the functions that print a program's C kernel, its host functions and its
    layout (``snndsl.codegen.neuron_c`` calls this at import)."""
    global _printers
    _printers = (c_source, host_source, layout)
    _exactness.clear()
    _facts.clear()
    _by_id.clear()


_lock = threading.Lock()
_kernels: dict[Any, Kernel | None] = {}
_errors: dict[Any, str] = {}
_exactness: dict[Any, bool] = {}
_warned: list[bool] = [False]
#: ``id(program)`` -> ``(program, exact, has a spike)`` and ``-> (program, kernel)``:
#: what every call asks, without hashing the program (a frozen dataclass of some tens of
#: instructions: about 8 us a hash, four per forward and backward). An entry holds its
#: program, so the id is not reused while the entry lives.
_facts: dict[int, tuple[Any, bool, bool]] = {}
_by_id: dict[int, tuple[Any, Kernel | None]] = {}


def _declare(lib: ctypes.CDLL) -> None:
    p, i64, i32, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_double
    common = [p, i64, p, p, p]  # x, xs, s0[], fill[], inv[]
    for suf in _DTYPES.values():
        fwd = getattr(lib, f"snn_prog_forward_{suf}")
        fwd.argtypes = [i64, i64, i64, i64, i64, *common, p, p, p]
        fwd.restype = None
        bwd = getattr(lib, f"snn_prog_backward_{suf}")
        bwd.argtypes = [i64, i64, i64, i64, i64, *common, i32, f64, f64, p, p, p, p, p, p]
        bwd.restype = i32
        fwdp = getattr(lib, f"snn_prog_forward_parallel_{suf}")
        fwdp.argtypes = [i32, i64, i64, i64, *common, p, p, p]
        fwdp.restype = None
        bwdp = getattr(lib, f"snn_prog_backward_parallel_{suf}")
        bwdp.argtypes = [i32, i64, i64, i64, *common, i32, f64, f64, p, p, p, p, p, p]
        bwdp.restype = i32
    lib.snn_prog_openmp.restype = i32


def kernel(program: Any) -> Kernel | None:
    """``program``'s compiled kernel (built on first use); ``None`` when it cannot be
    built here (the reason: :func:`error`)."""
    known = _by_id.get(id(program))
    if known is not None and known[0] is program:
        return known[1]
    try:
        found = _kernels[program]
    except KeyError:
        pass
    else:
        _by_id[id(program)] = (program, found)
        return found
    with _lock:
        if program in _kernels:
            return _kernels[program]
        k: Kernel | None = None
        try:
            if _printers is None:
                raise RuntimeError("no C source printer is registered (import snndsl.codegen.neuron_c)")
            c_source, host_source, layout = _printers
            source = c_source(program)
            lib, path = build.load("neuron-program", source.encode())
            _declare(lib)
            host: dict[str, Any] = {}
            exec(compile(host_source(program), f"<snndsl host {path.stem}>", "exec"), host)  # noqa: S102 - generated
            k = Kernel(lib, path, layout(program), host, bool(lib.snn_prog_openmp()), source)
        except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
            _errors[program] = f"{type(exc).__name__}: {exc}"
        _kernels[program] = k
        return k


def error(program: Any) -> str | None:
    """Why :func:`kernel` returned ``None`` for ``program``."""
    return _errors.get(program)


def _exact(program: Any) -> bool:
    exact = _exactness.get(program)
    if exact is None:
        try:
            exact = _exactness[program] = _printers is not None and _printers[2](program).exact
        except ValueError:
            exact = _exactness[program] = False
    return exact


def supports(program: Any, surrogate: sg_mod.SurrogateFunctionBase, x_seq: Tensor, exact: bool = True) -> bool:
    """Whether :class:`NativeProgram` runs this call (see the module docstring). With
    ``exact`` (the default), only a program whose forward the C gives bit for bit as
    torch does: none with a per-step ``exp``, ``log``, ``tanh``, ``sigmoid`` or general
    ``pow`` (libm's and torch's vectorised versions can differ by an ulp)."""
    mode = parallel.mode()
    if mode == "aten" or _printers is None or x_seq.device.type != "cpu" or x_seq.dtype not in _DTYPES:
        return False
    if torch.compiler.is_compiling():
        return False
    facts = _facts.get(id(program))
    if facts is None or facts[0] is not program:
        from ...ir.neuron_program import Code

        facts = _facts[id(program)] = (program, _exact(program), any(ins.code is Code.SPIKE for ins in program.instrs))
    if exact and not facts[1]:
        return False
    if facts[2] and not (surrogate.spiking and type(surrogate) in SURROGATES):
        return False
    if kernel(program) is not None:
        return True
    if mode == "native":
        raise RuntimeError(f"SNNDSL_CPU_KERNEL=native, but the generated kernel of {program.name!r} "
                           f"did not build: {error(program)}")  # fmt: skip
    if not _warned[0]:
        _warned[0] = True
        warnings.warn(
            f"snndsl: the generated C kernel of neuron {program.name!r} could not be built "
            f"({error(program)}); using the generated PyTorch path. "
            "Set SNNDSL_CPU_KERNEL=aten to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


# -- calls --------------------------------------------------------------------------------
def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _ptrs(ts: list[Tensor | None]) -> ctypes.Array[ctypes.c_void_p]:
    return (ctypes.c_void_p * max(len(ts), 1))(*[_ptr(t) for t in ts])


def _doubles(vals: list[float]) -> ctypes.Array[ctypes.c_double]:
    return (ctypes.c_double * max(len(vals), 1))(*vals)


def _block(layout: Any, T: int, itemsize: int) -> int:
    """Neurons per backward block: its buffers (``saved`` values and surrogate
    derivatives per step, states, carries, sums) about ``_BLOCK_BYTES``; 64..1024."""
    per = ((len(layout.saved) + layout.spikes) * T + 2 * len(layout.states) + len(layout.accumulated)) * itemsize
    blk = 1024
    while blk > 64 and blk * per > _BLOCK_BYTES:
        blk //= 2
    return blk


def _forward_call(k: Kernel, suf: str, T: int, M: int, args: tuple[Any, ...]) -> None:
    """The forward kernel on ``M`` neurons, split over threads (:mod:`.parallel`)."""
    threads = parallel.threads(M, T * M)
    blk = 1024  # with the forward's prefetch of the next rows, 1024 beats 2048-16384 on 1 and 2 threads
    if threads == 1:
        getattr(k.lib, f"snn_prog_forward_{suf}")(T, M, 0, M, blk, *args)
    elif k.openmp:
        getattr(k.lib, f"snn_prog_forward_parallel_{suf}")(threads, T, M, blk, *args)
    else:
        fn = getattr(k.lib, f"snn_prog_forward_{suf}")
        parallel.run(lambda b0, b1: fn(T, M, b0, b1, blk, *args), threads, M)


def _backward_call(k: Kernel, suf: str, T: int, M: int, itemsize: int, args: tuple[Any, ...]) -> list[float]:
    """The backward kernel on ``M`` neurons, split over threads; returns the sums of the
    invariants' gradients (per thread in double, added in a fixed order)."""
    threads = parallel.threads(M, T * M)
    blk = _block(k.layout, T, itemsize)
    nacc = max(len(k.layout.accumulated), 1)
    fn = getattr(k.lib, f"snn_prog_backward_{suf}")
    if threads == 1:
        sums = (ctypes.c_double * nacc)()
        status = fn(T, M, 0, M, blk, *args, sums)
        parts = [sums[:]]
    elif k.openmp:
        flat = (ctypes.c_double * (nacc * threads))()
        status = getattr(k.lib, f"snn_prog_backward_parallel_{suf}")(threads, T, M, blk, *args, flat)
        parts = [flat[c * nacc : (c + 1) * nacc] for c in range(threads)]
    else:
        def call(b0: int, b1: int) -> tuple[int, list[float]]:
            s = (ctypes.c_double * nacc)()
            return fn(T, M, b0, b1, blk, *args, s), s[:]

        results = parallel.run(call, threads, M)
        status = max(r[0] for r in results)
        parts = [r[1] for r in results]
    if status:
        raise MemoryError("snndsl generated neuron backward: out of memory for its block buffers")
    return [sum(p[j] for p in parts) for j in range(len(k.layout.accumulated))]


def _param_grads(k: Kernel, sg: Any, params: Any, totals: list[float], dtype: torch.dtype) -> Any:
    """The params' gradients from the sums of the invariants' gradients (the derived final
    instructions, in torch)."""
    sums_t = [torch.tensor(t, dtype=torch.float64).to(dtype) for t in totals]
    with torch.no_grad():
        return k.host["param_grads"](sg, *params, *sums_t)


def _invariants(k: Kernel, sg: Any, params: Any) -> list[float]:
    """The loop-invariant values (e.g. ``k = sigmoid(w)``) as doubles."""
    if not k.layout.inv_used:
        return []
    with torch.no_grad():
        return [float(v) for v in k.host["invariants"](sg, *params)]


class NativeProgram(torch.autograd.Function):
    """``apply(program, sg, store, x_seq, *states, *params)``: the program's ``Fused`` on
    its generated C kernel (see the module docstring)."""

    @staticmethod
    def forward(ctx: Any, program: Any, sg: Any, store: bool, x_seq: Tensor, *rest: Any) -> Any:  # type: ignore[override]
        k = kernel(program)
        assert k is not None, "NativeProgram without a kernel: check supports() first"
        L = k.layout
        n = len(L.states)
        states, params = rest[:n], rest[n:]
        T = x_seq.shape[0]
        step_shape = x_seq.shape[1:]
        dtype = x_seq.dtype
        suf = _DTYPES[dtype]
        x2 = parallel.rows(x_seq.detach().reshape(T, -1))
        M = x2.shape[1]
        store = bool(store) and L.recorded is not None
        s_in: list[Tensor | None] = []
        fills: list[float] = []
        for s in states:
            if isinstance(s, Tensor):
                s_in.append(s.detach().to(dtype).reshape(-1).contiguous())
                fills.append(0.0)
            else:
                s_in.append(None)
                fills.append(float(s))
        invs = _invariants(k, sg, params)
        out = buffer_pool.empty((T, M), dtype)
        finals = [torch.empty(M, dtype=dtype) for _ in range(n)]
        v_seq = buffer_pool.empty((T, M), dtype) if store else None
        args = (_ptr(x2), x2.stride(0), _ptrs(s_in), _doubles(fills), _doubles(invs),
                _ptr(out), _ptrs(list(finals)), _ptr(v_seq))  # fmt: skip
        _forward_call(k, suf, T, M, args)
        ctx.set_materialize_grads(False)
        tensors = [x2, *(s for s in s_in if s is not None), *params]
        ctx.save_for_backward(*tensors)
        ctx.meta = (program, sg, store, fills, [s is not None for s in s_in], invs, x_seq.shape, step_shape)
        outs: list[Tensor | None] = [out.view(x_seq.shape), *(f.view(step_shape) for f in finals)]
        if L.recorded is not None:
            outs.append(v_seq.view(x_seq.shape) if v_seq is not None else None)
        return tuple(outs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g_out: Tensor | None, *grads: Tensor | None) -> Any:  # type: ignore[override]
        program, sg, store, fills, is_tensor, invs, x_shape, step_shape = ctx.meta
        k = kernel(program)
        assert k is not None
        L = k.layout
        n = len(L.states)
        saved = ctx.saved_tensors
        x2 = saved[0]
        s_saved = iter(saved[1 : 1 + sum(is_tensor)])
        s_in = [next(s_saved) if t else None for t in is_tensor]
        params = saved[1 + sum(is_tensor) :]
        T, M = x2.shape
        dtype = x2.dtype
        suf = _DTYPES[dtype]
        gout = torch.zeros((T, M), dtype=dtype) if g_out is None else g_out.reshape(T, M).to(dtype).contiguous()
        g_last = [None if g is None else g.reshape(M).to(dtype).contiguous() for g in grads[:n]]
        g_vseq = grads[n] if store and len(grads) > n else None
        gv = None if g_vseq is None else g_vseq.reshape(T, M).to(dtype).contiguous()
        gx = buffer_pool.empty((T, M), dtype)
        gs0 = [torch.empty(M, dtype=dtype) if t and ctx.needs_input_grad[4 + j] else None
               for j, t in enumerate(is_tensor)]  # fmt: skip
        args = (_ptr(x2), x2.stride(0), _ptrs(s_in), _doubles(fills), _doubles(invs), *sg_mod.kernel_args(sg),
                _ptr(gout), _ptrs(list(g_last)), _ptr(gv), _ptr(gx), _ptrs(list(gs0)))  # fmt: skip
        totals = _backward_call(k, suf, T, M, x2.element_size(), args)
        pgrads: list[Tensor | None] = [None] * len(params)
        if params:
            pgrads = list(_param_grads(k, sg, params, totals, dtype))
        state_grads = [None if g is None else g.view(step_shape) for g in gs0]
        return (None, None, None, gx.view(x_shape), *state_grads, *pgrads)


def run_in_memory_order(program: Any, sg: Any, store: bool, x_seq: Tensor, states: list[Any],
                        params: list[Tensor]) -> Any:
    """:class:`NativeProgram` on ``x_seq`` permuted to its memory order
    (:func:`.parallel.in_memory_order`): channels-last steps are read without a copy and
    the results keep the input's layout."""
    return parallel.in_memory_order(
        lambda x, st: NativeProgram.apply(program, sg, store, x, *st, *params), x_seq, states
    )


class StepCalls:
    """``program``'s kernel one step (``T = 1``) at a time on rows of ``M`` neurons in
    preallocated buffers, by address: a loop that feeds each step's output back into the
    next input (:mod:`snndsl.runtime.recurrent`) runs the same generated code as
    :class:`NativeProgram`. ``supports(program, sg, x)`` must hold; one state.

    :meth:`forward` writes the output and the next state of one step; :meth:`backward`
    the input's and the previous state's gradients from the output's and the next
    state's, returning its share of the invariants' gradient sums, which
    :meth:`param_grads` turns into the params' gradients at the end."""

    def __init__(self, program: Any, sg: Any, dtype: torch.dtype, M: int, params: list[Tensor]) -> None:
        k = kernel(program)
        assert k is not None and len(k.layout.states) == 1, "StepCalls: check supports() first"
        self.k, self.sg, self.M, self.params, self.dtype = k, sg, M, params, dtype
        self.suf = _DTYPES[dtype]
        self.itemsize = dtype.itemsize
        self.invs = _doubles(_invariants(k, sg, params))
        self.sg_args = sg_mod.kernel_args(sg)
        # the per-step arguments' arrays, made once and refilled (a step is ~20 us)
        self.s_in, self.s_out, self.g_next = _addrs([None]), _addrs([None]), _addrs([None])
        self.fill = _doubles([0.0])
        self.single = parallel.threads(M, M) == 1
        self.fwd = getattr(k.lib, f"snn_prog_forward_{self.suf}")
        self.bwd = getattr(k.lib, f"snn_prog_backward_{self.suf}")
        self.blk = _block(k.layout, 1, self.itemsize)
        self.sums = (ctypes.c_double * max(len(k.layout.accumulated), 1))()

    def forward(self, x: int, s_in: int | None, fill: float, out: int, s_out: int) -> None:
        self.s_in[0], self.fill[0], self.s_out[0] = s_in, fill, s_out
        args = (x, self.M, self.s_in, self.fill, self.invs, out, self.s_out, None)
        if self.single:
            self.fwd(1, self.M, 0, self.M, 1024, *args)
        else:
            _forward_call(self.k, self.suf, 1, self.M, args)

    def backward(self, x: int, s_in: int | None, fill: float, g_out: int, g_next: int, g_x: int,
                 g_prev: int) -> list[float]:
        self.s_in[0], self.fill[0], self.s_out[0], self.g_next[0] = s_in, fill, g_prev, g_next
        args = (x, self.M, self.s_in, self.fill, self.invs, *self.sg_args, g_out, self.g_next, None, g_x, self.s_out)
        if not self.single:
            return _backward_call(self.k, self.suf, 1, self.M, self.itemsize, args)
        if self.bwd(1, self.M, 0, self.M, self.blk, *args, self.sums):
            raise MemoryError("snndsl generated neuron backward: out of memory for its block buffers")
        return self.sums[: len(self.k.layout.accumulated)]

    def param_grads(self, totals: list[float]) -> list[Tensor]:
        return list(_param_grads(self.k, self.sg, self.params, totals, self.dtype))


def _addrs(addresses: list[int | None]) -> ctypes.Array[ctypes.c_void_p]:
    return (ctypes.c_void_p * len(addresses))(*addresses)
