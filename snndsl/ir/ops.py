"""The closed vocabulary of IR operations.

Every IR node holds one frozen op record. The classes say what kind of thing a node
is (passes branch on them with ``isinstance``); the ``kind`` of a layer names the
concrete layer (``"Conv2d"``) and indexes :data:`snndsl.ir.registry.LAYERS`, where its
signature, argument types and shape rule live.

========================  =========================================  ========
class                     what                                       stateful
========================  =========================================  ========
:class:`Input`            a model input, per-sample shape            no
:class:`Output`           one returned value                         no
:class:`StatelessLayer`   a built-in ``torch.nn`` layer              no
:class:`TorchModule`      any other ``torch.nn`` layer (``nn.X``)    no
:class:`Neuron`           IF, LIF, PLIF                              yes
:class:`StatefulLayer`    Dropout, Dropout2d (one mask per sequence) yes
:class:`UserModule`       a ``use``-declared module                  declared
:class:`Merge`            add, sub, mul, iand, cat                   no
========================  =========================================  ========
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

class InferMarker:
    """The value of ``_`` ``_`` (infer from the input) before infer-shapes replaces it."""

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


@dataclass(frozen=True, slots=True)
class SurrogateValue:
    """A surrogate function written as a call, e.g. ``ATan(alpha=2.0)``."""

    name: str
    kwargs: tuple[tuple[str, Value], ...] = ()

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={format_value(v)}" for k, v in self.kwargs)
        return f"{self.name}({inner})"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def format_value(v: Value) -> str:
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
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()

    def kwarg(self, name: str, default: Value = None) -> Value:
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


@dataclass(frozen=True, slots=True)
class StatelessLayer(Layer):
    """A built-in stateless layer (Conv2d, BatchNorm2d, Flatten, ...), batched over time."""


@dataclass(frozen=True, slots=True)
class TorchModule(Layer):
    """``nn.Name(...)``: any other ``torch.nn`` module class; treated as stateless."""

    def call_text(self) -> str:
        return "nn." + Layer.call_text(self)


@dataclass(frozen=True, slots=True)
class Neuron(Layer):
    """A spiking neuron: IF, LIF or PLIF."""

    stateful: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class StatefulLayer(Layer):
    """A stateless-looking layer that keeps per-sequence state (Dropout's mask)."""

    stateful: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class UserModule(Layer):
    """A module from a ``use`` declaration: ``path`` is the import path, ``kind`` the alias."""

    path: str = ""
    declared_stateful: bool = False

    def is_stateful(self) -> bool:
        return self.declared_stateful


@dataclass(frozen=True, slots=True)
class Merge(Op):
    """``add``/``sub``/``mul``/``iand``/``cat`` of two or more values; ``dim`` per-sample (cat)."""

    arity: ClassVar[int | None] = None
    kind: str
    dim: int | None = None

    def describe(self) -> str:
        return f"{self.kind}(dim={self.dim})" if self.kind == "cat" else f"{self.kind}()"


OP_CLASSES: dict[str, type[Op]] = {
    cls.__name__: cls
    for cls in (
        Input,
        Output,
        StatelessLayer,
        TorchModule,
        Neuron,
        StatefulLayer,
        UserModule,
        Merge,
    )
}
