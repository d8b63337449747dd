"""NIR (Neuromorphic Intermediate Representation) export and import.

Python::

    from snndsl.interop.nir import to_nir, from_nir
    net = snndsl.compile_file("net.snn")
    graph, report = to_nir(net, dt=1e-4)           # nir.NIRGraph + loss-report lines
    source, state_dict = from_nir("net.nir", dt=1e-4)

Command line: ``snndsl export FILE --nir OUT.nir`` and ``snndsl import IN.nir -o OUT.snn``
(:func:`export_file`, :func:`import_file`). ``dt`` is always explicit; the mapping of
time constants and what is lost are described in ``docs/interop.md``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..diagnostics import SnnError, UsageError
from ..fileio import load_weights_file, write_atomic, write_atomic_group
from ..ir.graph import IR
from ._common import NirError, nir_module, nir_span, sanitize
from .nir_export import export_ir
from .nir_import import ImportResult, import_graph

__all__ = ["to_nir", "from_nir", "export_source", "export_file", "import_file", "read_nir",
           "load_weights", "ImportResult", "NirError"]


def load_weights(weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state_dict from a mapping or a ``.pt`` file (loaded with ``weights_only=True``).

    A checkpoint that wraps its state_dict as ``{"state_dict": ...}`` or ``{"model": ...}``
    is unwrapped.
    """
    if isinstance(weights, Mapping):
        data: Any = weights
    else:
        data = load_weights_file(weights)
    if isinstance(data, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(data.get(key), Mapping) and len(data) <= 4:
                data = data[key]
                break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        where = "the weights" if isinstance(weights, Mapping) else os.fspath(weights)
        raise UsageError(f"{where} does not hold a state_dict (a mapping of names to tensors)")
    return dict(data)


def _fit(net: torch.nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                parts.append(f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}")
        raise UsageError(f"{what} do not fit the model ({'; '.join(parts)})")
    net.load_state_dict(state, strict=True)


def to_nir(model: torch.nn.Module | IR, state_dict: Mapping[str, torch.Tensor] | None = None, *,
           dt: float = 1e-4, strict: bool = False) -> tuple[Any, list[str]]:
    """Export a compiled model (or an IR plus its weights) as ``(nir.NIRGraph, report lines)``.

    ``model``: a module made by ``snndsl.compile_*`` (its ``snn_ir`` and ``state_dict()``
    are used; ``state_dict`` overrides the weights) or a final IR from
    ``snndsl.compiler.lower`` (with ``state_dict``; freshly initialised weights without).
    ``strict``: raise :class:`NirError` at the first node NIR cannot express instead of
    listing it in the report.
    """
    if isinstance(model, IR):
        ir = model
        if state_dict is None:
            from ..codegen.emit import emit_module
            from ..compiler import load_class

            state_dict = load_class(emit_module(ir))().state_dict()
    else:
        ir = getattr(model, "snn_ir", None)
        if not isinstance(ir, IR):
            raise UsageError("to_nir needs a model compiled by snndsl (or its IR)")
        if state_dict is not None:
            _fit(model, state_dict, "the weights")
        state_dict = model.state_dict()
    return export_ir(ir, state_dict, dt=dt, strict=strict)


def export_source(text: str, filename: str = "<string>", model: str | None = None,
                  params: Mapping[str, object] | None = None,
                  weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
                  dt: float = 1e-4, strict: bool = False,
                  allow_imports: Iterable[str] = ()) -> tuple[Any, list[str]]:
    """Compile ``.snn`` text, load ``weights`` (strictly) and export it: ``(graph, report)``."""
    from ..compiler import compile_source

    net = compile_source(text, filename, model, params, allow_imports=allow_imports)
    if weights is not None:
        where = os.fspath(weights) if not isinstance(weights, Mapping) else "the weights"
        _fit(net, load_weights(weights), f"the weights in {where}")
    try:
        return to_nir(net, dt=dt, strict=strict)
    except SnnError as e:
        raise e.with_source(text) from None


def export_file(text: str, filename: str, out_path: str | os.PathLike, model: str | None = None,
                params: Mapping[str, object] | None = None,
                weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
                dt: float = 1e-4, strict: bool = False, allow_imports: Iterable[str] = ()) -> list[str]:
    """``snndsl export``: write the NIR graph of the model to ``out_path`` (atomically);
    returns the loss-report lines."""
    graph, report = export_source(text, filename, model, params, weights, dt, strict, allow_imports)
    buf = io.BytesIO()
    nir_module().write(buf, graph)
    try:
        write_atomic(out_path, buf.getvalue())
    except OSError as e:
        raise UsageError(f"cannot write {os.fspath(out_path)}: {e.strerror or e}") from None
    return report


def read_nir(path: str | os.PathLike) -> Any:
    """``nir.read``, retried without type checking for older or partial graphs."""
    nir = nir_module()
    p = os.fspath(path)
    try:
        return nir.read(p)
    except OSError as e:
        raise UsageError(f"cannot read NIR file {p}: {e}") from None
    except (ValueError, KeyError, AssertionError, TypeError, NotImplementedError):
        try:
            return nir.read(p, type_check=False)
        except Exception as e:  # noqa: BLE001 - any failure of a foreign file is the file's fault
            raise NirError(f"not a readable NIR graph: {e}", nir_span(p)) from None


def from_nir(graph: Any, dt: float = 1e-4, model: str | None = None,
             report: list[str] | None = None) -> tuple[str, dict[str, torch.Tensor]]:
    """``(.snn source, state_dict)`` for a ``nir.NIRGraph`` or the path of a NIR file.

    The state_dict's keys are the module paths of the new source, so
    ``snndsl.compile_source(source).load_state_dict(state_dict, strict=True)`` works.
    Notes about the conversion are appended to ``report`` when given (they are also
    comments at the top of the source).
    """
    result = import_nir(graph, dt=dt, model=model)
    if report is not None:
        report.extend(result.report)
    return result.source, result.state_dict


def import_nir(graph: Any, dt: float = 1e-4, model: str | None = None) -> ImportResult:
    """Like :func:`from_nir`, returning an :class:`ImportResult` (source, state_dict, report)."""
    origin = None
    if isinstance(graph, (str, os.PathLike)):
        origin = os.fspath(graph)
        graph = read_nir(graph)
    result = import_graph(graph, dt=dt, model=model, origin=origin)
    _validate(result, origin)
    return result


def _validate(result: ImportResult, origin: str | None) -> None:
    from ..compiler import lower

    try:
        lower(result.source, "<imported>")
    except SnnError as e:
        raise NirError(f"the NIR graph does not make a consistent model: {e.message}",
                       nir_span(origin), e.hint) from None


def model_name(path: str | os.PathLike) -> str:
    """``my-net.snn`` → ``MyNet``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", Path(path).stem) if p]
    return sanitize("".join(p[:1].upper() + p[1:] for p in parts) or "Imported")


def import_file(nir_path: str | os.PathLike, out_snn_path: str | os.PathLike, dt: float = 1e-4,
                model: str | None = None) -> list[str]:
    """``snndsl import``: write ``OUT.snn`` and its weights ``OUT.pt``; returns both paths."""
    result = import_nir(nir_path, dt=dt, model=model or model_name(out_snn_path))
    out = os.fspath(out_snn_path)
    pt = os.path.splitext(out)[0] + ".pt"
    buf = io.BytesIO()
    torch.save(result.state_dict, buf)
    try:
        write_atomic_group({pt: buf.getvalue(), out: result.source})
    except OSError as e:
        raise UsageError(f"cannot write {out} and {pt}: {e.strerror or e}") from None
    return [out, pt]
