"""The runtime's ``IFNode``, ``LIFNode`` and ``ParametricLIFNode`` run the classes
generated from ``grammars/core_neurons.snn``: each formula exists once, in the language,
and the code generator prints its step, its fused BPTT Function and its C and Triton
kernels (``snndsl.codegen.neuron_code``, ``neuron_c``, ``neuron_triton``).

The runtime imports neither the front end nor the code generator, so this module, which
``import snndsl`` loads, registers :func:`core_class` with
:func:`snndsl.runtime.program.register_core_classes`. A class is generated once per
process and set of header arguments; its source is printed by the code generator from
the shipped definitions (nothing of a user's ``.snn`` file is executed).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .codegen.neuron_code import neuron_module_source
from .compiler import load_generated
from .frontend.prelude import core_program
from .runtime import program

__all__ = ["core_class"]

#: the runtime's class names of the core neurons
CLASS_NAMES = {"IF": "IFNode", "LIF": "LIFNode", "PLIF": "ParametricLIFNode"}


def core_class(name: str, **kwargs: Any) -> type[program.ProgramNode]:
    """The class generated from the core neuron ``name`` with the header arguments
    ``kwargs`` (:func:`snndsl.frontend.prelude.core_program`'s); cached."""
    return _generated(core_program(name, **kwargs), CLASS_NAMES.get(name, name))


@cache
def _generated(prog: program.NeuronProgram, class_name: str) -> type[program.ProgramNode]:
    cls: type[program.ProgramNode] = load_generated(neuron_module_source(prog, class_name), class_name)
    return cls


program.register_core_classes(core_class)
