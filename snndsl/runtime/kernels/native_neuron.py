r"""The multi-step neurons as one compiled C loop on the CPU (float32, spiking surrogates).

Every ATen op is a pass over memory; the in-place sequence of :mod:`.aten_neuron` needs
about nine per step. ``csrc/neuron.c`` does the whole time loop of a block of neurons
in one pass instead: forward reads ``X`` and writes the spikes and ``-H`` (saved for
backward), backward reads ``-H`` and the spike gradient and writes the input gradient.
The forward evaluates the reference equations op for op with FMA contraction off, so
spikes and ``V`` stay bit-identical to the step loop.

The C file (with ``csrc/surrogates.h``, the surrogate derivatives it shares with the
generated kernels) ships with the package and is compiled on first use by
:func:`.build.build` (the system compiler, about 3 s; a cache keyed by the sha256 of the
source, the flags, the compiler and the CPU; ``-march=native``), loaded with
:mod:`ctypes`. A large call is split into ``torch.get_num_threads()`` neuron ranges run in parallel: with
OpenMP (``-fopenmp``; the library's ``libgomp.so.1`` resolves to the one PyTorch has
loaded, so they share one thread pool instead of competing for the cores), or, where
the compiler has no OpenMP, by Python threads (ctypes releases the GIL).

``SNNDSL_CPU_KERNEL`` selects: ``auto`` (default: this kernel when it builds, else the
``aten`` path of :mod:`.aten_neuron` with one warning), ``native`` (this kernel or an
error), ``aten`` (never this kernel). The kernel is bypassed while ``torch.compile``
traces.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypedDict, TypeVar

import torch

from . import buffer_pool, build
from .reference import SURROGATE_IDS, NeuronSpec

__all__ = ["available", "supports", "forward", "backward", "library_path"]

Tensor = torch.Tensor

_SOURCE = build.CSRC / "neuron.c"


#: Below this many neurons x steps a call runs on the calling thread.
PARALLEL_MIN = 1 << 16
#: Thread ranges are multiples of this many neurons (whole cache lines, vector loads).
_ALIGN = 64


class _Params(ctypes.Structure):
    _fields_ = [  # noqa: RUF012 - ctypes' declaration
        ("charge", ctypes.c_int32),
        ("hard", ctypes.c_int32),
        ("detach", ctypes.c_int32),
        ("surrogate", ctypes.c_int32),
        ("v_th", ctypes.c_float),
        ("vr", ctypes.c_float),
        ("decay", ctypes.c_float),
        ("p", ctypes.c_float),
        ("q", ctypes.c_float),
        ("a", ctypes.c_float),
        ("b", ctypes.c_float),
        ("block", ctypes.c_int32),
    ]


_lock = threading.Lock()
class _State(TypedDict, total=False):
    lib: ctypes.CDLL | None  # None: it cannot be built here
    path: Path
    error: str
    openmp: bool
    warned: bool
    executor: ThreadPoolExecutor


_state: _State = {}


def _mode() -> str:
    mode = os.environ.get("SNNDSL_CPU_KERNEL", "auto").strip().lower() or "auto"
    if mode not in ("auto", "native", "aten"):
        raise ValueError(
            f"SNNDSL_CPU_KERNEL={mode!r}: expected 'auto', 'native' or 'aten'"
        )
    return mode


_cache_dir = build.cache_dir
_fallback_dir = build.fallback_dir
_compiler = build.compiler


def _build() -> Path:
    """Compile ``csrc/neuron.c`` into the cache (:func:`.build.build`) unless it is there."""
    return build.build("neuron", _SOURCE.read_bytes(), _SOURCE, cc=_compiler())


def _load() -> ctypes.CDLL | None:
    """The compiled library, building it on first use; ``None`` when it cannot be built."""
    if "lib" in _state:
        return _state["lib"]
    with _lock:
        if "lib" in _state:
            return _state["lib"]
        lib = None
        try:
            path = _build()
            lib = ctypes.CDLL(str(path))
            ptr, i64, i32, f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_float
            params = ctypes.POINTER(_Params)
            lib.snn_forward.argtypes = [params, i64, i64, i64, i64, ptr, i64, ptr, f32, ptr,
                                        ptr, ptr, i32]  # fmt: skip
            lib.snn_forward.restype = None
            lib.snn_backward.argtypes = [params, i64, i64, i64, i64, ptr, ptr, ptr, i32, ptr,
                                         i64, ptr, i64, ptr, f32, ptr, ptr,
                                         ctypes.POINTER(ctypes.c_double)]  # fmt: skip
            lib.snn_backward.restype = i32
            lib.snn_forward_parallel.argtypes = [params, i64, i64, i32, ptr, i64, ptr, f32, ptr,
                                                 ptr, ptr, i32]  # fmt: skip
            lib.snn_forward_parallel.restype = None
            lib.snn_backward_parallel.argtypes = [params, i64, i64, i32, ptr, ptr, ptr, i32, ptr,
                                                  i64, ptr, i64, ptr, f32, ptr, ptr, ptr]  # fmt: skip
            lib.snn_backward_parallel.restype = i32
            lib.snn_openmp.restype = i32
            _state["openmp"] = bool(lib.snn_openmp())
            _state["path"] = path
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            _state["error"] = f"{type(exc).__name__}: {exc}"
            lib = None
        _state["lib"] = lib
        return lib


def library_path() -> Path | None:
    """Where the compiled kernel lives (building it if needed); ``None`` if unavailable."""
    _load()
    return _state.get("path")


def available() -> bool:
    """Whether the native kernel may be used (``SNNDSL_CPU_KERNEL`` and the build)."""
    mode = _mode()
    if mode == "aten":
        return False
    if _load() is not None:
        return True
    if mode == "native":
        raise RuntimeError(f"SNNDSL_CPU_KERNEL=native, but the kernel did not build: "
                           f"{_state.get('error')}")  # fmt: skip
    if not _state.get("warned"):
        _state["warned"] = True
        warnings.warn(
            "snndsl: the native CPU neuron kernel could not be built "
            f"({_state.get('error')}); using the slower 'aten' path (PyTorch ops). "
            "Set SNNDSL_CPU_KERNEL=aten to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


def supports(spec: NeuronSpec, x: Tensor) -> bool:
    """Whether this call can run natively: CPU float32, a known spiking surrogate."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and spec.surrogate.spiking
        and type(spec.surrogate) in SURROGATE_IDS
        and not torch.compiler.is_compiling()
        and available()
    )


def _params(spec: NeuronSpec, k: Tensor | None, threads: int = 1) -> _Params:
    surrogate = spec.surrogate
    params = list(surrogate.params.values())
    a = params[0] if params else 0.0
    b = params[1] if len(params) > 1 else 0.0
    if spec.kind == "if":
        charge, decay, p, q = 0, 0.0, 1.0, 1.0
    elif spec.kind == "lif":
        rate = 1.0 / spec.tau
        charge, decay = (1 if spec.decay_input else 2), spec.tau
        p, q = (rate if spec.decay_input else 1.0), 1.0 - rate
    else:
        assert k is not None
        kv = float(k)
        charge, decay = (3 if spec.decay_input else 4), kv
        p, q = (kv if spec.decay_input else 1.0), 1.0 - kv
    return _Params(
        charge, int(spec.v_reset is not None), int(spec.detach_reset),
        SURROGATE_IDS[type(surrogate)], spec.v_threshold, spec.vr, decay, p, q, a, b,
        1024 if threads == 1 else 4096,  # neurons per block: measured best on this Xeon
    )  # fmt: skip


def _threads(M: int, work: int) -> int:
    """How many threads a call of ``work`` neurons x steps uses."""
    if work < PARALLEL_MIN or M < 2 * _ALIGN:
        return 1
    return max(1, torch.get_num_threads())


def _ranges(M: int, threads: int) -> list[tuple[int, int]]:
    """``threads`` neuron ranges, multiples of ``_ALIGN`` (as ``chunk_of`` in the C file)."""
    per = -(-M // threads)
    per = -(-per // _ALIGN) * _ALIGN
    return [(b, min(b + per, M)) for b in range(0, M, per)]


_R = TypeVar("_R")


def _run(fn: Callable[[int, int], _R], threads: int, M: int) -> list[_R]:
    """Without OpenMP: ``fn(begin, end)`` per range, the ranges in Python threads (ctypes
    releases the GIL)."""
    ranges = _ranges(M, threads)
    executor = _state.get("executor")
    if executor is None:
        with _lock:
            executor = _state.get("executor")
            if executor is None:
                executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                              thread_name_prefix="snndsl-neuron")  # fmt: skip
                _state["executor"] = executor
    futures = [executor.submit(fn, b0, b1) for b0, b1 in ranges]
    return [f.result() for f in futures]


def _ptr(t: Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _rows(x2: Tensor) -> Tensor:
    """``x2`` with contiguous rows and a row stride of ``M`` or 0 (kept: a broadcast)."""
    if x2.stride(1) == 1 and x2.stride(0) in (0, x2.shape[1]):
        return x2
    return x2.contiguous()


def forward(
    x2: Tensor,
    v0: Tensor | None,
    v_fill: float,
    k: Tensor | None,
    spec: NeuronSpec,
    store_v_seq: bool,
) -> tuple[Tensor, Tensor, tuple[Tensor | None, ...]]:
    """Like :func:`.aten_neuron.forward`, but what it saves for :func:`backward` is the
    input itself, ``(None, x2, v0)``, not ``-H``: the backward recomputes ``H`` block by
    block (the same operations, so the same values) while the block is in cache. The
    forward then writes one ``[T, M]`` tensor instead of two, and no tensor is kept that
    the caller does not already have. ``x2`` is ``[T, M]`` with contiguous rows; a step
    stride of 0 (one input broadcast over T, e.g. a hoisted static image) is read as it
    is, without materialising the T copies."""
    lib = _load()
    assert lib is not None
    T, M = x2.shape
    x2 = _rows(x2)
    v0c = None if v0 is None else v0.contiguous()
    spikes = buffer_pool.empty((T, M), x2.dtype)
    v_out = buffer_pool.empty((T, M) if store_v_seq else (M,), x2.dtype)
    threads = _threads(M, T * M)
    params = _params(spec, k, threads)
    pointers = (_ptr(x2), x2.stride(0), _ptr(v0c), v_fill, _ptr(spikes), None, _ptr(v_out))
    store = int(store_v_seq)
    if threads == 1:
        lib.snn_forward(ctypes.byref(params), T, M, 0, M, *pointers, store)
    elif _state.get("openmp"):  # PyTorch's OpenMP thread pool
        lib.snn_forward_parallel(ctypes.byref(params), T, M, threads, *pointers, store)
    else:
        _run(lambda b0, b1: lib.snn_forward(ctypes.byref(params), T, M, b0, b1, *pointers, store),
             threads, M)  # fmt: skip
    return spikes, v_out, (None, x2, v0c)


def backward(
    spec: NeuronSpec,
    saved: tuple[Tensor | None, ...],
    v_fill: float,
    k: Tensor | None,
    gs2: Tensor | None,
    gv_out: Tensor | None,
    store_v_seq: bool,
    need_gv0: bool,
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Same contract as :func:`.aten_neuron.backward`, for what :func:`forward` saved."""
    lib = _load()
    assert lib is not None
    _, x2, v0 = saved
    assert x2 is not None
    T, M = x2.shape
    gs = None if gs2 is None else gs2.contiguous()
    gv = None if gv_out is None else gv_out.contiguous()
    x_in = x2 if spec.kind == "plif" and spec.decay_input else None
    gx = buffer_pool.empty((T, M), x2.dtype)
    gv0 = torch.empty((M,), dtype=x2.dtype) if need_gv0 else None
    threads = _threads(M, T * M)
    params = _params(spec, k, threads)
    x_stride = 0 if x_in is None else x_in.stride(0)
    pointers = (None, _ptr(gs), _ptr(gv), int(store_v_seq), _ptr(x_in), x_stride,
                _ptr(x2), x2.stride(0), _ptr(v0), v_fill, _ptr(gx), _ptr(gv0))  # fmt: skip
    plif = spec.kind == "plif"

    def call(b0: int, b1: int) -> float:
        total = ctypes.c_double(0.0)
        if lib.snn_backward(ctypes.byref(params), T, M, b0, b1, *pointers,
                            ctypes.byref(total) if plif else None):  # fmt: skip
            raise MemoryError("snndsl neuron backward: out of memory for its block buffer")
        return total.value

    if threads == 1:
        sums = [call(0, M)]
    elif _state.get("openmp"):
        parts = (ctypes.c_double * threads)()
        if lib.snn_backward_parallel(ctypes.byref(params), T, M, threads, *pointers,
                                     parts if plif else None):  # fmt: skip
            raise MemoryError("snndsl neuron backward: out of memory for its block buffers")
        sums = parts[:]
    else:
        sums = _run(call, threads, M)
    gk = torch.tensor(sum(sums), dtype=torch.float64) if plif else None
    return gx, gv0, gk
