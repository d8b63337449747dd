"""Interoperability: NIR export and import, SpikingJelly checkpoints, ANN weights.

- :mod:`snndsl.interop.nir`: ``to_nir`` / ``from_nir`` and the file-level
  ``export_file`` / ``import_file`` used by ``snndsl export`` and ``snndsl import``
  (needs the ``nir`` package: ``pip install snndsl[nir]``).
- :mod:`snndsl.interop.sj_keys`: map the keys of a container-nested SpikingJelly
  checkpoint (``0.0.weight``) onto a compiled model's module paths.

Nothing here imports SpikingJelly. See ``docs/interop.md``.
"""

from __future__ import annotations

from .sj_keys import load_nested_state_dict, map_state_dict_keys

__all__ = ["load_nested_state_dict", "map_state_dict_keys"]
