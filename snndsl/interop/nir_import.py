"""``nir.NIRGraph`` → ``.snn`` source and a ``state_dict`` keyed by its module paths.

Nested graphs are inlined (their inner Input/Output nodes pass values through); fan-in
becomes ``add(...)``. Every NIR node name becomes a label via :func:`sanitize`, made
unique in the graph's node order. Runs of single-use nodes are written as one chain.
The per-node conversion is :mod:`snndsl.interop.nir_import_ops`.

Cycles: a depth-first walk from the inputs (successors in node order) finds the edges
that close a cycle; each such edge ``u -> v`` becomes ``prev(u)`` among ``v``'s inputs,
i.e. the value crosses that edge one step late, as nirtorch (and so Norse) runs a NIR
cycle: before the first step nothing has crossed it::

    fc1 -> lif -> rec -> lif        lif = add(fc1, prev(rec)) -> lif: CubaLIF(...)
                                    rec = lif -> rec: Linear(38, 38)
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import torch

from .._version import __version__
from ._common import Namer, call_text, clean, close, closing_edges
from .nir_import_ops import (
    NO_SNN,
    SUPPORTED,
    SUPPORTED_TEXT,
    FieldError,
    OpConverter,
    shape_value,
    text_value,
)

#: how deeply NIR subgraphs may nest (each level is inlined)
MAX_DEPTH = 64

FIRE_NOTE = ("NIR neurons fire on v > v_threshold, snndsl neurons on v >= v_threshold "
             "(outputs differ only where v equals the threshold exactly)")
CYCLE_NOTE = ("NIR cycles run with one step of delay on the edge that closes them (as nirtorch and "
              "Norse run them), written prev(...): {}")
#: the step assumed when none is given and the graph does not fix one (the NIR paper's)
DEFAULT_DT = 1e-4


@dataclass
class ImportResult:
    """What :func:`import_graph` makes: ``.snn`` source, its weights, and the notes."""

    source: str
    state_dict: dict[str, torch.Tensor]
    report: list[str] = field(default_factory=list)


class _Importer(OpConverter):
    def __init__(self, graph: Any, dt: float | None, origin: str | None, soft_reset: bool = False,
                 file_dt: float = math.nan):
        super().__init__(DEFAULT_DT if dt is None else dt, origin, soft_reset)
        self.nodes: dict[str, tuple[str, Any]] = {}
        self.edges: list[tuple[str, str]] = []
        self.flatten(graph, "", top=True)
        if dt is None:
            self.dt = self.own_dt(file_dt)

    def own_dt(self, file_dt: float) -> float:
        """The step when none is given: the file's own (snndsl export), else one input per
        step for graphs whose only neurons are IF (``dt = 1/r``, as Sinabs, Norse and snnTorch
        read them), else :data:`DEFAULT_DT`."""
        if math.isfinite(file_dt) and file_dt > 0:
            return file_dt
        nir = self.nir
        ops_ = [n for role, n in self.nodes.values() if role == "op"]
        timed = (nir.LIF, nir.LI, nir.CubaLIF, nir.CubaLI, nir.Delay, nir.I)
        ifs = [n for n in ops_ if isinstance(n, nir.IF)]
        if ifs and not any(isinstance(n, timed) for n in ops_):
            try:
                rs = np.concatenate([np.asarray(n.r, dtype=np.float64).ravel() for n in ifs])
            except (TypeError, ValueError):
                rs = np.zeros(0)
            if rs.size and np.all(np.isfinite(rs)) and rs[0] > 0 and np.allclose(rs, rs[0], rtol=1e-6):
                dt = clean(1.0 / rs[0])
                self.notes.append(f"dt not given: {dt:g} s (= 1/r), one input per step for a graph "
                                  "of IF neurons, as Sinabs, Norse and snnTorch read it")
                return dt
        self.notes.append(f"dt not given: {DEFAULT_DT:g} s assumed (the NIR paper's step)")
        return DEFAULT_DT

    # -- nested graphs -------------------------------------------------------------
    def parts(self, g: Any, prefix: str) -> tuple[dict, list[tuple[str, str]]]:
        """The nodes and edges of graph ``g``, checked to be a mapping and name pairs."""
        nodes, edges = getattr(g, "nodes", None), getattr(g, "edges", None)
        where = f"NIR subgraph '{prefix[:-1]}'" if prefix else "the NIR graph"
        if not isinstance(nodes, Mapping) or not all(isinstance(k, str) for k in nodes):
            raise self.error(f"{where} has no mapping of node names to nodes")
        try:
            pairs = [(a, b) for a, b in (edges if edges is not None else ())]
        except (TypeError, ValueError):
            raise self.error(f"{where}: its edges are not pairs of node names") from None
        texts = [(text_value(a), text_value(b)) for a, b in pairs]
        named = [(a, b) for a, b in texts if a is not None and b is not None]
        if len(named) < len(texts):
            raise self.error(f"{where}: its edges are not pairs of node names")
        return dict(nodes), named

    def flatten(self, g: Any, prefix: str, top: bool, depth: int = 0) -> None:
        nir = self.nir
        if depth > MAX_DEPTH:
            raise self.error(f"NIR subgraphs are nested more than {MAX_DEPTH} deep (at '{_safe(prefix[:-1])[:200]}')",
                             "flatten the subgraphs of the NIR graph")
        nodes, edges = self.parts(g, prefix)
        for name, n in nodes.items():
            full = prefix + str(name)
            if isinstance(n, nir.NIRGraph):
                self.flatten(n, full + ".", top=False, depth=depth + 1)
            elif isinstance(n, nir.Input):
                self.nodes[full] = ("in" if top else "pass", n)
            elif isinstance(n, nir.Output):
                self.nodes[full] = ("out" if top else "pass", n)
            else:
                self.nodes[full] = ("op", n)
        for src, dst in edges:
            self.edges.append((self.port(g, prefix, src, True), self.port(g, prefix, dst, False)))

    def port(self, g: Any, prefix: str, name: str, as_src: bool) -> str:
        nir = self.nir
        for _ in range(MAX_DEPTH + 2):  # a dotted name descends into subgraphs
            nodes = g.nodes
            node = nodes.get(name)
            if node is None and "." in name:
                head, tail = name.split(".", 1)
                sub = nodes.get(head)
                if isinstance(sub, nir.NIRGraph):
                    g, prefix, name = sub, f"{prefix}{head}.", tail
                    continue
            if node is None:
                raise self.error(f"NIR edge names a node '{_safe(prefix + name)[:200]}' that the graph "
                                 "does not have")
            if isinstance(node, nir.NIRGraph):
                want = nir.Output if as_src else nir.Input
                ports = [k for k, v in node.nodes.items() if isinstance(v, want)]
                if len(ports) != 1:
                    raise self.error(f"NIR subgraph '{_safe(prefix + name)}' has {len(ports)} "
                                     f"{'outputs' if as_src else 'inputs'}; name the port ('{_safe(name)}.PORT')")
                return f"{prefix}{name}.{ports[0]}"
            return prefix + name
        raise self.error(f"NIR edge '{_safe(name)[:200]}' is nested too deeply")

    # -- cycles --------------------------------------------------------------------
    def back_edges(self, g: nx.DiGraph) -> list[tuple[str, str]]:
        """The edges that close a cycle in a depth-first walk from the inputs (then from the
        other nodes without inputs): :func:`closing_edges`. A cycle that no such node reaches
        feeds on itself alone: an error."""
        succ = {k: list(g.successors(k)) for k in self.nodes}
        back, seen = closing_edges(succ, [k for k, (role, _) in self.nodes.items() if role == "in"])
        more, seen = closing_edges(succ, [k for k in self.nodes if not g.in_degree(k)], seen)
        lost = [k for k in self.nodes if k not in seen]
        if lost:
            raise self.error(f"NIR node '{_safe(lost[0])[:200]}' is on a cycle that no Input reaches",
                             "connect the cycle to an Input node, or remove it")
        return back + more

    def values(self, order: list[str], preds: dict[str, list[str]], names: dict[str, str],
               back: list[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """For each edge ``(p, k)``: the ``.snn`` values it carries, ``prev(NAME)`` on an edge
        that closes a cycle. A node names its own value; Input/Output nodes inside a graph
        pass on the values that reach them."""
        cut = set(back)
        own: dict[str, list[tuple[str, bool]]] = {  # node -> its values (name, late?)
            k: [(names[k], False)] if self.nodes[k][0] in ("in", "op") else [] for k in order}
        passing = [k for k in order if self.nodes[k][0] not in ("in", "op")]
        for _ in range(len(back) + 2):  # an edge that closes a cycle starts after its end
            changed = False
            for k in passing:
                new = [(v, late or (p, k) in cut) for p in preds[k] for v, late in own[p]]
                if new != own[k]:
                    own[k], changed = new, True
            if not changed:
                break
        else:
            raise self.error("the NIR graph has a cycle through Input/Output nodes of subgraphs only "
                             "(a value that feeds itself without a node in between)")
        out: dict[tuple[str, str], list[str]] = {}
        for k in order:
            for p in preds[k]:
                vs = own[p]
                if (p, k) in cut:
                    if any(late for _, late in vs):
                        raise self.error(f"the NIR cycle through '{_safe(k)[:200]}' closes twice "
                                         "without a node in between",
                                         "put a node on the cycle between its two closing edges")
                    out[(p, k)] = [f"prev({v})" for v, _ in vs]
                else:
                    out[(p, k)] = [f"prev({v})" if late else v for v, late in vs]
        return out

    # -- the model -----------------------------------------------------------------
    def run(self, model: str) -> ImportResult:
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes)
        preds: dict[str, list[str]] = {k: [] for k in self.nodes}
        for s, d in self.edges:
            g.add_edge(s, d)
            preds[d].append(s)
        for k, (role, _) in self.nodes.items():
            if role == "in" and preds[k]:
                raise self.error(f"NIR input '{_safe(k)[:200]}' has an incoming edge (from "
                                 f"'{_safe(preds[k][0])[:200]}')")
        back = self.back_edges(g)
        g.remove_edges_from(back)
        cut = set(back)
        for k, ps in preds.items():  # the late values last: add(fc, prev(rec)) reads as it runs
            if any((p, k) in cut for p in ps):
                preds[k] = [p for p in ps if (p, k) not in cut] + [p for p in ps if (p, k) in cut]
        unsupported = [(k, _safe(type(n).__name__)[:80]) for k, (role, n) in self.nodes.items()
                       if role == "op" and type(n).__name__ not in SUPPORTED]
        if unsupported:
            bad = [f"'{_safe(k)[:200]}' ({c})" for k, c in unsupported[:20]]
            if len(unsupported) > 20:
                bad.append(f"{len(unsupported) - 20} more")
            kinds = sorted({c for _, c in unsupported})[:20]
            raise self.error(f"cannot import {', '.join(bad)}: " +
                             "; ".join(f"{k} is {NO_SNN.get(k, 'not supported')}" for k in kinds),
                             f"snndsl imports {SUPPORTED_TEXT}")
        namer = Namer()
        names = {k: namer(k) for k, (role, _) in self.nodes.items() if role in ("in", "op")}
        index = {k: i for i, k in enumerate(self.nodes)}
        order = list(nx.lexicographical_topological_sort(g, key=index.__getitem__))
        vals = self.values(order, preds, names, back)
        uses: dict[str, int] = {}
        for k in order:
            if self.nodes[k][0] in ("op", "out"):
                for v in (v for p in preds[k] for v in vals[(p, k)]):
                    uses[v] = uses.get(v, 0) + 1
                    if v.startswith("prev("):  # its source must be a bound name, not mid-chain
                        uses[v[5:-1]] = uses.get(v[5:-1], 0) + 1
        inputs, stmts, returns, state = [], [], [], {}
        ends: dict[str, list[str]] = {}  # value name -> its chain (while that chain is open)
        needs = [(i, Counter(srcs)) for i, k in enumerate(order) if self.nodes[k][0] in ("op", "out")
                 and len(srcs := [v for p in preds[k] for v in vals[(p, k)]]) > 1]
        sums: list[tuple[str, Counter]] = []

        def total(i: int, srcs: list[str]) -> str:
            """One value for the sum of ``srcs``: reuse and name sums needed again later."""
            if len(srcs) == 1:
                return srcs[0]
            want = Counter(srcs)
            for name, have in sums:
                if have == want:
                    return name
            parts = list(srcs)
            best = max((s for s in sums if _within(s[1], want)), key=lambda s: sum(s[1].values()),
                       default=None)
            if best is not None:
                left, parts = Counter(best[1]), []
                for v in srcs:
                    if left[v] > 0:
                        left[v] -= 1
                    else:
                        parts.append(v)
                parts.append(best[0])
            expr = f"add({', '.join(parts)})"
            if any(j > i and _within(want, later) for j, later in needs):
                name = namer("sum")
                stmts.append([name, expr])
                sums.append((name, want))
                return name
            return expr

        for i, k in enumerate(order):
            role, n = self.nodes[k]
            srcs = [v for p in preds[k] for v in vals[(p, k)]]
            if role == "in":
                types = getattr(n, "input_type", None)
                try:
                    shape = list(shape_value(types.get("input") if isinstance(types, dict) else None,
                                             "shape"))
                except FieldError as e:
                    raise self.error(f"NIR input '{_safe(k)}' has no usable shape: {e}") from None
                if not uses.get(names[k]):
                    raise self.error(f"NIR input '{k}' feeds nothing")
                static = " static" if _flag(_meta(n, "snndsl_static")) else ""
                inputs.append(f"input {names[k]}: [{', '.join(map(str, shape))}]{static}")
            elif role == "out":
                if not srcs:
                    raise self.error(f"NIR output '{k}' has no incoming edge")
                returns.append(total(i, srcs))
            elif role == "op":
                if not srcs:
                    raise self.error(f"NIR node '{k}' has no input", "add an Input node in front of it")
                op = self.convert(k, n)
                label = names[k]
                for suffix, arr in op.tensors.items():
                    a = np.asarray(arr, dtype=np.float32)
                    if not (a.flags.writeable and a.flags.c_contiguous):
                        a = np.array(a, order="C")
                    state[f"{label}.{suffix}"] = torch.from_numpy(a)
                stage = f"{label}: {call_text(op.kind, op.values, op.positional, op.keep)}"
                if op.gain is not None:
                    stage = f"{call_text('Scale', {'factor': op.gain}, 1)} -> {stage}"
                chain = ends.pop(srcs[0], None) if len(srcs) == 1 and uses.get(srcs[0]) == 1 else None
                if chain is None:
                    chain = ["", total(i, srcs)]
                    stmts.append(chain)
                chain.append(stage)
                chain[0] = label
                ends[label] = chain
        if not returns:
            raise self.error("the NIR graph has no Output node")
        if any(self.nodes[k][0] == "op" and isinstance(self.nodes[k][1], (self.nir.IF, self.nir.LIF,
                                                                           self.nir.CubaLIF))
               for k in self.nodes):
            self.notes.append(FIRE_NOTE)
        if back:
            shown = [f"{_safe(u)[:100]} -> {_safe(v)[:100]}" for u, v in back[:12]]
            self.notes.append(CYCLE_NOTE.format(", ".join(shown) + (" ..." if len(back) > 12 else "")))
        body = [*inputs]
        for value, start, *stages in stmts:
            body.append(f"{value} = {start}" + "".join(
                (" -> " if j == 0 else "\n        -> ") + st for j, st in enumerate(stages)))
        body.append("return " + ", ".join(returns))
        where = f" from {_safe(os.path.basename(self.origin))}" if self.origin else ""
        head = [f"# Imported{where} by snndsl {__version__} (NIR, dt = {self.dt:g} s).",
                "# The weights are in the .pt file beside this one, keyed by these labels."]
        head += [f"# note: {_safe(line)}" for line in self.notes]
        text = "\n".join(head) + f"\nmodel {model}() {{\n" + \
            "\n".join("    " + line for line in body) + "\n}\n"
        return ImportResult(text, state, list(self.notes))



def _within(a: Counter, b: Counter) -> bool:
    """Is multiset ``a`` contained in ``b``?"""
    return all(b[k] >= c for k, c in a.items())


def _meta(n: Any, key: str) -> Any:
    m = getattr(n, "metadata", None)
    return m.get(key) if isinstance(m, dict) else None


def _flag(v: Any) -> bool:
    """A metadata flag: one number or boolean (anything else is not set)."""
    try:
        return v is not None and bool(np.asarray(v, dtype=np.float64).reshape(()))
    except (TypeError, ValueError, OverflowError):
        return False


def _safe(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def import_graph(graph: Any, dt: float | None = DEFAULT_DT, model: str | None = None,
                 origin: str | None = None, soft_reset: bool = False) -> ImportResult:
    """Convert a ``nir.NIRGraph`` into ``.snn`` source and a ``state_dict``.

    ``dt``: the step in seconds; ``None`` takes the file's own (snndsl's export), else
    ``1/r`` for a graph of IF neurons only (one input per step), else :data:`DEFAULT_DT`.
    ``soft_reset``: spiking neurons reset by subtraction (``v_reset=none``); NIR has no
    field for it (the NIR paper's ``*_subtract`` graphs are meant to be run so).
    """
    meta = graph.metadata if isinstance(getattr(graph, "metadata", None), dict) else {}
    try:
        file_dt = float(np.asarray(meta.get("snndsl_dt"), dtype=np.float64).reshape(()))
    except (TypeError, ValueError, OverflowError):
        file_dt = math.nan  # absent or not one number: not noted
    imp = _Importer(graph, dt, origin, soft_reset, file_dt)
    if model is None:
        raw = text_value(meta.get("snndsl_model"))
        model = raw[:100] if raw else "Imported"
    model = Namer()(model)
    if math.isfinite(file_dt) and not close(file_dt, imp.dt):
        imp.notes.append(f"the file was exported with dt = {float(file_dt):g} s; imported with "
                         f"dt = {imp.dt:g} s")
    return imp.run(model)
