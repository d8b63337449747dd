"""The standard prelude: ``neuron`` definitions available in every `.snn` file.

It ships in the wheel next to the grammar (``snndsl.grammars/prelude.snn``; in a source
checkout ``<repo>/grammars/prelude.snn``), is parsed once per process and checked like
a file's own neurons. A file's neuron of the same name replaces a prelude one only when
written ``neuron NAME(...) overrides { ... }``.

Other stages that need a prelude neuron's signature or arguments (the NIR exchange
reads and writes ``LI`` and ``CubaLIF`` calls) ask :func:`prelude_signature` and
:func:`prelude_arguments` here rather than keeping a second copy of the header.
"""

from __future__ import annotations

import importlib.resources
from functools import cache, lru_cache
from pathlib import Path

from ..diagnostics import SnnError
from ..ir import ops, registry
from . import ast
from .neurons import NeuronDecl, build_program, check_definition, header_specs, header_values
from .parse import parse

PRELUDE_FILE = "prelude.snn"
#: the file name in the prelude's spans (errors located there render its text)
PRELUDE_NAME = "<prelude>"


def prelude_text() -> str:
    """The text of ``prelude.snn``, from the installed package or from the source tree."""
    try:
        resource = importlib.resources.files("snndsl.grammars").joinpath(PRELUDE_FILE)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return (Path(__file__).resolve().parents[2] / "grammars" / PRELUDE_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def prelude_file() -> ast.File:
    return parse(prelude_text(), PRELUDE_NAME)


@lru_cache(maxsize=1)
def prelude_neurons() -> dict[str, NeuronDecl]:
    """The prelude's neurons by name, in the order they are defined, each checked."""
    out: dict[str, NeuronDecl] = {}
    for item in prelude_file().items:
        if isinstance(item, ast.NeuronDef):
            try:
                check_definition(item, ())
            except SnnError as e:  # the prelude is ours: a mistake in it is a bug, shown with its text
                raise RuntimeError("the prelude is broken:\n" + e.with_source(prelude_text()).render()) from e
            out[item.name] = NeuronDecl(item, prelude=True)
    return out


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
