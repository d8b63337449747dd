"""The runtime library that compiled models import (and users may use by hand).

Its names mirror SpikingJelly 2.0.0's ``activation_based`` package, so that code written
for SpikingJelly runs with one changed import line::

    from snndsl.runtime import neuron, functional, layer, surrogate, base

The contract is ``shared/spec/runtime.md``; SpikingJelly itself is never imported here.
"""

from . import base, functional, fused, layer, neuron, surrogate

__all__ = ["base", "functional", "fused", "layer", "neuron", "surrogate"]
