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
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..diagnostics import SnnError, SourceSpan, UsageError
from ..fileio import write_atomic, write_atomic_group
from ..ir.graph import IR
from ..weights import fit_state_dict, read_state_dict
from ._common import NirError, nir_module, nir_span, sanitize
from .nir_export import export_ir
from .nir_import import MAX_DEPTH, ImportResult, import_graph
from .nir_import_ops import (
    MAX_RANK,
    FieldError,
    int_tuple,
    int_value,
    pad_value,
    real_array,
    shape_value,
    text_value,
)

__all__ = ["to_nir", "from_nir", "export_source", "export_file", "import_file", "read_nir",
           "load_weights", "ImportResult", "NirError"]


def load_weights(weights: str | os.PathLike | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state_dict from a mapping or a ``.pt`` file (:func:`snndsl.weights.read_state_dict`)."""
    return read_state_dict(weights)


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
        compiled = getattr(model, "snn_ir", None)
        if not isinstance(compiled, IR):
            raise UsageError("to_nir needs a model compiled by snndsl (or its IR)")
        ir = compiled
        notes = fit_state_dict(model, state_dict, "the weights") if state_dict is not None else []
        graph, report = export_ir(ir, model.state_dict(), dt=dt, strict=strict)
        return graph, notes + report
    return export_ir(ir, state_dict, dt=dt, strict=strict)


def export_source(text: str, filename: str = "<string>", model: str | None = None,
                  params: Mapping[str, object] | None = None,
                  weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
                  dt: float = 1e-4, strict: bool = False,
                  allow_imports: Iterable[str] = ()) -> tuple[Any, list[str]]:
    """Compile ``.snn`` text, load ``weights`` (strictly) and export it: ``(graph, report)``."""
    from ..compiler import compile_source

    net = compile_source(text, filename, model, params, allow_imports=allow_imports)
    notes = []
    if weights is not None:
        where = os.fspath(weights) if not isinstance(weights, Mapping) else "the weights"
        notes = fit_state_dict(net, read_state_dict(weights, net), f"the weights in {where}")
    try:
        graph, report = to_nir(net, dt=dt, strict=strict)
    except SnnError as e:
        raise e.with_source(text) from None
    return graph, notes + report


def export_file(text: str, filename: str, out_path: str | os.PathLike, model: str | None = None,
                params: Mapping[str, object] | None = None,
                weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
                dt: float = 1e-4, strict: bool = False, allow_imports: Iterable[str] = ()) -> list[str]:
    """``snndsl export``: write the NIR graph of the model to ``out_path`` (atomically);
    returns the loss-report lines."""
    out = os.fspath(out_path)
    for path, what in ((filename, "input"), (weights, "weights file")):
        if isinstance(path, (str, os.PathLike)) and _same_file(out, os.fspath(path)):
            raise UsageError(f"the NIR output {out} is the {what}; choose another output name")
    graph, report = export_source(text, filename, model, params, weights, dt, strict, allow_imports)
    buf = io.BytesIO()
    nir_module().write(buf, graph)
    try:
        write_atomic(out_path, buf.getvalue())
    except OSError as e:
        raise UsageError(f"cannot write {os.fspath(out_path)}: {e.strerror or e}") from None
    return report


def read_nir(path: str | os.PathLike) -> Any:
    """A ``nir.NIRGraph`` read from a NIR (HDF5) file, checked before its data are read.

    Every field is checked against the type NIR declares for it (numbers, integers,
    strings, groups) and every array's declared size against the memory this process
    may use, before the array is read; subgraphs nest at most ``MAX_DEPTH`` deep and
    only hard links are followed. Of the metadata only snndsl's own keys are read.
    A file that fails a check is a :class:`NirError` that names the HDF5 object.
    """
    nir = nir_module()
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read NIR file {p}: {getattr(e, 'strerror', None) or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"cannot read NIR file {p}: not a regular file")
    try:
        with open(p, "rb"):
            pass
    except OSError as e:
        raise UsageError(f"cannot read NIR file {p}: {e.strerror or e}") from None
    import h5py

    try:
        f = h5py.File(p, "r")
    except Exception as e:  # noqa: BLE001 - not HDF5, truncated, unsupported: the file's fault
        raise located(p, "/", f"not a readable NIR (HDF5) file: {_short(e)}") from None
    try:
        with f:
            return _H5Reader(p, nir, h5py).graph(f)
    except RecursionError:
        raise located(p, "/node", "the NIR file is nested too deeply") from None
    except MemoryError:
        raise located(p, "/node", "not enough memory to read the NIR file") from None


def located(path: str | None, where: str, msg: str, hint: str | None = None) -> NirError:
    """A :class:`NirError` at ``path`` whose shown line is the HDF5 object ``where``."""
    e = NirError(msg, SourceSpan(path or "<nir>", 1, 1, 1, len(where) + 1), hint)
    e.source = where
    return e


def _short(e: BaseException) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(e))
    return text[:300] or type(e).__name__


def memory_budget() -> int:
    """Bytes of NIR array data one import may read: a quarter of the available memory
    (an import holds a few copies of the weights), at most ``MAX_DATA_BYTES``."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        from ..limits import available_memory

        avail = available_memory()
    return max(0, min(avail // 4, MAX_DATA_BYTES))


#: the most bytes of array data read from one NIR file, whatever the memory
MAX_DATA_BYTES = 16 * 2**30
#: the most nodes (all subgraphs together) and edges (per graph) read from one NIR file
MAX_NODES = 100_000
MAX_EDGES = 1_000_000
#: the metadata keys read (the others are never read)
META_KEYS = ("snndsl", "snndsl_static", "snndsl_model", "snndsl_dt")
_META_BYTES = 1 << 16

# the fields of each NIR node type: name -> (kind, required); kinds: "array" (real
# numbers), "ints" (short integer tuple), "int", "pad" (ints or 'same'/'valid'), "shape"
_A, _I, _N, _P, _S = "array", "ints", "int", "pad", "shape"
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "Affine": {"weight": (_A, True), "bias": (_A, True)},
    "Linear": {"weight": (_A, True)},
    "Conv1d": {"weight": (_A, True), "bias": (_A, True), "stride": (_I, True), "padding": (_P, True),
               "dilation": (_I, True), "groups": (_N, True), "input_shape": (_S, False)},
    "AvgPool2d": {"kernel_size": (_I, True), "stride": (_I, True), "padding": (_I, True)},
    "Flatten": {"start_dim": (_N, True), "end_dim": (_N, True), "input_type": (_S, False)},
    "IF": {"r": (_A, True), "v_threshold": (_A, True), "v_reset": (_A, False)},
    "LIF": {"tau": (_A, True), "r": (_A, True), "v_leak": (_A, True), "v_threshold": (_A, True),
            "v_reset": (_A, False)},
    "Input": {"shape": (_S, True)},
    "Output": {"shape": (_S, True)},
    # no .snn equivalent: read (checked) so that the graph is complete, then refused by name
    "LI": {"tau": (_A, True), "r": (_A, True), "v_leak": (_A, True)},
    "I": {"r": (_A, True)},
    "CubaLI": {"tau_mem": (_A, True), "tau_syn": (_A, True), "r": (_A, True), "v_leak": (_A, True),
               "w_in": (_A, False)},
    "CubaLIF": {"tau_mem": (_A, True), "tau_syn": (_A, True), "r": (_A, True), "v_leak": (_A, True),
                "v_threshold": (_A, True), "v_reset": (_A, False), "w_in": (_A, False)},
    "Threshold": {"threshold": (_A, True)},
    "Scale": {"scale": (_A, True)},
    "Delay": {"delay": (_A, True)},
}
FIELDS["Conv2d"] = FIELDS["Conv1d"]
FIELDS["SumPool2d"] = FIELDS["AvgPool2d"]


class _H5Reader:
    """Walks an open NIR file; checks each object's kind, dtype and size before reading it."""

    def __init__(self, path: str, nir: Any, h5py: Any):
        self.path, self.nir, self.h5py = path, nir, h5py
        self.budget = memory_budget()
        self.nodes = 0

    def fail(self, where: str, msg: str, hint: str | None = None) -> NirError:
        return located(self.path, _short_path(where), msg, hint)

    def child(self, group: Any, key: str, where: str) -> Any:
        """``group[key]`` if it is a hard link (a soft or external link is refused)."""
        link = group.get(key, getlink=True)
        if link is None:
            return None
        if not isinstance(link, self.h5py.HardLink):
            raise self.fail(where, f"{type(link).__name__} in a NIR file (only plain objects are read)")
        return group[key]

    def dataset(self, obj: Any, where: str, what: str) -> Any:
        if not isinstance(obj, self.h5py.Dataset):
            raise self.fail(where, f"{what} is a group, not a value")
        if obj.shape is None:
            raise self.fail(where, f"{what} is empty (an HDF5 null dataspace)")
        if len(obj.shape) > MAX_RANK:
            raise self.fail(where, f"{what} has {len(obj.shape)} dimensions")
        return obj

    def read(self, d: Any, where: str, what: str) -> Any:
        try:
            return d[()]
        except MemoryError:
            raise self.fail(where, f"not enough memory to read {what}") from None
        except Exception as e:  # noqa: BLE001 - a broken chunk, a missing filter
            raise self.fail(where, f"cannot read {what}: {_short(e)}") from None

    def text(self, d: Any, where: str, what: str, limit: int = 1) -> Any:
        """A string dataset of at most ``limit`` elements."""
        d = self.dataset(d, where, what)
        if self.h5py.check_string_dtype(d.dtype) is None and d.dtype.kind != "S":
            raise self.fail(where, f"{what} has dtype {d.dtype}, not a string")
        if d.size > limit or d.dtype.itemsize * d.size > _META_BYTES * max(1, limit):
            raise self.fail(where, f"{what} is too large ({d.size:,} strings)")
        return self.read(d, where, what)

    def value(self, d: Any, kind: str, where: str, what: str) -> Any:
        d = self.dataset(d, where, what)
        dk = d.dtype.kind
        if kind == _P and (self.h5py.check_string_dtype(d.dtype) is not None or dk == "S"):
            return self.text(d, where, what)
        if dk == "c" or (dk == "V" and d.dtype.names and len(d.dtype.names) == 2
                         and set(d.dtype.names) <= {"r", "i", "real", "imag"}):
            raise self.fail(where, f"{what} holds complex numbers; NIR parameters are real")
        if dk not in "fiub":
            shown = "strings" if dk in "OSU" else f"dtype {d.dtype}"
            raise self.fail(where, f"{what} holds {shown}, not numbers")
        if kind != _A and d.size > MAX_RANK:
            raise self.fail(where, f"{what} has {d.size:,} entries; NIR declares a few integers")
        nbytes = math.prod(d.shape) * d.dtype.itemsize
        if nbytes > self.budget:
            raise self.fail(where, f"{what} declares {_bytes(nbytes)} of data "
                            f"(shape {list(d.shape)}), more than this import may read "
                            f"({_bytes(self.budget)} left of the memory available)",
                            "a graph this large cannot be imported on this machine")
        self.budget -= nbytes
        return self.read(d, where, what)

    def metadata(self, group: Any, where: str) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        m = self.child(group, "metadata", where + "/metadata") if "metadata" in group else None
        if not isinstance(m, self.h5py.Group):
            return meta
        for key in META_KEYS:
            if key not in m:
                continue
            d = self.child(m, key, f"{where}/metadata/{key}")
            if not isinstance(d, self.h5py.Dataset) or d.shape is None or d.size != 1 \
                    or d.dtype.itemsize > _META_BYTES or d.dtype.kind not in "fiubOS":
                continue  # a hint that is not one short value is ignored
            if d.dtype.kind == "O" and self.h5py.check_string_dtype(d.dtype) is None:
                continue
            v = self.read(d, f"{where}/metadata/{key}", f"metadata '{key}'")
            if isinstance(v, np.ndarray):
                v = v.reshape(-1)[0]
            meta[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        return meta

    def graph(self, f: Any) -> Any:
        root = self.child(f, "node", "/node") if "node" in f else None
        if root is None:
            raise self.fail("/", "not a NIR file: it has no '/node' group")
        return self.node(root, "/node", 0)

    def node(self, group: Any, where: str, depth: int) -> Any:
        if not isinstance(group, self.h5py.Group):
            raise self.fail(where, "a NIR node is an HDF5 group; this is a dataset")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(where, f"the NIR file has more than {MAX_NODES:,} nodes")
        if "type" not in group:
            raise self.fail(where, "NIR node without a 'type'")
        t = self.text(self.child(group, "type", where + "/type"), where + "/type", "the node type")
        t = text_value(t)
        if t is None or not t.isidentifier() or len(t) > 64:
            raise self.fail(where + "/type", "the node type is not a name")
        meta = self.metadata(group, where)
        if t == "NIRGraph":
            return self.subgraph(group, where, depth, meta)
        fields = FIELDS.get(t)
        if fields is None:
            return _unknown(t, meta)
        values: dict[str, Any] = {}
        for fld, (kind, required) in fields.items():
            if fld not in group:
                if required:
                    raise self.fail(where, f"NIR {t} node without its field '{fld}'")
                continue
            at = f"{where}/{fld}"
            obj = self.child(group, fld, at)
            if fld == "input_type" and isinstance(obj, self.h5py.Group):  # {"input": shape}
                obj = self.child(obj, "input", at + "/input") if "input" in obj else None
                if obj is None:
                    continue
                at += "/input"
            raw = self.value(obj, kind, at, f"{t}.{fld}")
            values[fld] = self.check(raw, kind, t, fld, at)
        return self.make(t, values, meta, where)

    def check(self, raw: Any, kind: str, t: str, fld: str, where: str) -> Any:
        dims = 1 if t == "Conv1d" else 2
        try:
            if kind == _A:
                return real_array(raw, f"{t}.{fld}")
            if kind == _N:
                return int_value(raw, f"{t}.{fld}", 1 if fld == "groups" else -MAX_RANK - 1)
            if kind == _I:
                lo = 0 if fld == "padding" else 1
                return np.array(int_tuple(raw, f"{t}.{fld}", lo, (1, dims)))
            if kind == _P:
                v = pad_value(raw, f"{t}.{fld}", (1, dims))
                return v if isinstance(v, str) else np.array(v).reshape(-1)
            return np.array(shape_value(raw, f"{t}.{fld}"))
        except FieldError as e:
            raise self.fail(where, str(e)) from None

    def make(self, t: str, v: dict[str, Any], meta: dict[str, Any], where: str) -> Any:
        nir = self.nir
        try:
            if t in ("Input", "Output"):
                return getattr(nir, t)(v["shape"], metadata=meta)
            if t in ("Conv1d", "Conv2d"):
                v["input_shape"] = None  # the importer infers shapes itself
                return getattr(nir, t)(**v, metadata=meta)
            if t == "Flatten":
                return nir.Flatten({"input": None}, start_dim=v["start_dim"], end_dim=v["end_dim"],
                                   metadata=meta)
            if t in ("IF", "LIF", "CubaLIF") and "v_reset" not in v:
                v["v_reset"] = np.zeros_like(v["v_threshold"])
            if t in ("CubaLI", "CubaLIF") and "w_in" not in v:
                v["w_in"] = np.ones_like(v["r"])
            node = getattr(nir, t)(**v)
        except Exception as e:  # noqa: BLE001 - values NIR's own constructor refuses
            raise self.fail(where, f"NIR {t} node with inconsistent fields: {_short(e)}") from None
        node.metadata = meta
        return node

    def subgraph(self, group: Any, where: str, depth: int, meta: dict[str, Any]) -> Any:
        if depth >= MAX_DEPTH:
            raise self.fail(where, f"NIR subgraphs are nested more than {MAX_DEPTH} deep",
                            "flatten the subgraphs of the NIR graph")
        if "nodes" not in group or "edges" not in group:
            raise self.fail(where, "NIR graph without 'nodes' and 'edges'")
        nodes_group = self.child(group, "nodes", where + "/nodes")
        if not isinstance(nodes_group, self.h5py.Group):
            raise self.fail(where + "/nodes", "the nodes of a NIR graph are a group; this is a dataset")
        if len(nodes_group) + self.nodes > MAX_NODES:
            raise self.fail(where + "/nodes", f"the NIR file has more than {MAX_NODES:,} nodes")
        nodes = {}
        for key in nodes_group:
            at = f"{where}/nodes/{key}"
            nodes[str(key)] = self.node(self.child(nodes_group, key, at), at, depth + 1)
        e = self.dataset(self.child(group, "edges", where + "/edges"), where + "/edges", "the edges")
        if e.size and (e.ndim != 2 or e.shape[1] != 2):
            raise self.fail(where + "/edges", f"the edges have shape {list(e.shape)}, not [n, 2]")
        if e.size > 2 * MAX_EDGES:
            raise self.fail(where + "/edges", f"more than {MAX_EDGES:,} edges")
        raw = self.text(e, where + "/edges", "the edges", limit=2 * MAX_EDGES) if e.size else []
        edges = []
        for pair in raw:
            a, b = text_value(pair[0]), text_value(pair[1])
            if a is None or b is None:
                raise self.fail(where + "/edges", "an edge is not a pair of node names")
            edges.append((a, b))
        try:
            return self.nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)
        except Exception as e:  # noqa: BLE001
            raise self.fail(where, f"NIR graph that NIR itself refuses: {_short(e)}") from None


_UNKNOWN: dict[str, type] = {}


def _unknown(t: str, meta: dict[str, Any]) -> Any:
    """A stand-in for a node type this reader does not know (the importer refuses it by name)."""
    cls = _UNKNOWN.setdefault(t, type(t, (), {}))
    node = cls()
    node.metadata = meta
    return node


def _short_path(where: str) -> str:
    return where if len(where) <= 200 else where[:90] + " ... " + where[-90:]


def _bytes(n: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def from_nir(graph: Any, dt: float | None = None, model: str | None = None,
             report: list[str] | None = None, soft_reset: bool = False) -> tuple[str, dict[str, torch.Tensor]]:
    """``(.snn source, state_dict)`` for a ``nir.NIRGraph`` or the path of a NIR file.

    The state_dict's keys are the module paths of the new source, so
    ``snndsl.compile_source(source).load_state_dict(state_dict, strict=True)`` works.
    Notes about the conversion are appended to ``report`` when given (they are also
    comments at the top of the source). ``dt`` (seconds per step): ``None`` takes the
    file's own (an snndsl export), ``1/r`` for a graph of IF neurons only (one input per
    step, as Sinabs writes them), else 1e-4. ``soft_reset``: the neurons reset by
    subtracting the threshold (NIR has no field for it; e.g. the NIR paper's
    ``*_subtract`` graphs).
    """
    result = import_nir(graph, dt=dt, model=model, soft_reset=soft_reset)
    if report is not None:
        report.extend(result.report)
    return result.source, result.state_dict


def import_nir(graph: Any, dt: float | None = None, model: str | None = None,
               soft_reset: bool = False) -> ImportResult:
    """Like :func:`from_nir`, returning an :class:`ImportResult` (source, state_dict, report).

    Whatever the graph holds, a failure is a :class:`NirError` (or a :class:`UsageError`
    for a file that cannot be opened); the result's weights are checked to fit its source.
    """
    origin = None
    if isinstance(graph, (str, os.PathLike)):
        origin = os.fspath(graph)
    try:
        if origin is not None:
            graph = read_nir(origin)
        result = import_graph(graph, dt=dt, model=model, origin=origin, soft_reset=soft_reset)
        _validate(result, origin)
    except NirError as e:
        if origin is not None and e.source is None and e.span.filename == origin:
            e.source = "/node"  # the located line of a binary file: the HDF5 object
        raise
    except (SnnError, UsageError):
        raise
    except RecursionError:
        raise located(origin, "/node", "the NIR graph is nested too deeply") from None
    except MemoryError:
        raise located(origin, "/node", "not enough memory to import the NIR graph") from None
    except Exception as e:  # noqa: BLE001 - whatever a foreign graph does, it is the graph's fault
        raise located(origin, "/node", f"cannot import the NIR graph ({type(e).__name__}: "
                      f"{_short(e)})") from None
    return result


def _validate(result: ImportResult, origin: str | None) -> None:
    """The source compiles, and the weights fit it exactly (names and shapes)."""
    from ..compiler import generate, load_class

    try:
        _, gen = generate(result.source, "<imported>")
    except SnnError as e:
        raise NirError(f"the NIR graph does not make a consistent model: {e.message}",
                       nir_span(origin), e.hint) from None
    with torch.device("meta"):  # shapes only: no memory for a second copy of the weights
        own = load_class(gen)().state_dict()
    missing = [k for k in own if k not in result.state_dict]
    unexpected = [k for k in result.state_dict if k not in own]
    wrong = [f"{k} {list(result.state_dict[k].shape)} for {list(own[k].shape)}" for k in own
             if k in result.state_dict and tuple(result.state_dict[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected),
                                     ("wrong shape", wrong)) if keys]
        raise NirError("the weights of the NIR graph do not fit the model it makes "
                       f"({'; '.join(parts)})", nir_span(origin),
                       "check the weight shapes against the layer sizes in the NIR file")


def model_name(path: str | os.PathLike) -> str:
    """``my-net.snn`` → ``MyNet``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", Path(path).stem) if p]
    return sanitize("".join(p[:1].upper() + p[1:] for p in parts) or "Imported")


def import_file(nir_path: str | os.PathLike, out_snn_path: str | os.PathLike, dt: float | None = None,
                model: str | None = None, soft_reset: bool = False,
                report: list[str] | None = None) -> list[str]:
    """``snndsl import``: write ``OUT.snn`` and its weights ``OUT.pt``; returns both paths.

    Nothing is written unless both files can be: the outputs are checked first (neither
    may be the input, nor each other, nor a directory), the graph is converted and its
    weights checked against its source, then both files are written to temporary files
    and renamed into place, the ``.snn`` first.
    """
    src, out = os.fspath(nir_path), os.fspath(out_snn_path)
    pt = os.path.splitext(out)[0] + ".pt"
    _check_outputs(src, out, pt)
    result = import_nir(src, dt=dt, model=model or model_name(out), soft_reset=soft_reset)
    if report is not None:
        report.extend(result.report)
    buf = io.BytesIO()
    torch.save(result.state_dict, buf)
    try:
        write_atomic_group({out: result.source, pt: buf.getvalue()})
    except OSError as e:
        raise UsageError(f"cannot write {out} and {pt}: {e.strerror or e}") from None
    return [out, pt]


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _check_outputs(src: str, out: str, pt: str) -> None:
    """Refuse outputs that would overwrite the input or each other, or cannot be files."""
    if _same_file(out, pt):
        raise UsageError(f"the output {out} would be overwritten by its own weights file {pt}; "
                         "name the output OUT.snn")
    for path, what in ((out, "output"), (pt, "weights file")):
        if _same_file(path, src):
            raise UsageError(f"the {what} {path} is the input file {src}; choose another output name")
        if os.path.lexists(path) and not os.path.isfile(path):
            raise UsageError(f"cannot write the {what} {path}: it exists and is not a regular file")
