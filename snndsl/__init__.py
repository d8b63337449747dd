"""snndsl: a compiler for spiking neural networks.

Write a model once in a `.snn` file; snndsl checks it, shows what it will do and
compiles it into a readable PyTorch module::

    import snndsl
    net = snndsl.compile_file("examples/csnn.snn", params={"channels": 64})
"""

from . import core_neurons as _core_neurons  # noqa: F401 - registers the runtime's IF/LIF/PLIF classes
from ._version import __version__
from .codegen import neuron_c as _neuron_c  # noqa: F401 - registers the C kernels' printer
from .codegen import neuron_triton as _neuron_triton  # noqa: F401 - registers the Triton kernels' printer
from .compiler import compile_file, compile_source, emit_python, trace_passes
from .diagnostics import SnnError
from .ir.yaml import dump_yaml, load_yaml
from .viz import render as _render  # noqa: F401 - registers the IR's notebook picture

__all__ = [
    "__version__",
    "compile_file",
    "compile_source",
    "emit_python",
    "trace_passes",
    "SnnError",
    "dump_yaml",
    "load_yaml",
]
