"""The standard prelude: ``neuron`` definitions available in every `.snn` file.

It ships in the wheel next to the grammar (``snndsl.grammars/prelude.snn``; in a source
checkout ``<repo>/grammars/prelude.snn``), is parsed once per process and checked like
a file's own neurons. A file's neuron of the same name replaces a prelude one only when
written ``neuron NAME(...) overrides { ... }``.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path

from ..diagnostics import SnnError
from . import ast
from .neurons import NeuronDecl, check_definition
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
