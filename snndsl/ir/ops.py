"""The closed vocabulary of IR operations.

Every IR node holds one frozen op record, and the class says what the node is: passes,
codegen and viz branch on classes (``isinstance(op, ops.Conv) and op.dims == 2``),
never on names. Built-in layers have one class per primitive (``Conv2d``), grouped in
families (``Conv``, ``BatchNorm``, ``Pool``, ...); the primitive's name is also its
``kind``, which indexes :data:`snndsl.ir.registry.LAYERS` (signature, argument types,
shape rule). ``nn.*`` and ``use`` layers are the generic :class:`TorchModule` and
:class:`UserModule`. Small closed sets are enums (:class:`MergeKind`, :class:`Layout`,
:class:`Container`, :class:`ScopeKind`).

=========================  ===============================================  ========
class (family)             what                                             stateful
=========================  ===============================================  ========
:class:`Input`             a model input, per-sample shape                  no
:class:`Output`            one returned value                               no
:class:`Prev`              ``prev(h)``: ``h`` one time step earlier         yes
:class:`StatelessLayer`    built-in ``torch.nn`` layers, batched over time   no
:class:`TorchModule`       any other ``torch.nn`` layer (``nn.X``)          no
:class:`Neuron`            IF, LIF, PLIF; :class:`ProgramNeuron`, one       yes
                           defined in the language (the prelude's LI,
                           CubaLIF, KLIF, ...; a file's own)
:class:`StatefulLayer`     Dropout, Dropout2d (one mask per sequence),      yes
                           Delay (a shift along time)
:class:`UserModule`        a ``use``-declared module                        declared
:class:`TensorOp`          Reshape, Permute, Transpose, Sum, Mean, Scale,   no
                           Select, Chunk, Poisson: computed inline
:class:`Merge`             add, sub, mul, iand, cat, matmul                 no
:class:`Plumbing`          inserted by passes: time flatten/unflatten,      no
                           broadcast over T, layout conversion
:class:`FoldedNorm`        a Conv/Linear with its BatchNorm folded in       no
=========================  ===============================================  ========
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, TypeVar, Union


class InferMarker:
    """The value of ``_`` (infer from the input) before infer-shapes replaces it."""

    _instance: InferMarker | None = None

    def __new__(cls) -> InferMarker:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "_"

    def __reduce__(self):  # keep the singleton through copies
        return (InferMarker, ())


INFER = InferMarker()


# A compile-time value: what a `.snn` expression evaluates to.
Value = Union[int, float, bool, str, None, tuple["Value", ...], "SurrogateValue"]

#: a layer argument as elaborated: a value, or ``_`` (only a whole argument) until
#: infer-shapes replaces it with a size; after infer-shapes every argument is a :data:`Value`
ArgValue = Union[Value, InferMarker]


@dataclass(frozen=True, slots=True)
class SurrogateValue:
    """A surrogate function written as a call, e.g. ``ATan(alpha=2.0)``."""

    name: str
    kwargs: tuple[tuple[str, Value], ...] = ()

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={format_value(v)}" for k, v in self.kwargs)
        return f"{self.name}({inner})"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def format_value(v: ArgValue) -> str:
    """A value as it would be written in a `.snn` file."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, str):
        return '"' + "".join(_ESCAPES.get(c, c) if c.isprintable() or c in _ESCAPES else f"\\x{ord(c):02x}"
                             if ord(c) < 256 else f"\\u{ord(c):04x}" for c in v) + '"'
    if isinstance(v, tuple):
        if len(v) == 1:
            return f"({format_value(v[0])},)"
        return "(" + ", ".join(format_value(x) for x in v) + ")"
    return str(v)


class StrEnum(str, Enum):
    """An enum whose members are strings and print as their value (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class MergeKind(StrEnum):
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    IAND = "iand"
    CAT = "cat"
    MATMUL = "matmul"


class Layout(StrEnum):
    """The memory format of ``[*, C, H, W]`` values (channels-last: ``[*, H, W, C]`` in
    memory), of ``[*, C, L]`` values (``[*, L, C]``: tokens) and of convolution weights."""

    CONTIGUOUS = "contiguous"
    CHANNELS_LAST = "channels_last"


class Container(StrEnum):
    """How a node runs in multi-step mode (insert-containers)."""

    #: inside a time-batched region, on ``[T*N, ...]`` (static regions: ``[N, ...]``)
    REGION = "region"
    #: a runtime module with a fused multi-step form (neurons, Dropout)
    NATIVE = "native"
    #: a single-step module looped over T (``functional.multi_step_forward``)
    STEP_LOOP = "step-loop"
    #: inside a recurrent region: one step at a time, in the region's loop over T
    RECURRENT = "recurrent"
    #: model inputs and outputs
    IO = "io"
    #: plumbing outside any region (a static input broadcast over T)
    BORDER = "border"


class ScopeKind(StrEnum):
    BLOCK = "block"
    #: a group or a repeat: numbered children
    SEQUENCE = "sequence"


_T = TypeVar("_T")


def _omit_default(default: _T) -> _T:
    """A field that the YAML form leaves out while it has its default."""
    return field(default=default, metadata={"omit_default": True})


@dataclass(frozen=True, slots=True)
class Op:
    """Base of all IR operations."""

    stateful: ClassVar[bool] = False
    #: how many incoming values the op takes (None: two or more)
    arity: ClassVar[int | None] = 1

    def is_stateful(self) -> bool:
        return self.stateful

    def describe(self) -> str:
        return type(self).__name__

    def modules(self, path: str) -> tuple[tuple[str, Layer], ...]:
        """The submodules a node with this op owns, by module path (none for most ops)."""
        return ()


@dataclass(frozen=True, slots=True)
class Input(Op):
    """A model input ``input name: [dims] static``; ``shape`` is per-sample."""

    arity: ClassVar[int | None] = 0
    name: str
    shape: tuple[int, ...]
    static: bool = False

    def describe(self) -> str:
        return f"input {self.name}" + (" static" if self.static else "")


@dataclass(frozen=True, slots=True)
class Prev(Op):
    """``prev(h)``: the value of node ``source`` at the previous time step (zeros at the
    first step after a reset). The node has no incoming edge: the feedback edge
    ``source -> prev`` is this field, so the IR graph stays acyclic and every pass may
    walk it in topological order; ``IR.feedback()`` lists the pairs. ``declared`` is the
    per-sample shape given by ``prev(h, shape=[...])``, if any; ``name`` is ``h`` as written
    (for messages). Stateful: in ``'s'`` mode
    it keeps the last value; in ``'m'`` mode it lives in a recurrent region."""

    arity: ClassVar[int | None] = 0
    stateful: ClassVar[bool] = True
    source: str = ""
    declared: tuple[int, ...] | None = None
    name: str = ""

    def describe(self) -> str:
        return f"prev({self.name or self.source})"


@dataclass(frozen=True, slots=True)
class Output(Op):
    """The ``index``-th returned value of the model."""

    index: int = 0

    def describe(self) -> str:
        return f"return[{self.index}]"


@dataclass(frozen=True, slots=True)
class Layer(Op):
    """A layer call: ``kind`` as written, positional ``args`` and keyword ``kwargs``
    (explicit ones in source order, then those filled in from ``defaults`` lines)."""

    kind: str
    args: tuple[ArgValue, ...] = ()
    kwargs: tuple[tuple[str, ArgValue], ...] = ()

    def kwarg(self, name: str, default: ArgValue = None) -> ArgValue:
        for k, v in self.kwargs:
            if k == name:
                return v
        return default

    def call_text(self) -> str:
        parts = [format_value(a) for a in self.args]
        parts += [f"{k}={format_value(v)}" for k, v in self.kwargs]
        return f"{self.kind}({', '.join(parts)})"

    def describe(self) -> str:
        return self.call_text()

    def modules(self, path: str) -> tuple[tuple[str, Layer], ...]:
        return ((path, self),)


# -- built-in stateless layers: families, then one class per primitive -------------------


@dataclass(frozen=True, slots=True)
class StatelessLayer(Layer):
    """A built-in stateless layer, batched over time; the class name is its ``kind``."""


@dataclass(frozen=True, slots=True)
class Spatial(StatelessLayer):
    """A layer over ``dims`` spatial dimensions (``[C, L]``, ``[C, H, W]``, ``[C, D, H, W]``)."""

    dims: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class Conv(Spatial):
    #: the memory format of the weights (the channels-last pass sets it); a pointwise
    #: ``Conv1d`` with ``channels_last`` computes on channels-last tokens ``[N, L, C]``
    weight_layout: Layout = _omit_default(Layout.CONTIGUOUS)


@dataclass(frozen=True, slots=True)
class ConvTranspose(Spatial):
    weight_layout: Layout = _omit_default(Layout.CONTIGUOUS)


@dataclass(frozen=True, slots=True)
class BatchNorm(Spatial):
    #: the norm sees one time step's value that stands for T equal steps (a static region,
    #: hoist-static): in training its running variance counts T times the samples, as
    #: if the value were repeated over T
    time_repeated: bool = _omit_default(False)
    #: ``channels_last`` (a ``BatchNorm1d`` on ``[C, L]``, the channels-last pass): it
    #: normalises the ``[N*L, C]`` matrix of tokens, the layout a pointwise Conv1d leaves
    layout: Layout = _omit_default(Layout.CONTIGUOUS)


@dataclass(frozen=True, slots=True)
class Pool(Spatial):
    pass


@dataclass(frozen=True, slots=True)
class MaxPool(Pool):
    pass


@dataclass(frozen=True, slots=True)
class AvgPool(Pool):
    pass


@dataclass(frozen=True, slots=True)
class AdaptiveAvgPool(Pool):
    pass


@dataclass(frozen=True, slots=True)
class Activation(StatelessLayer):
    """An element-wise function (ReLU, Sigmoid, Tanh, GELU)."""


@dataclass(frozen=True, slots=True)
class TensorOp(StatelessLayer):
    """A per-sample tensor operation (``Reshape``, ``Permute``, ``Sum``, ...): no module and
    no parameters; the generated code computes it inline. A label names its value only."""

    #: the op draws random numbers: its value differs at every time step and call, so it
    #: is never hoisted out of the time loop, folded or cached (``Poisson``)
    random: ClassVar[bool] = False

    def modules(self, path: str) -> tuple[tuple[str, Layer], ...]:
        return ()


@dataclass(frozen=True, slots=True)
class Chunk(TensorOp):
    """Part ``index`` of ``Chunk(chunks, dim)``: a chain that ends in a ``Chunk`` gives
    ``chunks`` values, one node each (``q, k, v = x -> Chunk(3)``)."""

    index: int = 0

    def describe(self) -> str:
        return f"{self.call_text()}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Poisson(TensorOp):
    """Spikes ``rand < x``, a fresh draw at every time step and call."""

    random: ClassVar[bool] = True


_L = TypeVar("_L", bound="Layer")


def _primitive(family: type[_L], name: str, **classvars: int) -> type[_L]:
    cls = type(name, (family,), {"__module__": __name__, "__qualname__": name, "__doc__": f"``{name}``", **classvars})
    return dataclass(frozen=True, slots=True)(cls)


def as_int(v: ArgValue) -> int:
    """An argument that its signature types ``int`` (checked where it is written), as an int."""
    if isinstance(v, int):
        return int(v)
    raise TypeError(f"expected an integer argument, got {format_value(v)}")


def as_float(v: ArgValue) -> float:
    """An argument that its signature types ``float`` (checked where it is written), as a float."""
    if isinstance(v, (int, float)):
        return float(v)
    raise TypeError(f"expected a number argument, got {format_value(v)}")


Conv1d = _primitive(Conv, "Conv1d", dims=1)
Conv2d = _primitive(Conv, "Conv2d", dims=2)
Conv3d = _primitive(Conv, "Conv3d", dims=3)
ConvTranspose1d = _primitive(ConvTranspose, "ConvTranspose1d", dims=1)
ConvTranspose2d = _primitive(ConvTranspose, "ConvTranspose2d", dims=2)
BatchNorm1d = _primitive(BatchNorm, "BatchNorm1d", dims=1)
BatchNorm2d = _primitive(BatchNorm, "BatchNorm2d", dims=2)
BatchNorm3d = _primitive(BatchNorm, "BatchNorm3d", dims=3)
MaxPool1d = _primitive(MaxPool, "MaxPool1d", dims=1)
MaxPool2d = _primitive(MaxPool, "MaxPool2d", dims=2)
MaxPool3d = _primitive(MaxPool, "MaxPool3d", dims=3)
AvgPool1d = _primitive(AvgPool, "AvgPool1d", dims=1)
AvgPool2d = _primitive(AvgPool, "AvgPool2d", dims=2)
AvgPool3d = _primitive(AvgPool, "AvgPool3d", dims=3)
AdaptiveAvgPool1d = _primitive(AdaptiveAvgPool, "AdaptiveAvgPool1d", dims=1)
AdaptiveAvgPool2d = _primitive(AdaptiveAvgPool, "AdaptiveAvgPool2d", dims=2)
AdaptiveAvgPool3d = _primitive(AdaptiveAvgPool, "AdaptiveAvgPool3d", dims=3)
Linear = _primitive(StatelessLayer, "Linear")
LayerNorm = _primitive(StatelessLayer, "LayerNorm")
GroupNorm = _primitive(StatelessLayer, "GroupNorm")
Flatten = _primitive(StatelessLayer, "Flatten")
Identity = _primitive(StatelessLayer, "Identity")
Upsample = _primitive(StatelessLayer, "Upsample")
VotingLayer = _primitive(StatelessLayer, "VotingLayer")
ReLU = _primitive(Activation, "ReLU")
Sigmoid = _primitive(Activation, "Sigmoid")
Tanh = _primitive(Activation, "Tanh")
GELU = _primitive(Activation, "GELU")
Reshape = _primitive(TensorOp, "Reshape")
Permute = _primitive(TensorOp, "Permute")
Transpose = _primitive(TensorOp, "Transpose")
Sum = _primitive(TensorOp, "Sum")
Mean = _primitive(TensorOp, "Mean")
Scale = _primitive(TensorOp, "Scale")
Select = _primitive(TensorOp, "Select")


# -- stateful layers -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Neuron(Layer):
    """A neuron: IF, LIF, PLIF, or one defined in the language (:class:`ProgramNeuron`)."""

    stateful: ClassVar[bool] = True
    #: its output is a spike train (a program may return a potential: the prelude's ``LI``)
    spiking: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class StatefulLayer(Layer):
    """A stateless-looking layer that keeps per-sequence state (Dropout's mask)."""

    stateful: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ProgramNeuron(Neuron):
    """A neuron defined in the language (``neuron Name(...) { ... }``: a file's own or the
    prelude's). ``kind`` is its name and ``args``/``kwargs`` the call as written (with
    ``defaults`` applied); ``program`` is its step with those arguments bound
    (:class:`~snndsl.ir.neuron_program.NeuronProgram`), from which codegen prints the
    neuron's module."""

    #: a ``neuron_program.NeuronProgram`` (typed loosely: that module builds on this one)
    program: Any = None

    @property
    def spiking(self) -> bool:  # type: ignore[override]
        return bool(self.program is None or self.program.spiking)


IF = _primitive(Neuron, "IF")
LIF = _primitive(Neuron, "LIF")
PLIF = _primitive(Neuron, "PLIF")
Dropout = _primitive(StatefulLayer, "Dropout")
Dropout2d = _primitive(StatefulLayer, "Dropout2d")
Delay = _primitive(StatefulLayer, "Delay")

#: the class of every built-in layer, by its name in `.snn` files
BUILTIN_LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, Linear, BatchNorm1d, BatchNorm2d,
                BatchNorm3d, LayerNorm, GroupNorm, MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d,
                AvgPool3d, AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, Flatten, Identity, Upsample,
                ReLU, Sigmoid, Tanh, GELU, VotingLayer, Reshape, Permute, Transpose, Sum, Mean, Scale, Select,
                Chunk, Poisson, IF, LIF, PLIF, Dropout, Dropout2d, Delay)
}


# -- generic layers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TorchModule(Layer):
    """``nn.Name(...)``: any other ``torch.nn`` module class; treated as stateless."""

    def call_text(self) -> str:
        return "nn." + Layer.call_text(self)


@dataclass(frozen=True, slots=True)
class UserModule(Layer):
    """A module from a ``use`` declaration: ``path`` is the import path, ``kind`` the alias."""

    path: str = ""
    declared_stateful: bool = False

    def is_stateful(self) -> bool:
        return self.declared_stateful


@dataclass(frozen=True, slots=True)
class Merge(Op):
    """``add``/``sub``/``mul``/``iand``/``cat``/``matmul`` of two or more values; ``dim``
    per-sample (cat); ``broadcast``: size-1 dims of operands of equal rank are broadcast
    (add, sub, mul)."""

    arity: ClassVar[int | None] = None
    kind: MergeKind
    dim: int | None = None
    broadcast: bool = _omit_default(False)

    def describe(self) -> str:
        if self.kind is MergeKind.CAT:
            return f"{self.kind}(dim={self.dim})"
        return f"{self.kind}(broadcast=true)" if self.broadcast else f"{self.kind}()"


# -- inserted by passes ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plumbing(Op):
    """A change of form, not of values: inserted by passes, the identity in single-step mode."""


@dataclass(frozen=True, slots=True)
class FlattenTime(Plumbing):
    """``[T, N, ...] -> [T*N, ...]`` at a time-batched region's entry (insert-containers)."""

    def describe(self) -> str:
        return "flatten [T, N] -> [T*N]"


@dataclass(frozen=True, slots=True)
class UnflattenTime(Plumbing):
    """``[T*N, ...] -> [T, N, ...]`` at a time-batched region's exit (insert-containers)."""

    def describe(self) -> str:
        return "unflatten [T*N] -> [T, N]"


@dataclass(frozen=True, slots=True)
class BroadcastTime(Plumbing):
    """``[N, ...] -> [T, N, ...]``, a view: a static input or a static region's exit."""

    def describe(self) -> str:
        return "broadcast [N] -> [T, N]"


@dataclass(frozen=True, slots=True)
class ToLayout(Plumbing):
    """A value converted to ``layout`` at a region's entry (channels-last)."""

    layout: Layout = Layout.CHANNELS_LAST

    def describe(self) -> str:
        return f"to {self.layout}"


@dataclass(frozen=True, slots=True)
class FoldedNorm(Op):
    """A Conv or Linear (at ``producer_path``) and the BatchNorm after it, computed as one
    layer whose weights fold in the normalisation in eval mode (fold-batchnorm). The
    node keeps both modules, so ``state_dict`` keys do not change."""

    producer: Layer
    producer_path: str
    norm: Layer

    def describe(self) -> str:
        return f"{self.producer.call_text()} + {self.norm.call_text()} (folded)"

    def modules(self, path: str) -> tuple[tuple[str, Layer], ...]:
        return ((self.producer_path, self.producer), (path, self.norm))


@dataclass(frozen=True, slots=True)
class RecurrentNeuron(Op):
    """A recurrent region ``s = add(x, prev(s) -> rec: Linear) -> sn: neuron`` as one
    operation (fuse-recurrent): the node is at the neuron's path, reads ``x`` and holds
    the recurrent Linear (``linear_path``), the neuron, and the path of the ``prev`` whose
    memory carries the last step's spikes. Both modules stay, so ``state_dict`` keys do
    not change. Multi-step: one fused autograd Function over the T loop
    (``recurrent.recurrent_neuron``); single-step: the three ops of one step."""

    stateful: ClassVar[bool] = True
    linear: Layer
    linear_path: str
    neuron: Layer
    prev_path: str

    def describe(self) -> str:
        return f"recurrent {self.neuron.call_text()} with {self.linear_path}: {self.linear.call_text()}"

    def modules(self, path: str) -> tuple[tuple[str, Layer], ...]:
        return ((self.linear_path, self.linear), (path, self.neuron))


OP_CLASSES: dict[str, type[Op]] = {
    cls.__name__: cls
    for cls in (Input, Output, Prev, *BUILTIN_LAYERS.values(), TorchModule, UserModule, Merge, FlattenTime,
                UnflattenTime, BroadcastTime, ToLayout, FoldedNorm, RecurrentNeuron, ProgramNeuron)
}
