"""How the generated C kernels (:mod:`.program_native`) split a call and lay out its data.

* ``SNNDSL_CPU_KERNEL`` (:func:`mode`): ``auto`` (default: the generated C kernel where
  it builds, else the generated PyTorch path with one warning), ``native`` (the C kernel
  or an error), ``aten`` (never the C kernel).
* A large call is split into ``torch.get_num_threads()`` neuron ranges
  (:func:`threads`, :func:`ranges`), whole multiples of 64 neurons (cache lines, vector
  loads) as ``chunk_of`` in the generated C does: with OpenMP (the library's
  ``libgomp.so.1`` resolves to the one PyTorch has loaded, so they share one pool), or,
  where the compiler has no OpenMP, by Python threads (:func:`run`; ctypes releases the
  GIL).
* :func:`rows` gives the ``[T, M]`` view a kernel reads; :func:`memory_order` the
  permutation under which a non-contiguous (e.g. channels-last) sequence's steps are
  dense, so the kernel reads it without a copy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch

__all__ = ["PARALLEL_MIN", "in_memory_order", "inverse", "memory_order", "mode", "ranges", "rows", "run", "threads"]

Tensor = torch.Tensor

#: Below this many neurons x steps a call runs on the calling thread.
PARALLEL_MIN = 1 << 16
#: Thread ranges are multiples of this many neurons (whole cache lines, vector loads).
ALIGN = 64

_lock = threading.Lock()
_executor: list[ThreadPoolExecutor] = []


def mode() -> str:
    """``SNNDSL_CPU_KERNEL``: ``'auto'``, ``'native'`` or ``'aten'``."""
    value = os.environ.get("SNNDSL_CPU_KERNEL", "auto").strip().lower() or "auto"
    if value not in ("auto", "native", "aten"):
        raise ValueError(f"SNNDSL_CPU_KERNEL={value!r}: expected 'auto', 'native' or 'aten'")
    return value


def threads(M: int, work: int) -> int:
    """How many threads a call of ``work`` neurons x steps on ``M`` neurons uses."""
    if work < PARALLEL_MIN or M < 2 * ALIGN:
        return 1
    return max(1, torch.get_num_threads())


def ranges(M: int, n: int) -> list[tuple[int, int]]:
    """``n`` neuron ranges covering ``0..M``, each a multiple of ``ALIGN`` long."""
    per = -(-M // n)
    per = -(-per // ALIGN) * ALIGN
    return [(b, min(b + per, M)) for b in range(0, M, per)]


_R = TypeVar("_R")


def run(fn: Callable[[int, int], _R], n: int, M: int) -> list[_R]:
    """Without OpenMP: ``fn(begin, end)`` per range of :func:`ranges`, in Python threads."""
    if not _executor:
        with _lock:
            if not _executor:
                _executor.append(ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                                    thread_name_prefix="snndsl-neuron"))  # fmt: skip
    futures = [_executor[0].submit(fn, b0, b1) for b0, b1 in ranges(M, n)]
    return [f.result() for f in futures]


def rows(x2: Tensor) -> Tensor:
    """``x2`` (``[T, M]``) with contiguous rows and a row stride of ``M`` or 0 (kept: a
    broadcast over time)."""
    if x2.stride(1) == 1 and x2.stride(0) in (0, x2.shape[1]):
        return x2
    return x2.contiguous()


def memory_order(x: Tensor) -> list[int] | None:
    """A permutation ``p`` with ``p[0] == 0`` and ``x.permute(p)``'s steps contiguous
    (``x[0]`` dense in that order), if ``x`` is not already in that form."""
    if x.is_contiguous() or x.dim() < 2:
        return None
    strides = x.stride()
    rest = sorted(range(1, x.dim()), key=lambda d: -strides[d])
    if x[0].permute([d - 1 for d in rest]).is_contiguous():
        return [0, *rest]
    return None


def inverse(order: list[int]) -> list[int]:
    """The permutation that undoes ``order``."""
    inv = [0] * len(order)
    for i, d in enumerate(order):
        inv[d] = i
    return inv


def in_memory_order(apply: Callable[[Tensor, list[Any]], Any], x_seq: Tensor, states: list[Any]) -> Any:
    """``apply(x_seq, states)`` (a fused neuron call: ``out_seq`` alone, or ``(out_seq,
    *final_states[, v_seq or None])``) on ``x_seq`` permuted to its memory order (a view;
    autograd undoes the permutation), so a kernel that flattens its steps reads e.g.
    channels-last steps without a copy, and the results keep the input's layout. A state
    is a tensor shaped like one step (permuted alike) or a float."""
    order = memory_order(x_seq)
    if order is None:
        return apply(x_seq, states)
    rest = [d - 1 for d in order[1:]]
    res = apply(x_seq.permute(order), [s.permute(rest) if isinstance(s, Tensor) else s for s in states])
    inv = inverse(order)
    if isinstance(res, Tensor):
        return res.permute(inv)
    inv_rest = [d - 1 for d in inv[1:]]
    n = len(states)
    out: list[Tensor | None] = [res[0].permute(inv), *(r.permute(inv_rest) for r in res[1 : 1 + n])]
    if len(res) > 1 + n:
        out.append(None if res[1 + n] is None else res[1 + n].permute(inv))
    return tuple(out)
