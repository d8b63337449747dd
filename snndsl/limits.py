"""Memory limits: the checks that refuse a model or a run before it allocates.

Every size is counted in float32 values (:data:`BYTES_PER_VALUE`), the dtype compiled
models are built and run in, and compared with the memory of the machine or device:

* :func:`check_memory` — a model's parameters and buffers against this machine's memory
  (``compile_source``/``compile_file``, ``snndsl compile`` unless ``--no-memory-check``);
  :func:`parameters_exceed_memory` is the same test as a yes/no (``snndsl check``'s note);
* :func:`check_run_memory` — the values of one forward call (:func:`run_bytes`: every
  value that is not a view, ``[T, N, ...]`` at once in multi-step mode, all alive until
  the call returns), against the memory of the device it runs on (``snndsl run``,
  ``snndsl run --data``, ``snndsl train``);
* :data:`MAX_ELEMENTS` — the elements per sample of one value past which a shape is
  surely a mistake (shape inference).

:func:`available_memory` and :func:`device_memory` say how much memory there is. The
runtime library (:mod:`snndsl.runtime`) needs none of this: it does not depend on the IR;
its CPU buffer pool caps its own size (``SNNDSL_CPU_POOL_MB``,
:mod:`snndsl.runtime.kernels.buffer_pool`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import torch

from .diagnostics import SnnLimitError
from .ir import ops
from .ir.graph import IR, Node

__all__ = [
    "BYTES_PER_VALUE", "MAX_ELEMENTS", "available_memory", "device_memory", "parameter_bytes",
    "parameters_exceed_memory", "check_memory", "check_run_memory", "run_bytes",
]  # fmt: skip

#: bytes of one value (float32)
BYTES_PER_VALUE = 4
#: per-sample elements of one value; larger is surely a mistake
MAX_ELEMENTS = 2**40

_GiB = 2**30


def available_memory() -> int:
    """Bytes of memory this process may use: the machine's physical memory, lowered by
    an address-space limit (``ulimit -v``, less what the process maps already) or a
    cgroup memory limit (containers, ``systemd-run -p MemoryMax``) where one is set."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        total = 1 << 40
    return min(total, _rlimit_room(), _cgroup_room())


def _rlimit_room() -> int:
    try:
        import resource

        limits = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_DATA)]
    except (ImportError, OSError, ValueError):  # pragma: no cover - non-POSIX
        return 1 << 62
    finite = [v for v in limits if v != resource.RLIM_INFINITY and v >= 0]
    if not finite:
        return 1 << 62
    soft = min(finite)
    try:
        with open("/proc/self/statm") as fh:
            mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return max(soft - mapped, 0)


def _cgroup_room() -> int:
    """The memory limit of this process's cgroup (the whole limit, like the physical
    memory above: its usage counts page cache that the kernel reclaims on demand)."""
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file) as fh:
                raw = fh.read().strip()
            limit = 1 << 62 if raw == "max" else int(raw)
        except (OSError, ValueError):
            continue
        return 1 << 62 if limit >= 1 << 60 else limit  # cgroup v1 writes "no limit" as a huge number
    return 1 << 62


def device_memory(device: torch.device) -> int:
    """Bytes of memory of ``device`` (the machine's memory for the CPU)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device.index or 0).total_memory
    return available_memory()


def parameter_bytes(counts: Mapping[str, int]) -> int:
    """Bytes of the parameters and buffers counted per module path (float32)."""
    return sum(counts.values()) * BYTES_PER_VALUE


def parameters_exceed_memory(counts: Mapping[str, int]) -> bool:
    """Whether the parameters and buffers would not fit in this machine's memory."""
    return parameter_bytes(counts) > available_memory()


def check_memory(ir: IR, counts: Mapping[str, int]) -> None:
    """Refuse a model whose parameters and buffers (float32) exceed this machine's memory;
    ``counts`` are those of :func:`snndsl.compiler.parameter_counts`."""
    total = parameter_bytes(counts)
    limit = available_memory()
    if total > limit:
        worst = max(counts, key=counts.__getitem__)
        span = ir.node(worst).span if worst in ir else ir.input_nodes()[0].span
        raise SnnLimitError(
            f"the model needs {total / _GiB:,.1f} GiB for its parameters, more than this machine's "
            f"{limit / _GiB:,.1f} GiB; '{worst}' alone has {counts[worst]:,} values", span,
            "check the layer sizes (`snndsl check` shows the parameter count of every layer)")


#: ops whose value is a view of their input: no memory of their own
_VIEWS = (ops.FlattenTime, ops.UnflattenTime, ops.BroadcastTime, ops.Output)


def run_bytes(ir: IR, T: int, N: int, step_mode: str) -> tuple[int, Node | None, int]:
    """``(peak, largest node, its bytes)`` of one forward call (float32): the generated
    forward keeps every value alive until it returns (and autograd keeps them for the
    backward pass), so the peak is the sum of all values that are not views."""
    total, size = 0, 0
    worst: Node | None = None
    for n in ir.nodes():
        if n.shape is None or isinstance(n.op, _VIEWS):
            continue
        region = ir.regions.get(n.region) if n.region else None
        static = (isinstance(n.op, ops.Input) and n.op.static) or (region is not None and region.static)
        lead = N if (static or step_mode == "s") else T * N
        nbytes = math.prod(n.shape) * lead * BYTES_PER_VALUE
        total += nbytes
        if nbytes > size:
            worst, size = n, nbytes
    return total, worst, size


def check_run_memory(ir: IR, T: int, N: int, step_mode: str, device: torch.device,
                     hint: str = "lower -T or -N, or check the sizes in the file") -> None:
    """Refuse a run whose values (float32, all of ``[T, N, ...]`` at once in multi-step
    mode, all alive until the forward returns) cannot fit in the device's memory, before
    allocating any of them."""
    limit = device_memory(device)
    peak, worst, size = run_bytes(ir, T, N, step_mode)
    if worst is None or peak <= limit:
        return
    what = f"input '{worst.op.name}'" if isinstance(worst.op, ops.Input) else f"the value of '{worst.path}'"
    raise SnnLimitError(
        f"with T={T} and N={N}, one forward call needs {peak / _GiB:,.1f} GiB for its values "
        f"({what} alone {size / _GiB:,.1f} GiB), more than the {limit / _GiB:,.1f} GiB of "
        f"{device.type} memory here", worst.span, hint)
