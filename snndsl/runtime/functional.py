"""Network helpers: forward wrappers and whole-network state and step-mode control.

* :func:`multi_step_forward` — a single-step module (or several, in order) applied at
  each ``t`` of ``[T, N, *]``, outputs stacked along dim 0.
* :func:`seq_to_ann_forward` — stateless modules applied once to ``[T*N, *]``.
* :func:`reset_net`, :func:`detach_net` — ``reset()``/``detach()`` on every module that
  has one (no cache: modules added later are reset too, unlike SpikingJelly 2.0.0).
* :func:`set_step_mode` — all or nothing: every module it would change is checked first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn

from .base import StepModule

__all__ = [
    "as_call",
    "single_step",
    "multi_step_forward",
    "seq_to_ann_forward",
    "chunk_multi_step_forward",
    "reset_net",
    "detach_net",
    "set_step_mode",
]

Modules = nn.Module | list[Callable[..., Any]] | tuple[Callable[..., Any], ...] | Callable[..., Any]


def _apply(x: Any, modules: Modules) -> Any:
    args = x if isinstance(x, tuple) else (x,)
    if isinstance(modules, (list, tuple)):
        for module in modules:
            x = module(*args)
            args = (x,)
        return x
    return modules(*args)


def as_call(module: nn.Module, x: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``compute(x)`` run as if it were a call of ``module``: its forward pre-hooks (which
    may replace ``x``) before, its forward hooks (which may replace the output) after, so
    spike monitors and located run-time errors see work that bypasses ``module(x)`` (a
    recurrent loop's single steps, a fused recurrent region)."""
    if not (module._forward_pre_hooks or module._forward_hooks):
        return compute(x)
    args: tuple[Any, ...] = (x,)
    hook: Callable[..., Any]
    for key, hook in list(module._forward_pre_hooks.items()):
        got = hook(module, args, {}) if module._forward_pre_hooks_with_kwargs.get(key, False) else hook(module, args)
        if got is not None:
            args = got[0] if isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict) else (
                got if isinstance(got, tuple) else (got,))
    out = compute(*args)
    for key, hook in list(module._forward_hooks.items()):
        got = hook(module, args, {}, out) if module._forward_hooks_with_kwargs.get(key, False) else hook(module, args, out)
        if got is not None:
            out = got
    return out


def single_step(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One step of a stateful module whatever its step mode (the step loop of a recurrent
    region, in ``'m'`` mode), as a call of the module (:func:`as_call`)."""
    return as_call(module, x, module.single_step_forward)  # type: ignore[arg-type]  # a MemoryModule's


def multi_step_forward(x_seq: torch.Tensor, single_step_module: Modules) -> torch.Tensor:
    """``y[t] = modules(x_seq[t])`` for each ``t``, stacked: ``[T, N, *] -> [T, N, *']``."""
    return torch.stack([_apply(x_seq[t], single_step_module) for t in range(x_seq.shape[0])])


def seq_to_ann_forward(
    x_seq: torch.Tensor | tuple[torch.Tensor, ...], stateless_module: Modules
) -> Any:
    """Flatten ``[T, N, *]`` to ``[T*N, *]``, apply the modules, unflatten back.

    A tuple of ``[T, N, *]`` tensors (sharing ``T`` and ``N``) is flattened element-wise
    and passed as positional arguments to the first module; tuple outputs (MaxPool with
    ``return_indices``) are unflattened element-wise.
    """
    if isinstance(x_seq, tuple):
        lead = x_seq[0].shape[:2]
        if any(item.shape[:2] != lead for item in x_seq[1:]):
            raise ValueError(
                "expected all tensors in x_seq to share the same [T, batch_size] leading "
                f"dimensions, but got tensors with shapes {[tuple(i.shape) for i in x_seq]}!"
            )
        x: Any = tuple(item.flatten(0, 1) for item in x_seq)
    else:
        lead = x_seq.shape[:2]
        x = x_seq.flatten(0, 1)
    y = _apply(x, stateless_module)
    if isinstance(y, tuple):
        return tuple(item.unflatten(0, tuple(lead)) for item in y)
    return y.unflatten(0, tuple(lead))


def chunk_multi_step_forward(
    split_size: int, x_seq: torch.Tensor, multi_step_module: nn.Module
) -> torch.Tensor:
    """Run a multi-step module on chunks of ``split_size`` steps (state carries over)."""
    return torch.cat([multi_step_module(x) for x in torch.split(x_seq, split_size)])


def _method(m: nn.Module, name: str) -> Callable[[], Any] | None:
    """``m.name`` when ``m``'s class defines a method ``name`` (memory modules, SpikingJelly's
    too); never a child module that happens to be labelled ``reset`` or ``detach``."""
    if not callable(getattr(type(m), name, None)):
        return None
    return getattr(m, name)


def reset_net(net: nn.Module) -> None:
    """Call ``reset()`` on every module of ``net`` whose class has that method."""
    for m in net.modules():
        reset = _method(m, "reset")
        if reset is not None:
            reset()


def detach_net(net: nn.Module) -> None:
    """Call ``detach()`` on every module of ``net`` whose class has that method (truncated BPTT)."""
    for m in net.modules():
        detach = _method(m, "detach")
        if detach is not None:
            detach()


def _keeps_children(module: nn.Module) -> bool:
    """Containers (``step_mode_container = True``: the three of :mod:`.layer`, and a
    compiled model, whose own step_mode setter keeps its stateful modules in step while
    its stateless layers always run on a flat batch) are switched as a whole."""
    return bool(getattr(type(module), "step_mode_container", False))


@runtime_checkable
class _HasStepMode(Protocol):
    step_mode: str


def _step_modules(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Pre-order ``(path, module)`` for modules with a ``step_mode``; containers' children
    are skipped (they must stay single-step)."""
    found: list[tuple[str, nn.Module]] = []
    stack: list[tuple[str, nn.Module]] = [("", net)]
    while stack:
        path, m = stack.pop()
        # duck typing for SpikingJelly's modules, but not a child labelled `step_mode`
        if isinstance(m, StepModule) or hasattr(type(m), "step_mode") or "step_mode" in vars(m):
            found.append((path, m))
        if not _keeps_children(m):
            children = [(f"{path}.{n}" if path else n, c) for n, c in m.named_children()]
            stack.extend(reversed(children))
    return found


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` on every step module in ``net``, all or nothing.

    Modules inside ``MultiStepContainer``/``SeqToANNContainer``/``StepModeContainer``
    keep ``'s'``: only the container's own mode changes. If any module cannot take
    ``step_mode`` (e.g. a ``SeqToANNContainer`` asked for ``'s'``), a ``ValueError`` names
    the first one by its path and no module is changed.
    """
    targets = _step_modules(net)
    for path, m in targets:
        if isinstance(m, StepModule) and step_mode not in m.supported_step_mode():
            where = f"net.{path}" if path else "net"
            raise ValueError(
                f"set_step_mode(net, {step_mode!r}): {where} ({type(m).__name__}) supports "
                f"only step_mode in {m.supported_step_mode()}; nothing was changed"
            )
    for path, m in targets:
        if not isinstance(m, StepModule):
            warnings.warn(
                f"setting step_mode on {type(m).__name__} at {path or 'net'}, "
                "which is not a StepModule",
                stacklevel=2,
            )
        if isinstance(m, _HasStepMode) and m.step_mode != step_mode:  # each has one
            m.step_mode = step_mode
