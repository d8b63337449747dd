"""The standard prelude: ``neuron`` definitions available in every `.snn` file.

It ships in the wheel next to the grammar (``snndsl.grammars/prelude.snn``; in a source
checkout ``<repo>/grammars/prelude.snn``), is parsed once per process and checked like
a file's own neurons. A file's neuron of the same name replaces a prelude one only when
written ``neuron NAME(...) overrides { ... }``.

Other stages that need a prelude neuron's signature or arguments (the NIR exchange
reads and writes ``LI`` and ``CubaLIF`` calls) ask :func:`prelude_signature` and
:func:`prelude_arguments` here rather than keeping a second copy of the header.

The core neurons ``IF``, ``LIF`` and ``PLIF`` are written in a second shipped file,
``core_neurons.snn``, in SpikingJelly 2.0.0's operation order: the definitions the
runtime's ``IFNode``, ``LIFNode`` and ``ParametricLIFNode`` are to be generated from.
They are not in the prelude (in a `.snn` file those names are still the registry's
built-in stages); :func:`core_program` elaborates one with Python arguments.
"""

from __future__ import annotations

import importlib.resources
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..diagnostics import SnnError
from ..ir import ops, registry
from ..ir.neuron_program import NeuronProgram
from . import ast
from .neurons import NeuronDecl, build_program, check_definition, header_specs, header_values
from .parse import parse

PRELUDE_FILE = "prelude.snn"
#: the file name in the prelude's spans (errors located there render its text)
PRELUDE_NAME = "<prelude>"
CORE_FILE = "core_neurons.snn"
CORE_NAME = "<core neurons>"


def shipped_text(file: str) -> str:
    """The text of a shipped ``.snn`` file, from the installed package or the source tree."""
    try:
        resource = importlib.resources.files("snndsl.grammars").joinpath(file)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return (Path(__file__).resolve().parents[2] / "grammars" / file).read_text(encoding="utf-8")


def prelude_text() -> str:
    """The text of ``prelude.snn``."""
    return shipped_text(PRELUDE_FILE)


@lru_cache(maxsize=1)
def prelude_file() -> ast.File:
    return parse(prelude_text(), PRELUDE_NAME)


def _checked_neurons(file: ast.File, text: str, what: str) -> dict[str, NeuronDecl]:
    out: dict[str, NeuronDecl] = {}
    for item in file.items:
        if isinstance(item, ast.NeuronDef):
            try:
                check_definition(item, ())
            except SnnError as e:  # the file is ours: a mistake in it is a bug, shown with its text
                raise RuntimeError(f"the {what} is broken:\n" + e.with_source(text).render()) from e
            out[item.name] = NeuronDecl(item, prelude=True)
    return out


@lru_cache(maxsize=1)
def prelude_neurons() -> dict[str, NeuronDecl]:
    """The prelude's neurons by name, in the order they are defined, each checked."""
    return _checked_neurons(prelude_file(), prelude_text(), "prelude")


@lru_cache(maxsize=1)
def core_neurons() -> dict[str, NeuronDecl]:
    """``IF``, ``LIF`` and ``PLIF`` of ``core_neurons.snn`` by name, each checked."""
    text = shipped_text(CORE_FILE)
    return _checked_neurons(parse(text, CORE_NAME), text, "core neurons file")


def core_program(name: str, **kwargs: Any) -> NeuronProgram:
    """The program of the core neuron ``name`` (``"IF"``, ``"LIF"`` or ``"PLIF"``) with
    the header arguments ``kwargs`` (SpikingJelly's names: ``v_threshold``, ``v_reset``
    (None: soft reset), ``detach_reset``, ``tau``/``init_tau``, ``decay_input``,
    ``surrogate`` as an :class:`~snndsl.ir.ops.SurrogateValue`); the others take their
    defaults. Cached: equal arguments give the same program object.

    These are the definitions the runtime's ``IFNode``, ``LIFNode`` and
    ``ParametricLIFNode`` are to be generated from (``neuron_code.neuron_class_source``)."""
    return _core_program(name, tuple(sorted(kwargs.items())))


@cache
def _core_program(name: str, kwargs: tuple[tuple[str, Any], ...]) -> NeuronProgram:
    decl = core_neurons().get(name)
    if decl is None:
        raise ValueError(f"no core neuron {name!r}; expected one of {', '.join(core_neurons())}")
    specs = {s.name: s for s in header_specs(decl.node)}
    given: dict[str, ops.Value] = {}
    for key, value in kwargs:
        spec = specs.get(key)
        if spec is None:
            raise TypeError(f"{name} has no parameter {key!r}; its parameters are {', '.join(specs)}")
        if spec.type in ("float", "optfloat") and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        expected = registry.check_type(spec.type, value) or registry.check_value(spec, value)
        if expected is not None:
            raise TypeError(f"{name}'s {key} must be {expected}, got {value!r}")
        given[key] = value
    try:
        return build_program(decl.node, header_values(decl.node, given))
    except SnnError as e:  # e.g. init_tau <= 1: log of a non-positive number
        raise ValueError(f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs)}): {e.message}") from None


@cache
def prelude_signature(name: str) -> tuple[registry.ParamSpec, ...] | None:
    """The parameters of the prelude's neuron ``name`` (``surrogate`` included), each
    with the value a call that omits it gets; None when the prelude has no such neuron."""
    decl = prelude_neurons().get(name)
    if decl is None:
        return None
    defaults = header_values(decl.node, {})
    return tuple(registry.ParamSpec(s.name, s.type, defaults[s.name], float32=True) for s in header_specs(decl.node))


def prelude_arguments(op: ops.ProgramNeuron) -> dict[str, ops.Value] | None:
    """Every header parameter of ``op`` by name, when ``op`` is a call of the prelude's
    neuron of its kind: its program is the prelude definition's with these arguments.
    None otherwise (another neuron, or a file's ``overrides`` with other equations)."""
    decl = prelude_neurons().get(op.kind)
    signature = prelude_signature(op.kind)
    if decl is None or signature is None or len(op.args) > len(signature):
        return None
    names = [p.name for p in signature]
    written = dict(zip(names, op.args)) | dict(op.kwargs)
    given = {k: v for k, v in written.items() if not isinstance(v, ops.InferMarker)}
    if len(given) < len(written) or any(k not in names for k in given):
        return None
    try:
        values = header_values(decl.node, given)
        same = build_program(decl.node, values) == op.program
    except SnnError:
        return None
    return values if same else None
