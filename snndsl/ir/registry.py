"""The table of built-in ops: signatures, argument types and which class they become.

Signatures follow ``torch.nn`` (stateless layers) and SpikingJelly (neurons,
surrogates), written in a compact form ``name:type=default``. Per-sample conventions
differ from ``torch.nn`` in one place: ``Flatten(start_dim=0)`` counts per-sample
dims, so the default flattens every per-sample dimension (what ``nn.Flatten()`` does
on ``[N, ...]``).

Argument types: ``int``, ``float`` (ints accepted), ``bool``, ``str``, ``size`` (int or
tuple of ints), ``pad`` (size or ``"same"``/``"valid"``), ``optsize`` (size or none),
``outsize`` (an adaptive pool's output size: int, tuple of ints and nones, or none),
``optfloat`` (float or none), ``shape`` (int or tuple of ints), ``scale`` (float or
tuple of floats or none), ``surrogate`` (a surrogate call), ``any``.

A type may carry a constraint on the value, checked where the argument is written
(one home for argument checks: torch would only raise them when the module is built or
run): ``name:int>0`` (every number in the value, none exempt), ``name:pad>=0``,
``name:str{a|b}`` (one of these strings). Checks that relate several arguments are in
:data:`RELATIONS`; checks that need the incoming shape are the shape rules of
:mod:`snndsl.ir.shapes`. Every float must fit in float32, the dtype of the weights and
neuron state.
"""

from __future__ import annotations

import ast as pyast
import importlib
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from . import ops


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    default: ops.Value = None
    required: bool = False
    #: the strings the value may be (empty: any)
    choices: tuple[str, ...] = ()
    #: lower bound of every number in the value, and whether it is exclusive (``>``)
    minimum: float | None = None
    exclusive: bool = False
    #: floats in the value must fit in float32 (layer and surrogate arguments)
    float32: bool = False

    def constraint(self) -> str:
        """The constraint in words (empty when there is none)."""
        if self.choices:
            return "one of " + ", ".join(ops.format_value(c) for c in self.choices)
        if self.minimum is not None:
            low = int(self.minimum) if float(self.minimum).is_integer() else self.minimum
            return f"{'>' if self.exclusive else '>='} {low}"
        return ""


@dataclass(frozen=True)
class LayerSpec:
    kind: str
    op_class: type[ops.Layer]
    params: tuple[ParamSpec, ...]
    #: parameter that `_` may stand for (an input size), if any
    inferable: str | None = None
    #: the runtime/torch constructor the code generator emits
    target: str = ""
    #: short doc line for docs/language.md and `check`
    doc: str = ""
    #: names of the main arguments shown in tables and pictures
    main: tuple[str, ...] = field(default=())

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None


_PARAM = re.compile(r"(\w+):(\w+)(?:\{([^}]*)\}|(>=?)(-?[\d.]+))?(?:=(.*))?\Z")


def _sig(text: str) -> tuple[ParamSpec, ...]:
    out = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        m = _PARAM.match(part)
        assert m is not None, part  # our own table
        name, typ, choices, op, low, default = m.groups()
        out.append(ParamSpec(
            name, typ, _literal(default) if default else None, required=default is None,
            choices=tuple(choices.split("|")) if choices else (),
            minimum=float(low) if low else None, exclusive=op == ">", float32=True,
        ))
    return tuple(out)


def _literal(text: str) -> ops.Value:
    if text.endswith(")") and text[0].isupper():  # a surrogate default such as Sigmoid()
        return ops.SurrogateValue(text[: text.index("(")])
    return pyast.literal_eval(text)  # our own table, never user text


_CONV = ("in_channels:int>0; out_channels:int>0; kernel_size:size>0; stride:size>0=1; padding:pad>=0=0; "
         "dilation:size>0=1; groups:int>0=1; bias:bool=True; padding_mode:str{zeros|reflect|replicate|circular}='zeros'")
# torch's transposed convolutions accept padding_mode but implement only "zeros"
_CONVT = ("in_channels:int>0; out_channels:int>0; kernel_size:size>0; stride:size>0=1; padding:size>=0=0; "
          "output_padding:size>=0=0; groups:int>0=1; bias:bool=True; dilation:size>0=1; padding_mode:str{zeros}='zeros'")
_BN = "num_features:int>0; eps:float>0=1e-05; momentum:optfloat=0.1; affine:bool=True; track_running_stats:bool=True"
_MAXP = ("kernel_size:size>0; stride:optsize>0=None; padding:size>=0=0; dilation:size>0=1; return_indices:bool=False; "
         "ceil_mode:bool=False")
_AVGP1 = "kernel_size:size>0; stride:optsize>0=None; padding:size>=0=0; ceil_mode:bool=False; count_include_pad:bool=True"
_AVGP = _AVGP1 + "; divisor_override:optint>0=None"
_ADAPT = "output_size:outsize>0"
_NEURON = "v_threshold:float=1.0; v_reset:optfloat=0.0; surrogate:surrogate=Sigmoid(); detach_reset:bool=False; store_v_seq:bool=False"
_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact")

_STATELESS: dict[str, tuple[str, str | None, str]] = {
    # kind: (signature, inferable parameter, doc)
    "Conv1d": (_CONV, "in_channels", "1-d convolution over [C, L]"),
    "Conv2d": (_CONV, "in_channels", "2-d convolution over [C, H, W]"),
    "Conv3d": (_CONV, "in_channels", "3-d convolution over [C, D, H, W]"),
    "ConvTranspose1d": (_CONVT, "in_channels", "transposed 1-d convolution"),
    "ConvTranspose2d": (_CONVT, "in_channels", "transposed 2-d convolution"),
    "Linear": ("in_features:int>0; out_features:int>0; bias:bool=True", "in_features", "affine map of the last dim"),
    "BatchNorm1d": (_BN, "num_features", "batch norm over [C] or [C, L], statistics over T*N"),
    "BatchNorm2d": (_BN, "num_features", "batch norm over [C, H, W], statistics over T*N"),
    "BatchNorm3d": (_BN, "num_features", "batch norm over [C, D, H, W], statistics over T*N"),
    "LayerNorm": ("normalized_shape:shape>0; eps:float>0=1e-05; elementwise_affine:bool=True; bias:bool=True", "normalized_shape", "layer norm over the trailing dims"),
    "GroupNorm": ("num_groups:int>0; num_channels:int>0; eps:float>0=1e-05; affine:bool=True", "num_channels", "group norm over channels"),
    "MaxPool1d": (_MAXP, None, "max pooling over [C, L]"),
    "MaxPool2d": (_MAXP, None, "max pooling over [C, H, W]"),
    "MaxPool3d": (_MAXP, None, "max pooling over [C, D, H, W]"),
    "AvgPool1d": (_AVGP1, None, "average pooling over [C, L]"),
    "AvgPool2d": (_AVGP, None, "average pooling over [C, H, W]"),
    "AvgPool3d": (_AVGP, None, "average pooling over [C, D, H, W]"),
    "AdaptiveAvgPool1d": (_ADAPT, None, "average pooling to a fixed length"),
    "AdaptiveAvgPool2d": (_ADAPT, None, "average pooling to a fixed size"),
    "AdaptiveAvgPool3d": (_ADAPT, None, "average pooling to a fixed size"),
    "Flatten": ("start_dim:int=0; end_dim:int=-1", None, "flatten per-sample dims start_dim..end_dim"),
    "Identity": ("", None, "pass the value through"),
    "Upsample": ("size:optsize>0=None; scale_factor:scale>0=None; mode:str{" + "|".join(_UPSAMPLE_MODES)
                 + "}='nearest'; align_corners:optbool=None", None, "upsample the spatial dims"),
    "ReLU": ("", None, "max(x, 0)"),
    "Sigmoid": ("", None, "logistic function"),
    "Tanh": ("", None, "hyperbolic tangent"),
    "GELU": ("approximate:str{none|tanh}='none'", None, "Gaussian error linear unit"),
    "VotingLayer": ("voting_size:int>0=10", None, "average groups of voting_size features"),
}

#: per-sample tensor operations (no module: computed inline). ``Reshape`` and ``Permute``
#: are variadic: their positional arguments are the one tuple parameter (``Reshape(4, -1)``).
_TENSOR: dict[str, tuple[str, str]] = {
    "Reshape": ("shape:shape", "per-sample reshape; one size may be -1"),
    "Permute": ("dims:shape", "reorder the per-sample dims"),
    "Transpose": ("dim0:int; dim1:int", "swap two per-sample dims (negative dims count from the end)"),
    "Sum": ("dim:shape; keepdim:bool=False", "sum over per-sample dims"),
    "Mean": ("dim:shape; keepdim:bool=False", "mean over per-sample dims"),
    "Scale": ("factor:float", "multiply by a compile-time constant"),
    "Select": ("dim:int; index:int", "one index along a dim (the dim goes away)"),
    "Chunk": ("chunks:int>0; dim:int=0", "chunks equal parts along dim: several values"),
    "Poisson": ("", "spikes rand < x, a fresh draw at every time step and call (PoissonEncoder)"),
}
VARIADIC = frozenset({"Reshape", "Permute"})

_STATEFUL: dict[str, tuple[str, str]] = {
    "IF": (_NEURON, "integrate-and-fire neuron"),
    "LIF": ("tau:float>1=2.0; decay_input:bool=True; " + _NEURON, "leaky integrate-and-fire neuron"),
    "PLIF": ("init_tau:float>1=2.0; decay_input:bool=True; " + _NEURON, "LIF neuron with a learnable time constant"),
    "Dropout": ("p:float=0.5", "dropout, one mask per sequence"),
    "Dropout2d": ("p:float=0.2", "channel dropout, one mask per sequence"),
    "Delay": ("steps:int>=0", "y[t] = x[t - steps], zeros before"),
}

#: runtime constructors of the stateful layers
NEURON_TARGETS = {"IF": "neuron.IFNode", "LIF": "neuron.LIFNode", "PLIF": "neuron.ParametricLIFNode",
                  "Dropout": "layer.Dropout", "Dropout2d": "layer.Dropout2d", "Delay": "layer.Delay"}

_MAIN = {
    "in_channels", "out_channels", "kernel_size", "stride", "padding", "in_features", "out_features",
    "num_features", "output_size", "tau", "init_tau", "v_threshold", "v_reset", "p", "normalized_shape",
    "num_groups", "num_channels", "scale_factor", "size", "voting_size", "surrogate", "steps",
}


def _build() -> dict[str, LayerSpec]:
    table: dict[str, LayerSpec] = {}
    for kind, (sig, inferable, doc) in _STATELESS.items():
        params = _sig(sig)
        target = "layer.VotingLayer" if kind == "VotingLayer" else f"nn.{kind}"
        table[kind] = LayerSpec(kind, ops.BUILTIN_LAYERS[kind], params, inferable, target, doc,
                                tuple(p.name for p in params if p.name in _MAIN))
    for kind, (sig, doc) in _TENSOR.items():
        params = _sig(sig)
        table[kind] = LayerSpec(kind, ops.BUILTIN_LAYERS[kind], params, None, "", doc, tuple(p.name for p in params))
    for kind, (sig, doc) in _STATEFUL.items():
        params = _sig(sig)
        table[kind] = LayerSpec(kind, ops.BUILTIN_LAYERS[kind], params, None, NEURON_TARGETS[kind], doc,
                                tuple(p.name for p in params if p.name in _MAIN))
    return table


LAYERS: dict[str, LayerSpec] = _build()

#: surrogate functions and their parameters (SpikingJelly 2.0.0 defaults). Every ``alpha``
#: is > 0: it scales ``x`` in the smooth primitive ``g(alpha x)``, so 0 gives no gradient
#: (PiecewiseQuadratic divides by it), and a negative one turns the gradient's sign or,
#: for PiecewiseExp, makes it grow without bound (SpikingJelly asserts it only for SoftSign).
#: PiecewiseLeakyReLU's window half-width ``w`` is > 0 (SpikingJelly asserts it) and its
#: slope outside the window ``c`` is >= 0 (0: no gradient outside). Values must be finite.
SURROGATES: dict[str, tuple[ParamSpec, ...]] = {
    "Sigmoid": _sig("alpha:float>0=4.0; spiking:bool=True"),
    "ATan": _sig("alpha:float>0=2.0; spiking:bool=True"),
    "PiecewiseQuadratic": _sig("alpha:float>0=1.0; spiking:bool=True"),
    "PiecewiseExp": _sig("alpha:float>0=1.0; spiking:bool=True"),
    "SoftSign": _sig("alpha:float>0=2.0; spiking:bool=True"),
    "Erf": _sig("alpha:float>0=2.0; spiking:bool=True"),
    "SuperSpike": _sig("alpha:float>0=1.0; spiking:bool=True"),
    "PiecewiseLeakyReLU": _sig("w:float>0=1.0; c:float>=0=0.01; spiking:bool=True"),
    "Rect": _sig("alpha:float>0=1.0; spiking:bool=True"),
}

#: what each surrogate parameter means, for the hint of an error about its value
SURROGATE_HINTS = {
    "alpha": "alpha sets how sharp the surrogate gradient is around the threshold: a positive "
             "finite number (larger is sharper), e.g. {op}(alpha={default})",
    "w": "w is the half-width of the window where the gradient is 1/(2w): a positive finite "
         "number, e.g. {op}(w={default})",
    "c": "c is the gradient outside the window: 0 or a small positive finite number, e.g. {op}(c={default})",
}

MERGES: dict[str, tuple[int, int | None]] = {
    # name: (min operands, max operands or None)
    ops.MergeKind.ADD: (2, None),
    ops.MergeKind.SUB: (2, 2),
    ops.MergeKind.MUL: (2, 2),
    ops.MergeKind.IAND: (2, 2),
    ops.MergeKind.CAT: (2, None),
    ops.MergeKind.MATMUL: (2, 2),
}
MERGE_DOCS = {
    "add": "element-wise sum of two or more values (SEW-ResNet's ADD)",
    "sub": "a - b",
    "mul": "element-wise product (SEW-ResNet's AND for spikes)",
    "iand": "(1 - a) * b (SEW-ResNet's IAND)",
    "cat": "concatenate along per-sample dim `dim` (default 0: channels)",
    "matmul": "torch.matmul of two values (leading per-sample dims must agree)",
}

# Type checks ---------------------------------------------------------------------------


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


def _is_size(v: object) -> bool:
    return _is_int(v) or (isinstance(v, tuple) and len(v) > 0 and all(_is_int(x) for x in v))


TYPE_CHECKS = {
    "int": (_is_int, "an integer"),
    "optint": (lambda v: v is None or _is_int(v), "an integer or none"),
    "float": (_is_num, "a number"),
    "optfloat": (lambda v: v is None or _is_num(v), "a number or none"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "optbool": (lambda v: v is None or isinstance(v, bool), "true, false or none"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "size": (_is_size, "an integer or a tuple of integers"),
    "optsize": (lambda v: v is None or _is_size(v), "an integer, a tuple of integers or none"),
    "outsize": (lambda v: v is None or _is_size(v) or (isinstance(v, tuple) and len(v) > 0
                                                        and all(x is None or _is_int(x) for x in v)),
                "an integer, a tuple of integers and nones, or none"),
    "pad": (lambda v: _is_size(v) or v in ("same", "valid"), 'an integer, a tuple of integers, "same" or "valid"'),
    "shape": (_is_size, "an integer or a tuple of integers"),
    "scale": (lambda v: v is None or _is_num(v) or (isinstance(v, tuple) and all(_is_num(x) for x in v)),
              "a number, a tuple of numbers or none"),
    "surrogate": (lambda v: isinstance(v, ops.SurrogateValue), "a surrogate function such as ATan()"),
    "any": (lambda v: True, "any value"),
}


def check_type(typ: str, value: object) -> str | None:
    """None if ``value`` fits ``typ``, else the description of what was expected."""
    ok, what = TYPE_CHECKS[typ]
    return None if ok(value) else what


# Value checks --------------------------------------------------------------------------

#: the largest finite float32: weights, neuron state and thresholds are float32
FLOAT32_MAX = 3.4028234663852886e38


def _numbers(value: object) -> list[int | float]:
    items = value if isinstance(value, tuple) else (value,)
    return [x for x in items if isinstance(x, (int, float)) and not isinstance(x, bool)]


def check_value(p: ParamSpec, value: object) -> str | None:
    """None if ``value`` (already of ``p``'s type) meets ``p``'s constraint, else what it must be."""
    if p.choices and value not in p.choices:
        return p.constraint()
    for x in _numbers(value):
        if isinstance(x, float) and (not math.isfinite(x) or (p.float32 and abs(x) > FLOAT32_MAX)):
            return "a finite number" + (" within float32 range (about 3.4e38)" if p.float32 else "")
        if p.minimum is not None and (x <= p.minimum if p.exclusive else x < p.minimum):
            return p.constraint()
    return None


def _as_tuple(v: object) -> tuple:
    return v if isinstance(v, tuple) else (v,)


def _conv_relations(a: dict) -> tuple[str, str] | None:
    if a.get("padding") == "same" and any(s != 1 for s in _as_tuple(a["stride"])):
        return "padding", 'padding="same" needs stride=1 (torch does not support it for strided convolutions)'
    return None


def _conv_transpose_relations(a: dict) -> tuple[str, str] | None:
    op, s, d = (_as_tuple(a[k]) for k in ("output_padding", "stride", "dilation"))
    n = max(len(op), len(s), len(d))
    op, s, d = ((x * n if len(x) == 1 else x) for x in (op, s, d))
    if len(op) == len(s) == len(d) and any(o >= max(si, di) for o, si, di in zip(op, s, d)):
        return "output_padding", (f"output_padding={ops.format_value(a['output_padding'])} must be smaller "
                                  "than stride or dilation")
    return None


def _upsample_relations(a: dict) -> tuple[str, str] | None:
    if a["align_corners"] is not None and a["mode"] not in ("linear", "bilinear", "bicubic", "trilinear"):
        return "align_corners", (f'align_corners can only be set with the interpolating modes '
                                 f'(linear, bilinear, bicubic, trilinear), not mode="{a["mode"]}"')
    if (a["size"] is None) == (a["scale_factor"] is None):
        return "size", "give exactly one of size and scale_factor"
    return None


#: checks that relate several arguments of one layer: ``bound arguments -> (culprit, why)``
RELATIONS: dict[str, Callable[[dict], tuple[str, str] | None]] = {
    "Conv1d": _conv_relations, "Conv2d": _conv_relations, "Conv3d": _conv_relations,
    "ConvTranspose1d": _conv_transpose_relations, "ConvTranspose2d": _conv_transpose_relations,
    "Upsample": _upsample_relations,
}


def bound(spec: LayerSpec, args: tuple, kwargs: dict) -> dict:
    """Every parameter of ``spec`` by name: the given values over the defaults."""
    out = {p.name: p.default for p in spec.params}
    out.update(zip((p.name for p in spec.params), args))
    out.update(kwargs)
    return out


def bound_arguments(op: ops.Layer) -> dict[str, ops.Value]:
    """Every parameter of a built-in layer op, given or default, by name."""
    spec = LAYERS[op.kind]
    if spec.kind in VARIADIC:  # every positional argument is one int (checked where written)
        return {spec.params[0].name: tuple(ops.as_int(a) for a in op.args)}
    return bound(spec, op.args, dict(op.kwargs))


def import_allowed(path: str, allow_imports: tuple[str, ...] | list[str]) -> bool:
    """May ``use pkg.mod.Class`` be imported with ``--allow-import``/``allow_imports``?
    A package allows its modules; the class must live in a module."""
    module_path = path.rpartition(".")[0]
    top = path.split(".")[0]
    return bool(module_path) and any(
        a == top or a == module_path or module_path.startswith(a + ".") for a in allow_imports)


def import_use_class(path: str, search: tuple[str, ...] = ()) -> type:
    """Import ``pkg.mod.Class`` of a ``use`` declaration; only called for paths the user
    allowed. ``search``: folders tried after ``sys.path`` (the `.snn` file's folder and
    the working directory), so a module next to the model needs no ``PYTHONPATH``."""
    module_path, _, cls_name = path.rpartition(".")
    added = [d for d in dict.fromkeys(search) if d not in sys.path]
    sys.path.extend(added)
    try:
        return getattr(importlib.import_module(module_path), cls_name)
    finally:
        for d in added:
            sys.path.remove(d)
