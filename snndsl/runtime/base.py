"""Step modes and state: the two base classes every runtime module builds on.

A *step module* knows whether it is fed one time step (``'s'``, a tensor ``[N, *]``) or a
whole sequence (``'m'``, a tensor ``[T, N, *]``). A *memory module* is a step module with
state (a neuron's membrane potential ``v``, a dropout mask) that persists between calls
until :meth:`MemoryModule.reset`.

Memories are neither parameters nor buffers: they never appear in ``state_dict()``, so
an SNN loads the weights of the ANN it mirrors. They do follow ``.to()``, ``.cuda()`` and
``.half()``, and a module can be deep-copied even while its memories hold autograd graphs
(SpikingJelly 2.0.0 raises there; we copy the values, detached).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn as nn

__all__ = ["StepModule", "SingleStepModule", "MultiStepModule", "MemoryModule"]


class StepModule:
    """Mixin giving a module a validated ``step_mode`` attribute (``'s'`` or ``'m'``)."""

    _step_mode: str = "s"

    def supported_step_mode(self) -> tuple[str, ...]:
        """The step modes this module accepts."""
        return ("s", "m")

    @property
    def step_mode(self) -> str:
        """``'s'``: one step ``[N, *]`` per call; ``'m'``: a sequence ``[T, N, *]`` per call."""
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        self._set_step_mode(value)

    def _set_step_mode(self, value: str) -> None:
        """What the ``step_mode`` setter does here: check ``value`` and store it (subclasses
        whose setter does more call this for the plain part)."""
        if value not in self.supported_step_mode():
            raise ValueError(
                f'step_mode can only be {self.supported_step_mode()}, but got "{value}"!'
            )
        self._step_mode = value


class SingleStepModule(StepModule):
    """A step module that only runs one time step per call."""

    _step_mode = "s"

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("s",)


class MultiStepModule(StepModule):
    """A step module that only runs whole sequences (``step_mode`` is always ``'m'``)."""

    _step_mode = "m"

    def supported_step_mode(self) -> tuple[str, ...]:
        return ("m",)


def _detached(value: Any) -> Any:
    """A tensor that can be deep-copied: non-leaf tensors lose their graph."""
    if isinstance(value, torch.Tensor) and not value.is_leaf:
        return value.detach()
    return value


class MemoryModule(nn.Module, StepModule):
    """Base class of stateful runtime modules.

    Subclasses call :meth:`register_memory` in ``__init__`` and implement
    :meth:`single_step_forward` (and, for speed, :meth:`multi_step_forward`);
    :meth:`forward` dispatches on :attr:`step_mode`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}
        self._step_mode = "s"

    # -- memories -----------------------------------------------------------------
    def register_memory(self, name: str, value: Any) -> None:
        """Declare state ``name`` with initial (and reset) value ``value``."""
        if hasattr(self, name):
            raise ValueError(
                f"{type(self).__name__}.{name} is already an attribute; choose another memory name"
            )
        self._memories[name] = value
        self._memories_rv[name] = copy.deepcopy(value)

    def reset(self) -> None:
        """Restore every memory to its registered value (floats stay floats).

        Tensor memories are replaced, never overwritten in place: an autograd graph that
        saved the old state (``reset`` before ``backward``) stays valid.
        """
        for name, initial in self._memories_rv.items():
            if isinstance(initial, torch.Tensor):
                self._memories[name] = initial.detach().clone()
            else:
                self._memories[name] = copy.deepcopy(initial)

    def detach(self) -> None:
        """Cut the autograd graph behind every tensor memory (truncated BPTT)."""
        for name, value in self._memories.items():
            if isinstance(value, torch.Tensor):
                self._memories[name] = value.detach()

    def memories(self) -> Iterator[Any]:
        yield from self._memories.values()

    def named_memories(self) -> Iterator[tuple[str, Any]]:
        yield from self._memories.items()

    def __getattr__(self, name: str) -> Any:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._memories:
            del self._memories[name]
            del self._memories_rv[name]
        else:
            super().__delattr__(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._memories))

    def _apply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> MemoryModule:
        # ``.to()``/``.cuda()``/``.half()`` reach tensor memories and reset values too.
        for store in (self._memories, self._memories_rv):
            for name, value in store.items():
                if isinstance(value, torch.Tensor):
                    store[name] = fn(value)
        return super()._apply(fn, *args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> MemoryModule:
        # Non-leaf tensors (a ``v`` computed with grad) refuse ``deepcopy``; copy their
        # values instead, detached, which is what a copied network should hold anyway.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key in ("_memories", "_memories_rv"):
                value = {k: _detached(v) for k, v in value.items()}
            else:
                value = _detached(value)
            clone.__dict__[key] = copy.deepcopy(value, memo)
        return clone

    # -- forward --------------------------------------------------------------------
    def single_step_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define single_step_forward")

    def multi_step_forward(self, x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """Default: the single step applied at each ``t``, stacked along dim 0."""
        return torch.stack([self.single_step_forward(x, *args, **kwargs) for x in x_seq])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.step_mode == "s":
            return self.single_step_forward(*args, **kwargs)
        if self.step_mode == "m":
            return self.multi_step_forward(*args, **kwargs)
        raise ValueError(self.step_mode)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"


class RecordingModule(MemoryModule):
    """A stateful module that can record one of its states after every step in
    ``self.v_seq`` (``[T, N, *]``), SpikingJelly's ``store_v_seq``; the neurons are."""

    @property
    def store_v_seq(self) -> bool:
        """Record the post-reset ``V`` of every step in ``self.v_seq`` (``[T, N, *]``)."""
        return self._store_v_seq

    @store_v_seq.setter
    def store_v_seq(self, value: bool) -> None:
        self._store_v_seq = bool(value)
        self.v_seq: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.v_seq = None

    def detach(self) -> None:
        super().detach()
        if isinstance(self.v_seq, torch.Tensor):
            self.v_seq = self.v_seq.detach()

    def _append_v_seq(self, v: torch.Tensor) -> None:
        """Add one step's recorded state (a sequence of another shape, dtype or device
        starts again)."""
        step = v.unsqueeze(0)
        seq = self.v_seq
        if seq is None or seq.shape[1:] != step.shape[1:] or seq.dtype != step.dtype or seq.device != step.device:
            self.v_seq = step.clone()
        else:
            self.v_seq = torch.cat((seq, step))
