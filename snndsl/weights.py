"""Weights from users: one home for reading a ``state_dict`` and fitting it to a model.

``snndsl run --weights``, ``snndsl export --weights`` and :func:`snndsl.interop.nir.export_source`
all come here. A file is read by :func:`snndsl.fileio.load_weights_file` (``weights_only=True``,
regular files only, the archive's declared size bounded by what the model can hold); then
:func:`check_state_dict` validates what it holds and :func:`fit_state_dict` compares it with
the model. Every refusal is a :class:`UsageError` (exit 2) that names the file and the key:

* not a mapping, a key that is not a string, a value that is not a tensor;
* a tensor without data (``meta``), a sparse or other non-strided layout, a quantized tensor;
* a dtype of another kind than the model's (complex or integer values for a float
  parameter: copying would drop or round them silently);
* missing and unexpected keys and wrong shapes, by module path.

Non-finite values (NaN, inf) load, but :func:`fit_state_dict` returns a note naming them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from .diagnostics import UsageError, shown_items
from .fileio import WEIGHTS_SLACK_BYTES, load_weights_file

__all__ = ["read_state_dict", "check_state_dict", "fit_state_dict"]

#: keys under which checkpoints commonly wrap their state_dict
_WRAPPERS = ("state_dict", "model")


def _model_bytes(net: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in net.state_dict().values())


def read_state_dict(source: str | os.PathLike | Mapping[str, Any], net: torch.nn.Module | None = None
                    ) -> dict[str, torch.Tensor]:
    """A validated state_dict from a mapping or a ``.pt`` file. A checkpoint that wraps
    its state_dict as ``{"state_dict": ...}`` or ``{"model": ...}`` is unwrapped. With
    ``net``, a file whose archive declares far more content than ``net`` holds is refused
    before it is inflated."""
    where = "the weights" if isinstance(source, Mapping) else os.fspath(source)
    if isinstance(source, Mapping):
        data: Any = source
    else:
        budget = None if net is None else 2 * _model_bytes(net) + WEIGHTS_SLACK_BYTES
        data = load_weights_file(source, max_bytes=budget)
    if isinstance(data, Mapping):
        for key in _WRAPPERS:
            if isinstance(data.get(key), Mapping) and len(data) <= 4:
                data = data[key]
                break
    check_state_dict(data, where)
    return dict(data)


def check_state_dict(data: object, where: str) -> None:
    """Refuse what is not a mapping of names to dense tensors that hold data."""
    if not isinstance(data, Mapping):
        raise UsageError(f"{where} does not hold a state_dict (a mapping of names to tensors; "
                         f"got {type(data).__name__})")
    for key, value in data.items():
        if not isinstance(key, str):
            raise UsageError(f"{where} does not hold a state_dict: the key {str(key)[:100]} "
                             f"is of type {type(key).__name__}, not a string (a module path)")
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"{where}: '{key[:200]}' is not a tensor (it is of type {type(value).__name__})")
        if value.is_meta:
            raise UsageError(f"{where}: '{key[:200]}' is a meta tensor (a shape without data)")
        if value.layout != torch.strided:
            raise UsageError(f"{where}: '{key[:200]}' is a {value.layout} tensor; "
                             "save it dense (tensor.to_dense())")
        if value.is_quantized:
            raise UsageError(f"{where}: '{key[:200]}' is a quantized tensor; save it dequantized")


def _kind(dtype: torch.dtype) -> str:
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "floating-point"
    return "boolean" if dtype == torch.bool else "integer"


def fit_state_dict(net: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> list[str]:
    """Load ``state`` into ``net`` strictly; a :class:`UsageError` names the keys that are
    missing or unexpected and the shapes or dtypes that differ. Returns notes (non-finite
    values)."""
    check_state_dict(state, what)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    common = [k for k in own if k in state]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
              for k in common if tuple(state[k].shape) != tuple(own[k].shape)]
    kinds = [f"{k}: file {state[k].dtype} vs model {own[k].dtype}"
             for k in common if _kind(state[k].dtype) != _kind(own[k].dtype)]
    if missing or unexpected or shapes or kinds:
        parts = []
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape mismatches", shapes), ("dtype mismatches", kinds)):
            if items:
                parts.append(f"{label}: {shown_items(items, width=200)}")
        raise UsageError(f"{what} do not fit the model: " + " | ".join(parts))
    net.load_state_dict(state, strict=True)
    odd = [k for k in common if state[k].dtype.is_floating_point and not bool(torch.isfinite(state[k]).all())]
    if odd:
        return [f"{what}: non-finite values (NaN or inf) in {shown_items(odd)}"]
    return []
