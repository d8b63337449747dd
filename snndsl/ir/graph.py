"""The IR: a typed wrapper over a networkx ``DiGraph``.

Nodes are keyed by module path (``layer1.0.conv1``); inputs by ``input.NAME`` and
outputs by ``return.K`` (``input`` and ``return`` are keywords, so no label can clash).
Each node holds exactly one :class:`Node` record; each edge holds the argument
positions at which the source value enters the destination (a tuple, since
``add(x, x)`` feeds one value twice). Graph-level facts live in typed fields of
:class:`IR`. Nothing outside this module touches networkx attribute dicts.

Order is source order: networkx keeps insertion order, and topological order breaks
ties by it, so every iteration, dump and generated file is deterministic.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..diagnostics import SourceSpan
from . import ops

NODE = "node"
POS = "pos"


@dataclass(frozen=True, slots=True)
class Node:
    """One IR node: its op, where it came from, and what passes found out about it."""

    path: str
    op: ops.Op
    span: SourceSpan
    #: per-sample output shape (infer-shapes)
    shape: tuple[int, ...] | None = None
    #: does the node keep state across time steps (mark-state)
    stateful: bool | None = None
    #: name of the time-batched region it runs in (fuse-stateless)
    region: str | None = None
    #: how the node runs in multi-step mode (insert-containers)
    container: ops.Container | None = None
    #: the label was made by the compiler, not written by the user
    generated: bool = False

    def replace(self, **changes: Any) -> Node:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Scope:
    """A module path that is a container of layers: a block instance or a sequence.

    ``kind`` is ``BLOCK`` (``name`` is the block's name, ``args`` its evaluated
    arguments as text) or ``SEQUENCE`` (a group or a repeat: numbered children).
    """

    path: str
    kind: ops.ScopeKind
    name: str
    span: SourceSpan
    args: str = ""


#: a set of node paths (named here: inside ``IR``, ``set`` is a method)
Paths = set[str]


@dataclass(frozen=True, slots=True)
class Region:
    """A maximal connected set of stateless nodes run once on the ``[T*N, ...]`` batch.

    ``static``: the region depends only on ``static`` inputs and runs once on
    ``[N, ...]``, broadcast over T at its exit (hoist-static).
    ``layout``: the memory format its ``[*, C, H, W]`` values have (the channels-last pass
    converts its entries with :class:`~snndsl.ir.ops.ToLayout` nodes).
    ``recurrent``: a *recurrent region* instead (schedule-recurrence): the nodes on the
    cycles through one or more ``prev`` nodes, stateful ones included, run one time step
    at a time on ``[N, ...]``, reading ``[T, N, ...]`` values from outside at step ``t``
    and writing the values read outside into ``[T, N, ...]`` outputs.
    """

    name: str
    static: bool = False
    layout: ops.Layout = ops.Layout.CONTIGUOUS
    recurrent: bool = False


@dataclass
class IR:
    """A model's graph plus its graph-level facts."""

    model: str
    filename: str
    params: dict[str, ops.Value] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    regions: dict[str, Region] = field(default_factory=dict)
    #: passes that have run, in order
    passes: list[str] = field(default_factory=list)
    #: compile options that change code generation (e.g. "carry_state")
    options: dict[str, ops.Value] = field(default_factory=dict)
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    # -- construction -------------------------------------------------------------------
    def add(self, node: Node) -> None:
        if node.path in self.graph:
            raise KeyError(f"duplicate IR node {node.path!r}")
        self.graph.add_node(node.path, **{NODE: node})

    def connect(self, src: str, dst: str, pos: int) -> None:
        self._add_positions(src, dst, [pos])

    def connect_all(self, srcs: list[str], dst: str) -> None:
        """``dst`` reads ``srcs[i]`` at position ``i`` (one edge update per source, so a
        merge of 100,000 operands is built in linear time)."""
        positions: dict[str, list[int]] = {}
        for i, src in enumerate(srcs):
            positions.setdefault(src, []).append(i)
        for src, pos in positions.items():
            self._add_positions(src, dst, pos)

    def _add_positions(self, src: str, dst: str, pos: list[int]) -> None:
        if self.graph.has_edge(src, dst):
            data = self.graph.edges[src, dst]
            data[POS] = tuple(sorted((*data[POS], *pos)))
        else:
            self.graph.add_edge(src, dst, **{POS: tuple(sorted(pos))})

    def redirect(self, src: str, dst: str, new_src: str) -> None:
        """Feed ``dst`` from ``new_src`` at every argument position where it read ``src``."""
        pos = list(self.graph.edges[src, dst][POS])
        self.graph.remove_edge(src, dst)
        self._add_positions(new_src, dst, pos)

    def insert_after(self, src: str, node: Node, users: list[str] | None = None) -> Node:
        """Add ``node`` reading ``src`` and move ``users`` (default: all of ``src``'s) onto it."""
        self.add(node)
        for user in (self.users_of(src) if users is None else users):
            if user != node.path:
                self.redirect(src, user, node.path)
        self.connect(src, node.path, 0)
        return node

    def set(self, node: Node) -> None:
        """Replace the record of an existing node (same path)."""
        self.graph.nodes[node.path][NODE] = node

    def update(self, path: str, **changes: Any) -> None:
        self.set(self.node(path).replace(**changes))

    def remove(self, path: str) -> None:
        self.graph.remove_node(path)

    def copy(self) -> IR:
        return IR(self.model, self.filename, dict(self.params), dict(self.scopes),
                  dict(self.regions), list(self.passes), dict(self.options), _copy_graph(self.graph))

    # -- queries ------------------------------------------------------------------------
    def __contains__(self, path: object) -> bool:
        return path in self.graph

    def __len__(self) -> int:
        return self.graph.number_of_nodes()

    # The queries below read networkx's dicts directly (``_node``, ``_pred``, ``_succ``):
    # its views cost more than the compiler's own work on large models (bench/compile.py).
    def node(self, path: str) -> Node:
        return self.graph._node[path][NODE]

    def nodes(self) -> Iterator[Node]:
        """Nodes in insertion (source) order."""
        for data in self.graph._node.values():
            yield data[NODE]

    def order(self) -> list[Node]:
        """Nodes in topological order, ties broken by source order."""
        nodes = self.graph._node
        return [nodes[p][NODE] for p in _lexicographic_order(self.graph)]

    def inputs_of(self, path: str) -> list[str]:
        """Producers of ``path``'s arguments, in argument order (repeats included)."""
        preds = self.graph._pred[path]
        if len(preds) == 1:
            for src, data in preds.items():
                return [src] * len(data[POS])
        return [src for _, src in sorted((p, src) for src, data in preds.items() for p in data[POS])]

    def block_notes(self, path: str) -> list[str]:
        """Where the block instances around ``path`` were made, innermost first (for errors)."""
        parts = path.split(".")
        prefixes = (".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))
        return [f"in block {s.name}, used as `{p}` at {s.span}" for p in prefixes
                if (s := self.scopes.get(p)) is not None and s.kind is ops.ScopeKind.BLOCK]

    def arity_of(self, path: str) -> int:
        """How many arguments ``path`` receives (``len(inputs_of(path))``, cheaper)."""
        return sum(len(data[POS]) for data in self.graph._pred[path].values())

    def users_of(self, path: str) -> list[str]:
        return list(self.graph._succ[path])

    def edges(self) -> Iterator[tuple[str, str, tuple[int, ...]]]:
        for src, dst, data in self.graph.edges(data=True):
            yield src, dst, data[POS]

    def input_nodes(self) -> list[Node]:
        return [n for n in self.nodes() if isinstance(n.op, ops.Input)]

    def output_nodes(self) -> list[Node]:
        outs = [(n.op.index, n) for n in self.nodes() if isinstance(n.op, ops.Output)]
        return [n for _, n in sorted(outs, key=lambda pair: pair[0])]

    def region_members(self, name: str) -> list[Node]:
        return self.members_by_region().get(name, [])

    def members_by_region(self) -> dict[str, list[Node]]:
        """The nodes of every region, each list in topological order (one sort for all)."""
        out: dict[str, list[Node]] = {name: [] for name in self.regions}
        for n in self.order():
            if n.region is not None:
                out.setdefault(n.region, []).append(n)
        return out

    def feedback(self) -> list[tuple[str, str]]:
        """The feedback edges ``(source, prev node)``: not graph edges (``ops.Prev.source``)."""
        return [(n.op.source, n.path) for n in self.nodes() if isinstance(n.op, ops.Prev) and n.op.source]

    def descendants(self, paths: list[str]) -> Paths:
        """``paths`` and every node reachable from them along the edges."""
        seen, stack = set(paths), list(paths)
        succ = self.graph._succ
        while stack:
            for s in succ[stack.pop()]:
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        return seen

    def recurrences(self) -> list[Paths]:
        """The strongly connected components with a cycle of the graph with its feedback
        edges added: each is the set of nodes on the cycles through some ``prev`` nodes."""
        feedback = self.feedback()
        if not feedback:
            return []
        g = nx.DiGraph()
        g.add_nodes_from(self.graph)
        g.add_edges_from(self.graph.edges)
        g.add_edges_from(feedback)
        return [c for c in nx.strongly_connected_components(g) if len(c) > 1]

    def is_acyclic(self) -> bool:
        return _is_dag(self.graph)

    def find_cycle(self) -> list[str]:
        try:
            return [e[0] for e in nx.find_cycle(self.graph)]
        except nx.NetworkXNoCycle:
            return []

    def schedule(self) -> list[list[Node]]:
        """The program order: regions (members in topological order) and single nodes, in
        an order that respects every edge, ties broken by source order."""
        unit_of = {n.path: n.region or n.path for n in self.nodes()}
        q = nx.DiGraph()
        for n in self.nodes():
            q.add_node(unit_of[n.path])  # a unit's place in the tie order: its first node's
        for src, dst in self.graph.edges:
            if unit_of[src] != unit_of[dst]:
                q.add_edge(unit_of[src], unit_of[dst])
        order = _lexicographic_order(q)
        members: dict[str, list[Node]] = {u: [] for u in order}
        for n in self.order():
            members[unit_of[n.path]].append(n)
        return [members[u] for u in order]

    def _repr_svg_(self) -> str | None:
        """Jupyter shows an IR as its picture, drawn by the renderer that ``snndsl.viz``
        registers in :data:`DISPLAY` (the IR does not depend on viz)."""
        return DISPLAY["svg"](self) if "svg" in DISPLAY else None


#: renderers for notebook display, by format; ``snndsl.viz`` registers ``"svg"``
DISPLAY: dict[str, Callable[[IR], str]] = {}


def _copy_graph(g: nx.DiGraph) -> nx.DiGraph:
    """``g.copy()`` at a seventh of its cost (it dominated compiling large models): the
    node and edge attribute dicts are copied, the records in them are immutable."""
    h = nx.DiGraph()
    h._node.update((n, d.copy()) for n, d in g._node.items())
    succ = {u: {v: d.copy() for v, d in nbrs.items()} for u, nbrs in g._succ.items()}
    pred: dict[str, dict[str, dict]] = {v: {} for v in g._node}
    for u, nbrs in succ.items():
        for v, d in nbrs.items():
            pred[v][u] = d  # the same dict as in succ, as networkx keeps it
    h._succ.update(succ)  # _adj is _succ
    h._pred.update(pred)
    return h


def _lexicographic_order(g: nx.DiGraph) -> list[str]:
    """Kahn's algorithm taking, among the ready nodes, the one inserted first (what
    ``nx.lexicographical_topological_sort`` with the insertion index as key gives, at a
    fraction of its cost on large graphs). A cycle raises ``nx.NetworkXUnfeasible``."""
    index = {p: i for i, p in enumerate(g)}
    names = list(g)
    pred, succ = g.pred, g.succ
    waiting = {p: len(pred[p]) for p in names}
    ready = [index[p] for p in names if waiting[p] == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        p = names[heapq.heappop(ready)]
        out.append(p)
        for s in succ[p]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, index[s])
    if len(out) != len(names):
        raise nx.NetworkXUnfeasible("the graph has a cycle")
    return out


def quotient_is_acyclic(ir: IR, group_of: dict[str, str]) -> bool:
    """Would collapsing each set of nodes with the same ``group_of`` key leave a DAG?"""
    q = nx.DiGraph()
    q.add_nodes_from(group_of.get(p, p) for p in ir.graph.nodes)
    for src, dst in ir.graph.edges:
        a, b = group_of.get(src, src), group_of.get(dst, dst)
        if a != b:
            q.add_edge(a, b)
    return _is_dag(q)


def _is_dag(g: nx.DiGraph) -> bool:
    """Kahn's algorithm without the ordering: can every node be removed in turn?"""
    pred, succ = g._pred, g._succ
    waiting = {p: len(ps) for p, ps in pred.items()}
    ready = [p for p, n in waiting.items() if n == 0]
    seen = 0
    while ready:
        p = ready.pop()
        seen += 1
        for s in succ[p]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return seen == len(waiting)
