"""Failures at run time, located at the layer that raised them.

Shape inference runs every small ``nn.*`` layer once on a sample, so most argument
mistakes are compile-time errors. A large layer is checked only on the meta device,
where torch skips some checks (``nn.CELU(alpha=0)`` divides by zero only on real data),
and memory can run out: :func:`located_failures` turns what a forward call raises into
an :class:`SnnError` at the ``.snn`` line of the innermost layer that was running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from .diagnostics import SnnError
from .ir.graph import IR

__all__ = ["located_failures"]

#: what a layer's forward raises for bad arguments or data (not bugs of snndsl's own code)
_RAISED = (RuntimeError, ValueError, TypeError, ZeroDivisionError, IndexError, ArithmeticError, MemoryError)


@contextmanager
def located_failures(net: torch.nn.Module, ir: IR) -> Iterator[None]:
    """Within the block, an exception raised inside one of ``net``'s layers becomes a
    located :class:`SnnError` (the layer's span, torch's first line, a hint). The hooks
    that track the running layer are removed on exit: wrap one call, not a timed loop."""
    running: list[str] = []
    handles = []
    def enter(module: torch.nn.Module, args: object, path: str) -> None:
        running.append(path)

    def leave(module: torch.nn.Module, args: object, out: object) -> None:  # returns None: keeps `out`
        running.pop()

    for path, module in net.named_modules():
        if path and path in ir:
            handles.append(module.register_forward_pre_hook(lambda m, a, p=path: enter(m, a, p)))
            handles.append(module.register_forward_hook(leave))
    try:
        yield
    except _RAISED as e:
        if not running:
            raise
        node = ir.node(running[-1])
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        if isinstance(e, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in first:
            hint = "lower -T or -N, or check the sizes in the file"
            what = "ran out of memory"
        else:
            hint = ("torch refused the layer's arguments or input when it ran on real data; "
                    "check its arguments against torch's documentation")
            what = "failed"
        err = SnnError(f"'{node.path}' {what} at run time: {type(e).__name__}: {first}", node.span, hint)
        err.notes += ir.block_notes(node.path)
        raise err from None
    finally:
        for h in handles:
            h.remove()
