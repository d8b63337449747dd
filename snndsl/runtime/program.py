r"""The base class of the neurons generated from neuron programs (``neuron`` definitions).

:func:`snndsl.codegen.neuron_code.neuron_class_source` prints one subclass per program;
the subclass supplies the equations, this base the conventions every neuron here keeps:

* each state variable is a memory (:meth:`.MemoryModule.register_memory`) whose value
  after ``reset()`` is a float; at the first step it becomes a tensor shaped like the
  input (a later input of another shape restarts it from that float, as SpikingJelly
  2.0.0 does);
* each learnable scalar is an ``nn.Parameter`` of the same name (``state_dict`` key
  ``<label>.NAME``), 0-dimensional, in the default dtype;
* ``'s'`` mode is one step of the subclass's :meth:`step` (plain torch ops, autograd for
  the gradients; ``spike`` is ``self.surrogate_function``, as SpikingJelly's neurons call
  it); ``'m'`` mode is one ``torch.autograd.Function`` over all ``T`` steps (the
  subclass's ``Fused``), whose backward is the derivative the compiler derived
  (:mod:`snndsl.ir.neuron_grad`): the same spikes and states bit for bit, gradients
  within rounding. On the CPU that Function is the program's generated C kernel
  (:mod:`.kernels.program_native`, from the class's ``PROGRAM``) where it builds and
  supports the call, on CUDA its Triton kernels where they do. With a non-spiking surrogate (``spiking=False``) or while
  ``torch.compile`` traces, ``'m'`` runs the step loop instead.
* ``store_v_seq`` records the state named ``v`` (else the first state) after every
  step in ``self.v_seq`` (``[T, N, *]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn as nn

from ..ir.neuron_program import NeuronProgram
from . import surrogate as sg_mod
from .base import RecordingModule

__all__ = [
    "NeuronProgram", "ProgramNode", "RESERVED_NAMES", "core_class", "fused_call", "register_core_classes", "state_tensor",
    "step_loop",
]

#: attribute names a state or a param of a generated neuron may not take
RESERVED_NAMES = frozenset(
    {"surrogate_function", "v_seq", "store_v_seq", "step_mode", "training", "step", "Fused", "PROGRAM"}
)


def state_tensor(state: torch.Tensor | float, x: torch.Tensor, fill: float) -> torch.Tensor:
    """A memory as a tensor shaped like one step ``x``: the stored tensor (moved to
    ``x``'s dtype and device), else ``fill`` everywhere (a fresh state, or a restart
    because the stored one has another shape)."""
    if isinstance(state, torch.Tensor) and state.shape == x.shape:
        if state.dtype != x.dtype or state.device != x.device:
            return state.to(dtype=x.dtype, device=x.device)
        return state
    value = float(state) if not isinstance(state, torch.Tensor) else fill
    return torch.full_like(x, value)


def fused_call(program: NeuronProgram | None, fused: type[torch.autograd.Function],
               sg: sg_mod.SurrogateFunctionBase, store: bool, x_seq: torch.Tensor,
               states: list[torch.Tensor | float], params: list[torch.Tensor]) -> Any:
    """All steps of ``x_seq`` as one fused call: ``program``'s generated C kernel on the
    CPU, or its Triton kernels on CUDA, where they run this call; else the generated
    torch ``fused`` Function. ``states``: each a tensor shaped like one step (in
    ``x_seq``'s dtype and device) or a float every neuron starts at. All three take and
    return the same (see ``kernels.program_native``)."""
    if program is not None and x_seq.device.type == "cpu":
        from .kernels import program_native

        if program_native.supports(program, sg, x_seq):
            return program_native.run_in_memory_order(program, sg, store, x_seq, states, params)
    tensors = [s if isinstance(s, torch.Tensor) else torch.full_like(x_seq[0], s) for s in states]
    if program is not None and x_seq.device.type != "cpu":
        try:
            from .kernels import program_triton
        except ImportError:  # pragma: no cover - the Triton path is optional
            program_triton = None  # type: ignore[assignment]
        if program_triton is not None and program_triton.supports(program, sg, x_seq):
            from .kernels import parallel

            return parallel.in_memory_order(
                lambda x, st: program_triton.TritonProgram.apply(program, sg, store, x, *st, *params),
                x_seq, tensors,
            )  # fmt: skip
    return fused.apply(sg, store, x_seq, *tensors, *params)


def step_loop(node: RecordingModule, x_seq: torch.Tensor, recorded: str | None) -> torch.Tensor:
    """``'m'`` mode as the step loop: ``node.single_step_forward`` per step (autograd
    through each), with ``store_v_seq`` the state ``recorded`` stacked into ``v_seq``."""
    store = node.store_v_seq
    node.store_v_seq = False
    outs: list[torch.Tensor] = []
    kept: list[Any] = []
    try:
        for x in x_seq.unbind(0):
            outs.append(node.single_step_forward(x))
            if store and recorded is not None:
                kept.append(getattr(node, recorded))
    finally:
        node.store_v_seq = store
    if kept:
        node.v_seq = torch.stack(kept)
    return torch.stack(outs)


#: gives the class generated from a core neuron of ``grammars/core_neurons.snn``
#: (:mod:`snndsl.core_neurons` registers it at import: the runtime imports neither the
#: front end nor the code generator)
_core_classes: list[Callable[..., type[ProgramNode]]] = []


def register_core_classes(fn: Callable[..., type[ProgramNode]]) -> None:
    """Set ``fn(name, **header_arguments) -> class``, the source of :func:`core_class`."""
    _core_classes[:] = [fn]


@torch.compiler.disable  # generating a class is not traced (a graph break, if ever reached)
def core_class(name: str, **kwargs: Any) -> type[ProgramNode]:
    """The class generated from the core neuron ``name`` (``"IF"``, ``"LIF"``,
    ``"PLIF"``) with the header arguments ``kwargs``; the runtime's ``IFNode``,
    ``LIFNode`` and ``ParametricLIFNode`` run their steps with it."""
    if not _core_classes:
        raise RuntimeError("no generator of the core neurons is registered (import snndsl)")
    return _core_classes[0](name, **kwargs)


class ProgramNode(RecordingModule):
    """A neuron generated from a neuron program (see the module docstring).

    Subclasses define ``STATES`` (name, reset value), ``PARAMS`` (name, initial value),
    ``HAS_SPIKE``, ``PROGRAM``, :meth:`default_surrogate`, :meth:`step` and ``Fused``.
    """

    STATES: ClassVar[tuple[tuple[str, float], ...]] = ()
    PARAMS: ClassVar[tuple[tuple[str, float], ...]] = ()
    HAS_SPIKE: ClassVar[bool] = True
    #: the neuron program itself (the input of the generated kernels); None: ``Fused`` only
    PROGRAM: ClassVar[NeuronProgram | None] = None
    Fused: ClassVar[type[torch.autograd.Function]]

    def __init__(
        self,
        surrogate_function: sg_mod.SurrogateFunctionBase | None = None,
        step_mode: str = "s",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__()
        self.surrogate_function = surrogate_function if surrogate_function is not None else self.default_surrogate()
        for name, value in self.STATES:
            self.register_memory(name, float(value))
        for name, value in self.PARAMS:
            setattr(self, name, nn.Parameter(torch.tensor(float(value))))
        self.step_mode = step_mode
        self.store_v_seq = store_v_seq

    def default_surrogate(self) -> sg_mod.SurrogateFunctionBase:
        return sg_mod.Sigmoid()

    def step(self, x: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step with torch ops (autograd gives the gradient): ``(output, next states)``."""
        raise NotImplementedError

    # -- v_seq ----------------------------------------------------------------------
    @classmethod
    def recorded_state(cls) -> int | None:
        """The index of the state ``store_v_seq`` records: ``v``, else the first; None
        when the neuron has no state."""
        names = [n for n, _ in cls.STATES]
        if "v" in names:
            return names.index("v")
        return 0 if names else None

    # -- forward ----------------------------------------------------------------------
    def _states_for(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [state_tensor(getattr(self, n), x, float(self._memories_rv[n])) for n, _ in self.STATES]

    def _initial_states(self, x: torch.Tensor) -> list[torch.Tensor | float]:
        """As :meth:`_states_for`, but a fresh (or restarted) state as its float: the C
        kernel fills it without a tensor."""
        out: list[torch.Tensor | float] = []
        for n, _ in self.STATES:
            state = getattr(self, n)
            if isinstance(state, torch.Tensor) and state.shape == x.shape:
                out.append(state_tensor(state, x, 0.0))
            else:
                out.append(float(self._memories_rv[n]) if isinstance(state, torch.Tensor) else float(state))
        return out

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        """One step on ``x`` (``[N, *]``); returns the step's output."""
        out, states = self.step(x, *self._states_for(x))
        for (name, _), value in zip(self.STATES, states):
            setattr(self, name, value)
        k = self.recorded_state()
        if self.store_v_seq and k is not None:
            self._append_v_seq(states[k])
        return out

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """All ``T`` steps of ``x_seq`` (``[T, N, *]``) as one fused operation."""
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1 or x_seq.shape[0] < 1:
            shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq)
            raise ValueError(
                f"{type(self).__name__}(step_mode='m') expects a sequence x_seq of shape [T, N, *] "
                f"with T >= 1, got {shape}; pass the whole sequence, or set step_mode='s'"
            )
        if (self.HAS_SPIKE and not self.surrogate_function.spiking) or torch.compiler.is_compiling():
            return self._step_loop(x_seq)
        k = self.recorded_state()
        store = self.store_v_seq and k is not None
        params = [getattr(self, n) for n, _ in self.PARAMS]
        res = self._fused(store, x_seq, params)
        if isinstance(res, torch.Tensor):  # a program without states returns its output only
            res = (res,)
        n = len(self.STATES)
        for (name, _), value in zip(self.STATES, res[1 : 1 + n]):
            setattr(self, name, value)
        if store:
            self.v_seq = res[1 + n]
        return res[0]

    def _fused(self, store: bool, x_seq: torch.Tensor, params: list[torch.Tensor]) -> Any:
        """One fused call over all steps (:func:`fused_call`)."""
        states = self._initial_states(x_seq[0])
        return fused_call(self.PROGRAM, self.Fused, self.surrogate_function, store, x_seq, states, params)

    def _step_loop(self, x_seq: torch.Tensor) -> torch.Tensor:
        k = self.recorded_state()
        return step_loop(self, x_seq, None if k is None else self.STATES[k][0])

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}"
