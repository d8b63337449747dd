"""Reuse of the large CPU buffers of the fused neurons between calls.

On CPU every fresh multi-megabyte tensor comes from ``mmap`` and is paid for again at
its first touch, one page fault per 4 KiB page. On the 2-core VM this project measures
on, that costs about 12 ms for a 25 MiB tensor: more than the neuron's whole arithmetic.
The fused neurons allocate three such tensors per training step (spikes, the saved
``-H``, the input gradient), with the same shapes every step, so they take them from
this pool, as PyTorch's CUDA caching allocator does for GPU memory.

A pooled tensor is handed out again only when nothing but the pool refers to it: no
Python reference, view, saved autograd variable or storage object (checked with the
Python, tensor and storage reference counts). The pool holds at most ``SNNDSL_CPU_POOL_MB`` MiB
(default 512; ``0`` disables it) of tensors of at least 1 MiB; :func:`empty_cache` drops
them. It is bypassed while ``torch.compile`` traces.
"""

from __future__ import annotations

import os
import sys

import torch

__all__ = ["empty", "empty_cache", "pooled_bytes"]

_LIMIT = int(os.environ.get("SNNDSL_CPU_POOL_MB", "512")) << 20
_MIN_BYTES = 1 << 20
_pool: list[torch.Tensor] = []


def _unused(t: torch.Tensor) -> bool:
    # Python references: the pool's list, the caller's loop variable, this parameter and
    # getrefcount's argument. C++ references (saved autograd variables, views' bases):
    # only the Python object's. Storage references: the tensor's and the temporary
    # Python storage object made by ``untyped_storage()`` (views add theirs).
    return (
        sys.getrefcount(t) <= 4
        and t._use_count() == 1  # type: ignore[attr-defined]  # private, not in torch's stubs
        and torch._C._storage_Use_Count(t.untyped_storage()._cdata) == 2
    )


def empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised CPU tensor, reusing an unreferenced pooled one when possible."""
    numel = 1
    for n in shape:
        numel *= n
    nbytes = numel * dtype.itemsize
    if _LIMIT <= 0 or nbytes < _MIN_BYTES or torch.compiler.is_compiling():
        return torch.empty(shape, dtype=dtype)
    shape = tuple(shape)
    for i in range(len(_pool)):  # (enumerate's tuple would add a reference)
        t = _pool[i]
        if t.dtype == dtype and tuple(t.shape) == shape and _unused(t):
            _pool.append(_pool.pop(i))  # most recently used last
            return _alias(t)
    t = torch.empty(shape, dtype=dtype)
    _pool.append(t)
    while pooled_bytes() > _LIMIT and len(_pool) > 1:
        _pool.pop(0)  # the pool forgets it; whoever still holds it keeps it
    return _alias(t)


def _alias(t: torch.Tensor) -> torch.Tensor:
    """A new tensor object on ``t``'s memory (not a view). Autograd's AccumulateGrad takes
    a gradient as a leaf's ``.grad`` without copying only when nothing else refers to
    that tensor object; the pool's own reference would otherwise force a 25 MiB copy."""
    return torch.empty(0, dtype=t.dtype).set_(t.untyped_storage(), 0, t.shape, t.stride())


def pooled_bytes() -> int:
    """Bytes of the tensors the pool refers to (free or in use)."""
    return sum(t.numel() * t.element_size() for t in _pool)


def empty_cache() -> None:
    """Forget every pooled tensor (memory in use elsewhere stays valid)."""
    _pool.clear()
