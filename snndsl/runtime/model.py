"""Base classes of compiled models.

A compiled model is a :class:`CompiledModule`: ``forward`` dispatches on
``step_mode`` to the generated ``multi_step_forward`` or ``single_step_forward``.

* ``'m'`` (default): each call is one whole sequence, and neuron state starts fresh at
  every call, so forgetting ``reset_net`` cannot leak state between batches. Set
  ``carry_state = True`` to keep state across calls (streaming in chunks).
* ``'s'``: one step per call; state persists until :meth:`reset`.

Setting ``step_mode`` on the model sets it on every step module inside, so the model
and its neurons never disagree (``functional.set_step_mode`` does the same).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
import torch.nn as nn

from .base import MemoryModule, StepModule

if TYPE_CHECKING:
    from ..ir.graph import IR

__all__ = ["CompiledModule", "Block"]


#: plain attributes that nn.Module, the step-mode machinery and the compiler assign
#: on a model or block (``training``, ``step_mode``, ``snn_ir``, ...)
OWN_ATTRIBUTES = frozenset(vars(nn.Module())) | {
    "step_mode", "_step_mode", "_initial_step_mode", "carry_state", "default_T", "snn_ir", "snn_source",
    "block_name", "_memories", "_memories_rv", "_feedback",
}


@runtime_checkable
class _Resettable(Protocol):
    def reset(self) -> None: ...


class _LabelledChildren:
    """A label may be any name (``training``, ``step_mode``, ``snn_ir``): the generated
    code registers such children through ``_modules[...]``. ``nn.Module.__setattr__``
    would then refuse to assign the module's own attribute of that name ("cannot assign
    'bool' as child module"), so these few names are stored as plain attributes; the
    child stays reachable as ``_modules[name]`` and its ``state_dict`` keys are unchanged."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (name in OWN_ATTRIBUTES and not isinstance(value, nn.Module)
                and name in self.__dict__.get("_modules", ())):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class Block(_LabelledChildren, nn.Module):
    """A namespace for the layers of one block instance (``layer1.0``); it has no forward:
    the model's straight-line forward calls the layers inside it directly."""

    def __init__(self, name: str):
        super().__init__()
        self.block_name = name

    def extra_repr(self) -> str:
        return f"block {self.block_name}"

    def forward(self, *args: Any) -> Any:
        raise TypeError(f"block {self.block_name} is a namespace of layers; call the compiled model instead")


class CompiledModule(_LabelledChildren, MemoryModule):
    """Base of every generated model class."""

    #: keep neuron state across multi-step calls (streaming); off: fresh state per call
    carry_state: bool = False
    #: functional.set_step_mode sets the model's own mode and does not descend into it:
    #: the model's setter keeps its stateful modules in step
    step_mode_container = True
    #: set by ``snndsl.compile_*`` on the instance: the IR after the last pass, and the
    #: generated source of this class
    snn_ir: IR
    snn_source: str

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__()
        self.carry_state = carry_state
        self._initial_step_mode = step_mode
        #: the memories of the ``prev`` nodes: the fed-back values of the last step, by
        #: the node's path (reset with the neurons; never parameters or buffers)
        self._feedback: dict[str, torch.Tensor] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A generated subclass's ``__init__`` ends by putting every submodule it made in
        the model's step mode, so the generated code need not say so."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def __init__(self: CompiledModule, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls:
                self._finish_init()

        cls.__init__ = __init__  # type: ignore[method-assign]

    def _finish_init(self) -> None:
        """Put every submodule in the model's step mode (called at the end of __init__)."""
        self.step_mode = self._initial_step_mode

    @property
    def step_mode(self) -> str:
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        switched = value != getattr(self, "_step_mode", value)
        StepModule._set_step_mode(self, value)
        if switched:  # a mode switch starts a new sequence (runtime spec, v1)
            self.reset()
        # Only stateful modules switch: stateless layers always run on a flat batch
        # ([T*N, ...] inside a region, or [N, ...]), whatever the model's mode.
        for module in self.modules():
            if module is not self and isinstance(module, MemoryModule) and value in module.supported_step_mode():
                StepModule._set_step_mode(module, value)

    #: module paths of the ``use ... stateful`` modules (printed by codegen when there are any)
    user_state: tuple[str, ...] = ()

    def module_at(self, path: str) -> nn.Module:
        """The submodule at a module path (``layer1.0.conv1``). Unlike ``get_submodule``,
        it reads the registered children only, so a label such as ``training`` or
        ``forward`` (a name ``nn.Module`` already has) finds the layer."""
        module: nn.Module = self
        for part in path.split("."):
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(self).__name__} has no submodule {path!r}")
            module = child
        return module

    def _user_stateful(self) -> list[nn.Module]:
        return [self.module_at(path) for path in self.user_state]

    def reset(self) -> None:
        """Reset every stateful module inside the model: neurons, Dropout masks and the
        modules declared ``use ... stateful``."""
        self._feedback = {}
        for module in self.modules():
            if module is not self and isinstance(module, MemoryModule):
                module.reset()
        for module in self._user_stateful():
            if not isinstance(module, MemoryModule):
                assert isinstance(module, _Resettable)  # `use ... stateful` classes are checked to have one
                module.reset()

    def detach(self) -> None:
        self._feedback = {k: v.detach() for k, v in self._feedback.items()}
        for module in self.modules():
            if module is not self and isinstance(module, MemoryModule):
                module.detach()
        for module in self._user_stateful():
            detach = getattr(module, "detach", None)
            if not isinstance(module, MemoryModule) and callable(detach):
                detach()

    def feedback(self, path: str, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """The value ``prev`` node ``path`` reads: the fed-back value of the last step, or
        zeros of ``shape`` (dtype and device of ``like``) at the first step after a reset
        or when the batch size changed."""
        v = self._feedback.get(path)
        if v is None or tuple(v.shape) != shape:
            return like.new_zeros(shape)
        return v

    def last_feedback(self, path: str, shape: tuple[int, ...]) -> torch.Tensor | None:
        """The fed-back value of the last step, or ``None`` where :meth:`feedback` gives zeros."""
        v = self._feedback.get(path)
        return v if v is not None and tuple(v.shape) == shape else None

    def store_feedback(self, path: str, value: torch.Tensor) -> None:
        """Keep this step's fed-back value for the next step."""
        self._feedback[path] = value

    def forward(self, *inputs: Any, T: int | None = None) -> Any:
        if self.step_mode == "m":
            if not self.carry_state:
                self.reset()
            return self.multi_step_forward(*inputs, T=T)
        return self.single_step_forward(*inputs)

    def multi_step_forward(self, *inputs: Any, T: int | None = None) -> Any:  # generated
        raise NotImplementedError

    def single_step_forward(self, *inputs: Any) -> Any:  # generated
        raise NotImplementedError

    def check_input(self, name: str, x: Any, shape: tuple[int, ...], static: bool) -> None:
        """Raise a ValueError that names the input, the expected and the actual shape."""
        _check_input(self, name, x, shape, static, self.step_mode == "m")

    def time_steps(self, T: int | None) -> int:
        """The number of time steps for a model whose inputs are all static."""
        if T is None:
            T = self.default_T
        if T is None:
            raise ValueError(f"{type(self).__name__} has only static inputs: pass the number of time "
                             "steps, e.g. net(img, T=4), or set net.default_T")
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"T must be a positive integer (the number of time steps), got {T!r}")
        return int(T)

    #: T used when a model with only static inputs is called without T=
    default_T: int | None = None

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode}, carry_state={self.carry_state}"


def _check_input(model: nn.Module, name: str, x: Any, shape: tuple[int, ...], static: bool,
                 multi: bool) -> None:
    lead = ("N",) if static or not multi else ("T", "N")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{type(model).__name__} expects {name} as a torch.Tensor, got {type(x).__name__}"
                        + ("; convert it with torch.from_numpy(...)" if type(x).__module__ == "numpy" else ""))
    if not hasattr(x, "shape") or tuple(x.shape[len(lead):]) != shape or x.dim() != len(lead) + len(shape):
        want = "[" + ", ".join((*lead, *map(str, shape))) + "]"
        got = list(x.shape) if hasattr(x, "shape") else type(x).__name__
        mode = "multi-step ('m')" if multi else "single-step ('s')"
        fix = ("pass the image once as [N, ...] with T=..." if static and multi else
               "switch modes with functional.set_step_mode(net, 's' or 'm')")
        raise ValueError(f"{type(model).__name__} expects {name} as {want} in {mode} mode, got {got}; {fix}")
