"""Deterministic YAML form of the IR: ``dump_yaml(ir)`` and ``load_yaml(text)`` round-trip.

The schema is the project's own (not networkx's node-link format): a header with the
model's facts, then one mapping per node in source order, each with its op fields,
span, pass results and the producers of its arguments in argument order. Values keep
their types: tuples are YAML sequences, ``_`` is ``{infer: true}``, a surrogate is
``{surrogate: NAME, kwargs: {...}}``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

import yaml

from ..diagnostics import SnnPermissionError, SourceSpan, UsageError
from . import ops, registry
from .graph import IR, Node, Region, Scope
from .neuron_program import Code, Instr, NeuronProgram
from .ops import INFER, InferMarker


def _value(v: Any) -> Any:
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, NeuronProgram):
        return {"neuron_program": v.name,
                "instrs": [[i.code.value, list(i.args), i.value] for i in v.instrs],
                "states": {k: x for k, x in v.states}, "params": {k: x for k, x in v.params},
                "updates": {k: x for k, x in v.updates}, "output": v.output, "surrogate": _value(v.surrogate)}
    if isinstance(v, ops.Op):
        return _op(v)
    if isinstance(v, InferMarker):
        return {"infer": True}
    if isinstance(v, ops.SurrogateValue):
        return {"surrogate": v.name, "kwargs": {k: _value(x) for k, x in v.kwargs}}
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    return v


def _unvalue(v: Any) -> Any:
    if isinstance(v, dict):
        if v.get("infer") is True:
            return INFER
        if "neuron_program" in v:
            return NeuronProgram(v["neuron_program"],
                                 tuple(Instr(Code(c), tuple(a), x) for c, a, x in v["instrs"]),
                                 tuple(v["states"].items()), tuple(v["params"].items()),
                                 tuple(v["updates"].items()), v["output"], _unvalue(v["surrogate"]))
        if "class" in v:
            return _unop(v)
        return ops.SurrogateValue(v["surrogate"], tuple((k, _unvalue(x)) for k, x in v["kwargs"].items()))
    if isinstance(v, list):
        return tuple(_unvalue(x) for x in v)
    return v


def _span(s: SourceSpan) -> str:
    return f"{s.line}:{s.column}-{s.end_line}:{s.end_column}"


def _unspan(filename: str, text: str) -> SourceSpan:
    a, b = text.split("-")
    la, ca = a.split(":")
    lb, cb = b.split(":")
    return SourceSpan(filename, int(la), int(ca), int(lb), int(cb))


def _op(op: ops.Op) -> dict[str, Any]:
    out: dict[str, Any] = {"class": type(op).__name__}
    builtin = type(op) in ops.BUILTIN_LAYERS.values()
    for f in dataclasses.fields(op):
        v = getattr(op, f.name)
        if (f.name == "kind" and builtin) or (f.metadata.get("omit_default") and v == f.default):
            continue  # a built-in layer's kind is its class name
        if f.name == "kwargs":
            out["kwargs"] = {k: _value(x) for k, x in v}
        else:
            out[f.name] = _value(v)
    return out


def _unop(d: dict[str, Any]) -> ops.Op:
    cls = ops.OP_CLASSES[d["class"]]
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name == "kwargs":
            fields[f.name] = tuple((k, _unvalue(x)) for k, x in v.items())
        elif isinstance(f.type, str) and f.type in _ENUMS:
            fields[f.name] = _ENUMS[f.type](v)
        else:
            fields[f.name] = _unvalue(v)
    if cls in ops.BUILTIN_LAYERS.values():
        fields["kind"] = cls.__name__
    return cls(**fields)


#: enum-typed op fields, by their annotation
_ENUMS: dict[str, type[enum.Enum]] = {"MergeKind": ops.MergeKind, "Layout": ops.Layout}


def to_data(ir: IR) -> dict[str, Any]:
    nodes = []
    for n in ir.nodes():
        entry: dict[str, Any] = {"path": n.path, "op": _op(n.op), "span": _span(n.span)}
        ins = ir.inputs_of(n.path)
        if ins:
            entry["inputs"] = ins
        for f in ("shape", "stateful", "region", "container"):
            v = getattr(n, f)
            if v is not None:
                entry[f] = _value(v)
        if n.generated:
            entry["generated"] = True
        nodes.append(entry)
    data: dict[str, Any] = {
        "model": ir.model,
        "source": ir.filename,
        "passes": list(ir.passes),
        "params": {k: _value(v) for k, v in ir.params.items()},
    }
    if ir.options:
        data["options"] = {k: _value(v) for k, v in ir.options.items()}
    if ir.scopes:
        data["scopes"] = [
            {"path": s.path, "kind": s.kind.value, "name": s.name, "span": _span(s.span), **({"args": s.args} if s.args else {})}
            for s in ir.scopes.values()
        ]
    if ir.regions:
        data["regions"] = [
            {"name": r.name, "static": r.static,
             **({"layout": r.layout.value} if r.layout is not ops.Layout.CONTIGUOUS else {}),
             **({"recurrent": True} if r.recurrent else {})}
            for r in ir.regions.values()
        ]
    data["nodes"] = nodes
    return data


def dump_yaml(ir: IR) -> str:
    return yaml.safe_dump(to_data(ir), sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)


def load_yaml(text: str, allow_imports: Iterable[str] = ()) -> IR:
    """The IR that ``text`` (from :func:`dump_yaml`) describes.

    An IR is data, and gets the import gate of a `.snn` file: a ``UserModule`` node names
    a Python class that the generated module would import and call, so its package must
    be in ``allow_imports`` (raises :class:`SnnPermissionError` at the node otherwise)."""
    try:
        ir = _load(text)
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise UsageError(f"not an snndsl IR dump: {type(e).__name__}: {str(e)[:200]}") from None
    allowed = tuple(allow_imports)
    for n in ir.nodes():
        if isinstance(n.op, ops.UserModule) and not registry.import_allowed(n.op.path, allowed):
            top = n.op.path.split(".")[0]
            raise SnnPermissionError(
                f"the IR's node '{n.path}' imports Python code ({n.op.path}), which is not allowed",
                n.span, f"allow it with load_yaml(..., allow_imports={{'{top}'}}) if you trust the file")
    return ir


def _load(text: str) -> IR:
    d = yaml.safe_load(text)
    fn = d["source"]
    ir = IR(model=d["model"], filename=fn, params={k: _unvalue(v) for k, v in d["params"].items()})
    ir.passes = list(d["passes"])
    ir.options = {k: _unvalue(v) for k, v in d.get("options", {}).items()}
    for s in d.get("scopes", []):
        ir.scopes[s["path"]] = Scope(s["path"], ops.ScopeKind(s["kind"]), s["name"], _unspan(fn, s["span"]), s.get("args", ""))
    for r in d.get("regions", []):
        ir.regions[r["name"]] = Region(r["name"], r["static"], ops.Layout(r.get("layout", "contiguous")),
                                       bool(r.get("recurrent", False)))
    for e in d["nodes"]:
        shape = e.get("shape")
        ir.add(Node(e["path"], _unop(e["op"]), _unspan(fn, e["span"]),
                    tuple(shape) if shape is not None else None, e.get("stateful"), e.get("region"),
                    ops.Container(e["container"]) if "container" in e else None, e.get("generated", False)))
    for e in d["nodes"]:
        if e.get("inputs"):
            ir.connect_all(e["inputs"], e["path"])
    return ir
