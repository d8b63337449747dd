"""Interop tests: the SpikingJelly peer needs ``nirtorch``; skip those tests without it."""

from __future__ import annotations

import pytest


@pytest.fixture
def sj():
    """SpikingJelly's activation_based modules and its NIR exchange (skips when missing)."""
    pytest.importorskip("nirtorch")
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir, import_from_nir

    class NS:
        pass

    ns = NS()
    ns.functional, ns.layer, ns.neuron = functional, layer, neuron
    ns.export_to_nir, ns.import_from_nir = export_to_nir, import_from_nir
    return ns
