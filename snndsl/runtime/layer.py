"""Step-mode-aware layers and the containers of SpikingJelly's ``layer`` package.

Stateless layers are the ``torch.nn`` layers with a ``step_mode``: in ``'s'`` they are the
plain layer on ``[N, *]``; in ``'m'`` they run once on the flattened ``[T*N, *]`` batch
(:func:`.functional.seq_to_ann_forward`), after a rank check. They add no nesting to
``state_dict`` keys, so ANN weights load into them directly. ``Linear``, ``LayerNorm`` and
``Identity`` act on trailing dimensions and need no reshape.

``BatchNorm*`` in ``'m'`` therefore normalises over ``T*N`` samples with one set of
statistics. In eval mode that equals stepping one time step at a time; in training it
does not (per-step batch statistics differ from ``T*N`` statistics, and the running
statistics are updated once instead of T times). This is SpikingJelly's semantics too.

``Dropout``/``Dropout2d`` are stateful: the mask is drawn once, from the first step, and
reused at every step and every later call until ``reset()``. ``Delay(delay_steps)`` is
stateful too: ``y[t] = x[t - delay_steps]``, zeros before the sequence starts.

Containers: ``MultiStepContainer`` (step loop), ``SeqToANNContainer`` (``T*N`` batch) and
``StepModeContainer(stateful, *modules, step_mode='s')``; they wrap ``nn.Sequential`` and
so add one index level to ``state_dict`` keys (``0.0.weight``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .base import MemoryModule, MultiStepModule, StepModule
from .functional import multi_step_forward, seq_to_ann_forward

__all__ = [
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "Linear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "Flatten", "Identity",
    "Upsample", "VotingLayer", "Dropout", "Dropout2d", "Delay",
    "MultiStepContainer", "SeqToANNContainer", "StepModeContainer",
]  # fmt: skip


class _StepModeLayer(StepModule, nn.Module):
    """Mixin: a ``torch.nn`` layer plus a keyword-only ``step_mode`` (listed first, before
    the layer's class, which is an ``nn.Module`` too: the MRO is unchanged)."""

    def __init__(self, *args: Any, step_mode: str = "s", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_mode = step_mode

    def extra_repr(self) -> str:
        base = super().extra_repr()
        return f"{base}, step_mode={self.step_mode}" if base else f"step_mode={self.step_mode}"


class _SeqToANNLayer(_StepModeLayer):
    """Mixin: in ``'m'``, check the rank and run the layer on ``[T*N, *]``."""

    _ranks: tuple[int, ...] = ()  # accepted ``x.dim()`` in 'm'; empty: any
    _shape = ""

    def _seq_forward(self, x: Any) -> Any:
        if self.step_mode == "s":
            return super().forward(x)
        if self._ranks and x.dim() not in self._ranks:
            raise ValueError(
                f"expected x with shape {self._shape}, but got x with shape {x.shape}! "
                f"({type(self).__name__} is in step_mode='m'; set step_mode='s' for "
                "single-step input)"
            )
        return seq_to_ann_forward(x, super().forward)

    #: typed as ``nn.Module.forward`` is, so that layers whose own forward takes more
    #: arguments (ConvTranspose's ``output_size``) can mix this in
    forward: Callable[..., Any] = _seq_forward


_L, _HW, _DHW = "[T, N, C, L]", "[T, N, C, H, W]", "[T, N, C, D, H, W]"


class Conv1d(_SeqToANNLayer, nn.Conv1d):
    _ranks, _shape = (4,), _L


class Conv2d(_SeqToANNLayer, nn.Conv2d):
    _ranks, _shape = (5,), _HW


class Conv3d(_SeqToANNLayer, nn.Conv3d):
    _ranks, _shape = (6,), _DHW


class ConvTranspose1d(_SeqToANNLayer, nn.ConvTranspose1d):
    _ranks, _shape = (4,), _L


class ConvTranspose2d(_SeqToANNLayer, nn.ConvTranspose2d):
    _ranks, _shape = (5,), _HW


class ConvTranspose3d(_SeqToANNLayer, nn.ConvTranspose3d):
    _ranks, _shape = (6,), _DHW


class BatchNorm1d(_SeqToANNLayer, nn.BatchNorm1d):
    """In ``'m'``: statistics over ``T*N`` (see the module docstring)."""

    _ranks, _shape = (3, 4), "[T, N, C] or [T, N, C, L]"


class BatchNorm2d(_SeqToANNLayer, nn.BatchNorm2d):
    """In ``'m'``: statistics over ``T*N`` (see the module docstring)."""

    _ranks, _shape = (5,), _HW


class BatchNorm3d(_SeqToANNLayer, nn.BatchNorm3d):
    """In ``'m'``: statistics over ``T*N`` (see the module docstring)."""

    _ranks, _shape = (6,), _DHW


class GroupNorm(_SeqToANNLayer, nn.GroupNorm):
    pass


class MaxPool1d(_SeqToANNLayer, nn.MaxPool1d):
    _ranks, _shape = (4,), _L


class MaxPool2d(_SeqToANNLayer, nn.MaxPool2d):
    _ranks, _shape = (5,), _HW


class MaxPool3d(_SeqToANNLayer, nn.MaxPool3d):
    _ranks, _shape = (6,), _DHW


class AvgPool1d(_SeqToANNLayer, nn.AvgPool1d):
    _ranks, _shape = (4,), _L


class AvgPool2d(_SeqToANNLayer, nn.AvgPool2d):
    _ranks, _shape = (5,), _HW


class AvgPool3d(_SeqToANNLayer, nn.AvgPool3d):
    _ranks, _shape = (6,), _DHW


class AdaptiveAvgPool1d(_SeqToANNLayer, nn.AdaptiveAvgPool1d):
    _ranks, _shape = (4,), _L


class AdaptiveAvgPool2d(_SeqToANNLayer, nn.AdaptiveAvgPool2d):
    _ranks, _shape = (5,), _HW


class AdaptiveAvgPool3d(_SeqToANNLayer, nn.AdaptiveAvgPool3d):
    _ranks, _shape = (6,), _DHW


class Flatten(_SeqToANNLayer, nn.Flatten):
    """In ``'m'``, ``start_dim``/``end_dim`` count per-sample dims: ``[T,N,C,H,W] -> [T,N,CHW]``."""


class Upsample(_SeqToANNLayer, nn.Upsample):
    pass


class Linear(_StepModeLayer, nn.Linear):
    """``nn.Linear`` broadcasts over leading dims: ``[T, N, C]`` needs no reshape."""


class LayerNorm(_StepModeLayer, nn.LayerNorm):
    """Normalises trailing dims, so ``[T, N, *]`` needs no reshape."""


class Identity(_StepModeLayer, nn.Identity):
    pass


class VotingLayer(nn.Module, StepModule):
    """Average over groups of ``voting_size`` along the last dim: ``[..., C*v] -> [..., C]``."""

    def __init__(self, voting_size: int = 10, step_mode: str = "s") -> None:
        super().__init__()
        self.voting_size = voting_size
        self.step_mode = step_mode

    def extra_repr(self) -> str:
        return f"voting_size={self.voting_size}, step_mode={self.step_mode}"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool1d(x.unsqueeze(1), self.voting_size, self.voting_size).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step_forward(x)
        return seq_to_ann_forward(x, self.single_step_forward)


class Dropout(MemoryModule):
    """Dropout whose mask (memory ``mask``) is drawn once and kept until ``reset()``.

    Values are ``0`` or ``1/(1-p)``; in ``'m'`` the mask is drawn from ``x_seq[0]`` and
    broadcast over ``T``. Eval mode is the identity.
    """

    mask: torch.Tensor | None  # a memory (register_memory)

    def __init__(self, p: float = 0.5, step_mode: str = "s") -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1), got {p}")
        self.p = p
        self.register_memory("mask", None)
        self.step_mode = step_mode

    def extra_repr(self) -> str:
        return f"p={self.p}, step_mode={self.step_mode}"

    def create_mask(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(torch.ones_like(x), self.p, training=True)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if self.mask is None:
            self.mask = self.create_mask(x)
        return x * self.mask

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x_seq
        if self.mask is None:
            self.mask = self.create_mask(x_seq[0])
        return x_seq * self.mask


class Dropout2d(Dropout):
    """:class:`Dropout` with a channel mask (``F.dropout2d``)."""

    def __init__(self, p: float = 0.2, step_mode: str = "s") -> None:
        super().__init__(p, step_mode)

    def create_mask(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout2d(torch.ones_like(x), self.p, training=True)


class Delay(MemoryModule):
    """``y[t] = x[t - delay_steps]``, zeros for ``t < delay_steps``; ``delay_steps=0`` is the
    identity. ``steps`` is another name for ``delay_steps`` (the ``.snn`` argument's).

    The memory ``queue`` holds the last inputs not yet delivered, oldest first: at most
    ``delay_steps`` of them, the missing ones zeros. It carries across calls in both modes
    until ``reset()`` (SpikingJelly 2.0.0's ``layer.Delay`` does the same), so stepping
    ``'s'`` T times, or ``'m'`` on pieces of a sequence, equals ``'m'`` on all of it.
    ``single_step_forward`` is one step whatever ``step_mode`` says (a recurrent loop calls
    it in ``'m'``). In ``'m'`` the output is one ``torch.cat`` of the zeros, the queued steps
    and ``x_seq[:T - delay_steps]``, not a loop over ``T``. An input of another shape than
    the queued ones restarts from zeros, as the neurons do.
    """

    queue: tuple[torch.Tensor, ...]  # a memory (register_memory)

    def __init__(
        self, delay_steps: int | None = None, step_mode: str = "s", *, steps: int | None = None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (delay_steps is None) == (steps is None):
            raise TypeError(f"{name} takes one of delay_steps or steps (the same number)")
        n = delay_steps if steps is None else steps
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{name}: delay_steps must be an int, got {n!r}")
        if n < 0:
            raise ValueError(f"{name}: delay_steps must be >= 0, got {n}")
        self._delay_steps = n
        self.register_memory("queue", ())
        self.step_mode = step_mode

    @property
    def delay_steps(self) -> int:
        return self._delay_steps

    @property
    def steps(self) -> int:
        return self._delay_steps

    def extra_repr(self) -> str:
        return f"delay_steps={self.delay_steps}, step_mode={self.step_mode}"

    def _queue_for(self, step_shape: torch.Size, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        queue = self.queue
        if not queue:
            return queue
        if queue[0].shape != step_shape:
            return ()
        if queue[0].dtype != like.dtype or queue[0].device != like.device:
            return tuple(q.to(dtype=like.dtype, device=like.device) for q in queue)
        return queue

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        queue = (*self._queue_for(x.shape, x), x)
        if len(queue) > self.delay_steps:
            self.queue = queue[1:]
            return queue[0]
        self.queue = queue
        return torch.zeros_like(x)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        d = self.delay_steps
        if d == 0:
            return x_seq
        queue = self._queue_for(x_seq.shape[1:], x_seq)
        T = x_seq.shape[0]
        # y = [zeros still owed, queued steps, x_seq[:n_new]]; the rest is the new queue
        n_zero = min(d - len(queue), T)
        n_old = min(len(queue), T - n_zero)
        n_new = T - n_zero - n_old
        parts = [q.unsqueeze(0) for q in queue[:n_old]]
        if n_zero:
            parts.insert(0, x_seq.new_zeros((n_zero, *x_seq.shape[1:])))
        parts.append(x_seq[:n_new])
        self.queue = queue[n_old:] + tuple(x_seq[n_new:].unbind(0))
        return torch.cat(parts)

    # ``queue`` is a tuple of tensors, which the base class's tensor-memory handling
    # (detach, .to(), deepcopy of tensors that carry a graph) does not reach
    def detach(self) -> None:
        super().detach()
        self.queue = tuple(q.detach() for q in self.queue)

    def _apply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Delay:
        self.queue = tuple(fn(q) for q in self.queue)
        super()._apply(fn, *args, **kwargs)
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Delay:
        queue = self.queue
        self.queue = tuple(q.detach() for q in queue)
        try:
            clone = super().__deepcopy__(memo)
        finally:
            self.queue = queue
        assert isinstance(clone, Delay)
        return clone


def _check_children(container: nn.Sequential) -> None:
    for m in container:
        if getattr(m, "step_mode", "s") != "s":
            raise ValueError(f"{type(m).__name__}.step_mode must be 's' inside this container.")


class MultiStepContainer(nn.Sequential, MultiStepModule):
    """Module form of :func:`.functional.multi_step_forward`: a loop over ``T`` of
    single-step children. Use it for stateful children; multi-step only."""

    #: set_step_mode switches the container, not its children
    step_mode_container = True

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        _check_children(self)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return multi_step_forward(x_seq, super().forward)


class SeqToANNContainer(nn.Sequential, MultiStepModule):
    """Module form of :func:`.functional.seq_to_ann_forward`: children run once on
    ``[T*N, *]``. Use it for stateless children only; multi-step only."""

    #: set_step_mode switches the container, not its children
    step_mode_container = True

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        _check_children(self)

    def forward(self, x_seq: Any) -> Any:
        return seq_to_ann_forward(x_seq, super().forward)


class StepModeContainer(nn.Sequential, StepModule):
    """Single-step children run as a plain ``Sequential`` in ``'s'``; in ``'m'``, as
    :func:`.functional.multi_step_forward` if ``stateful`` else as
    :func:`.functional.seq_to_ann_forward`.

    The modules come positionally after ``stateful`` and ``step_mode`` is keyword-only,
    as SpikingJelly's tutorial documents (SpikingJelly 2.0.0's own signature is
    ``(stateful, step_mode='s', *args)``, which silently binds the first module to
    ``step_mode``).
    """

    #: set_step_mode switches the container, not its children
    step_mode_container = True

    def __init__(self, stateful: bool, *modules: nn.Module, step_mode: str = "s") -> None:
        super().__init__(*modules)
        self.stateful = stateful
        _check_children(self)
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return super().forward(x)
        if self.stateful:
            return multi_step_forward(x, super().forward)
        return seq_to_ann_forward(x, super().forward)
