"""IR → Graphviz DOT text: one picture of the IR after a pass.

Nodes show module path, op with its main arguments and per-sample output shape; the
fill names the layer family, stateful nodes (from mark-state on) are warm and
double-bordered, the tooltip holds ``file:line:col`` (and, for a neuron defined in the
language, its step as equations: :mod:`.equations`). Clusters are time-batched regions
(labelled as the passes decide them), step-loop containers, and the user's blocks and
groups. A region may span blocks (``add`` of one block, ``conv1`` of the next), so it is
drawn whole inside the innermost scope holding all of it. Skip edges are blue with
weight 0, so the main chain stays straight. A :class:`Diff` overlays what the last pass
did: added green, changed raspberry, removed as grey dashed ghosts. Every element has a
``class`` (``stateful``, ``region``, ``changed``, ...) that Graphviz copies into the SVG.
Strings from the user's file are escaped for DOT (quotes, backslashes, entities) or for
HTML-like labels; the text is a pure function of the IR, in source order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from os.path import commonprefix

from ..ir import ops
from ..ir.graph import IR, Node
from .equations import program_lines

MAX_OP_CHARS = 46

# -- escaping -----------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _visible(s: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def dot_quote(s: str, unescapes: int = 1) -> str:
    """``s`` as a quoted DOT label that Graphviz shows literally.

    Graphviz reads ``\\`` escapes (``\\N``, ``\\l``) and HTML entities (``&lt;``) in
    these strings, so both are neutralised; a newline in ``s`` becomes a line break.
    """
    s = _visible(s).replace("&", "&amp;").replace("\\", "\\" * 2**unescapes).replace('"', '\\"')
    return '"' + s.replace("\n", "\\n") + '"'


def dot_tooltip(s: str) -> str:
    """``s`` as a quoted DOT tooltip: Graphviz unescapes tooltips twice, so backslashes are quadrupled."""
    return dot_quote(s, unescapes=2)


def dot_id(s: str) -> str:
    """``s`` as a quoted DOT identifier (only ``"`` is special there)."""
    return '"' + _visible(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0a") + '"'


def html_text(s: str) -> str:
    """``s`` as text in an HTML-like label (Graphviz still reads ``\\N`` there: backslashes doubled)."""
    s = _visible(s).replace("\n", " ").replace("\\", "\\\\")
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# -- styles -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Swatch:
    """One legend entry: how a kind of element is drawn and what it means."""

    key: str
    title: str
    meaning: str
    fill: str = "#ffffff"
    border: str = "#555555"
    dashed: bool = False


FAMILIES: dict[str, Swatch] = {s.key: s for s in (
    Swatch("io", "input / output", "a model input (per-sample shape) or a returned value", "#ffffff", "#555555", True),
    Swatch("conv", "convolution", "Conv1d/2d/3d, ConvTranspose", "#cfe2ff"),
    Swatch("linear", "linear", "Linear", "#c3ebe5"),
    Swatch("norm", "normalisation", "BatchNorm, LayerNorm, GroupNorm", "#d8f0cf"),
    Swatch("pool", "pooling", "MaxPool, AvgPool, adaptive pooling, VotingLayer", "#e5dcf7"),
    Swatch("reshape", "reshape", "Flatten, Upsample", "#f9d9e7"),
    Swatch("merge", "merge", "add, sub, mul, iand, cat", "#ffffff"),
    Swatch("other", "other layer", "activations, nn.X modules, use modules; neurons before mark-state", "#ececec"),
    Swatch("stateful", "stateful", "keeps state across time steps (neurons, Dropout): warm, double border",
           "#ffc078", "#a35200"),
)}
CLUSTERS: dict[str, Swatch] = {s.key: s for s in (
    Swatch("region", "time-batched region", "stateless nodes run once on the [T*N, ...] batch", "#edf2ff", "#4a6fd0"),
    Swatch("static", "static region", "runs once on [N, ...], broadcast over T", "#e3f7ef", "#2b8a63"),
    Swatch("recurrent", "recurrent region", "the cycles through prev: one time step at a time, in a loop over T",
           "#fff0f6", "#c2255c"),
    Swatch("step-loop", "step-loop container", "a single-step module looped over T (MultiStep)", "#fff4e6",
           "#d9480f"),
    Swatch("block", "block instance", "a user block, labelled path: Block(args)", "#ffffff", "#868e96", True),
    Swatch("sequence", "group / repeat", "numbered children, as in nn.Sequential", "#ffffff", "#adb5bd", True),
)}
MARKS: dict[str, Swatch] = {s.key: s for s in (
    Swatch("added", "added", "added by this pass", "#ffffff", "#2b8a3e"),
    Swatch("changed", "changed", "a field changed in this pass (the tooltip says which)", "#ffffff", "#d6336c"),
    Swatch("removed", "removed", "removed by this pass (a ghost)", "#ffffff", "#9e9e9e", True),
    Swatch("skip", "skip edge", "a residual edge that jumps past a longer path", "#ffffff", "#1c7ed6"),
    Swatch("feedback", "feedback edge", "a value read one time step later by prev(...)", "#ffffff", "#c2255c", True),
)}
LEGEND: tuple[Swatch, ...] = (*FAMILIES.values(), *CLUSTERS.values(), *MARKS.values())

#: the legend key of each op class (the first that a node's op is an instance of)
_FAMILY_CLASSES: tuple[tuple[type, str], ...] = (
    (ops.Conv, "conv"), (ops.ConvTranspose, "conv"), (ops.Linear, "linear"), (ops.BatchNorm, "norm"),
    (ops.LayerNorm, "norm"), (ops.GroupNorm, "norm"), (ops.Pool, "pool"), (ops.VotingLayer, "pool"),
    (ops.Flatten, "reshape"), (ops.Upsample, "reshape"), (ops.Plumbing, "reshape"),
)


def family(node: Node) -> str:
    """The legend key of a node's fill."""
    op = node.op
    if node.stateful:
        return "stateful"
    if isinstance(op, (ops.Input, ops.Output)):
        return "io"
    if isinstance(op, ops.Merge):
        return "merge"
    if isinstance(op, ops.FoldedNorm):
        op = op.producer
    return next((fam for cls, fam in _FAMILY_CLASSES if isinstance(op, cls)), "other")


@dataclass(frozen=True)
class Diff:
    """What a pass changed, as drawn over the IR after it (paths are node keys)."""

    added: frozenset[str] = frozenset()
    #: path -> names of the fields that changed (``shape``, ``region``, ``inputs``, ...)
    changed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: records of nodes the pass removed, drawn as ghosts
    removed: tuple[Node, ...] = ()
    added_edges: frozenset[tuple[str, str]] = frozenset()
    removed_edges: tuple[tuple[str, str], ...] = ()
    #: regions that existed before and changed (e.g. became static)
    changed_regions: frozenset[str] = frozenset()


# -- the view: what is drawn, before it is written out ------------------------------------
@dataclass
class _Item:
    id: str
    attrs: dict[str, str]
    chain: tuple[str, ...]  # cluster keys from the outside in


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _op_text(op: ops.Op) -> str:
    return op.describe() if not isinstance(op, ops.Input) else f"input {op.name}" + (" static" if op.static else "")


def _clip(s: str) -> str:
    return s if len(s) <= MAX_OP_CHARS else s[: MAX_OP_CHARS - 3] + "..."


def _html_label(title: str, lines: Iterable[str], grey: str = "") -> str:
    parts = [f"<b>{html_text(title)}</b>"] + [f'<font point-size="9">{html_text(x)}</font>' for x in lines if x]
    if grey:
        parts.append(f'<font point-size="9" color="#495057">{html_text(grey)}</font>')
    return "<" + "<br/>".join(parts) + ">"


_SHAPES: dict[type, str] = {ops.Input: "invhouse", ops.Output: "house", ops.Merge: "ellipse"}


def _node_item(node: Node, chain: tuple[str, ...], marks: list[str], note: str) -> _Item:
    fam = family(node)
    sw = FAMILIES[fam]
    facts = ["stateful" if node.stateful else "stateless" if node.stateful is False else "",
             f"region {node.region}" if node.region else "", f"container {node.container}" if node.container else ""]
    tip = [str(node.span), f"{node.path}: {_op_text(node.op)}",
           f"output {_shape_text(node.shape)} per sample" if node.shape is not None else "",
           ", ".join(f for f in facts if f), "label made by the compiler" if node.generated else "",
           *_equations(node.op), note]
    attrs = {"label": _html_label(node.path, [_clip(_op_text(node.op))], _shape_text(node.shape)),
             "tooltip": dot_tooltip("\n".join(t for t in tip if t)), "fillcolor": dot_quote(sw.fill),
             "class": dot_quote(" ".join([fam, *marks]))}
    if fam == "stateful":
        attrs.update(peripheries="2", color=dot_quote(sw.border))
    elif sw.dashed:
        attrs["style"] = dot_quote("rounded,filled,dashed")
    if type(node.op) in _SHAPES:
        attrs["shape"] = _SHAPES[type(node.op)]
    for mark in marks:
        attrs.update(color=dot_quote(MARKS[mark].border), penwidth="2.5")
        if mark == "removed":
            attrs.update(style=dot_quote("rounded,dashed"), fontcolor=dot_quote(MARKS[mark].border),
                         fillcolor=dot_quote("#ffffff"))
    return _Item(node.path, attrs, chain)


def program_neuron(op: ops.Op) -> ops.ProgramNeuron | None:
    """The neuron defined in the language that ``op`` is (or runs, in a fused recurrence)."""
    neuron = op.neuron if isinstance(op, ops.RecurrentNeuron) else op
    return neuron if isinstance(neuron, ops.ProgramNeuron) and neuron.program is not None else None


def _equations(op: ops.Op) -> list[str]:
    """A neuron defined in the language: its step, as equations (:mod:`.equations`)."""
    neuron = program_neuron(op)
    if neuron is None:
        return []
    return [f"neuron {neuron.kind}, one step:", *program_lines(neuron.program)]


def _scope_chain(ir: IR, path: str) -> tuple[str, ...]:
    parts = path.split(".")
    prefixes = (".".join(parts[:i]) for i in range(1, len(parts)))
    return tuple("scope:" + p for p in prefixes if p in ir.scopes)


def _collapsed_block(ir: IR, path: str) -> str | None:
    return next((k[6:] for k in _scope_chain(ir, path) if ir.scopes[k[6:]].kind is ops.ScopeKind.BLOCK), None)


def _cluster_attrs(ir: IR, key: str, members: list[Node]) -> dict[str, str]:
    kind, _, name = key.partition(":")
    sw = CLUSTERS[_cluster_kind(ir, key)]
    style, cls, tip = "rounded,filled", ["region"], sw.meaning
    if kind == "scope":
        scope = ir.scopes[name]
        text = f"{name}: {scope.name}({scope.args})" if scope.kind is ops.ScopeKind.BLOCK else f"{name}: {scope.name}"
        style, cls, tip = "rounded,dashed" if scope.kind is ops.ScopeKind.BLOCK else "rounded,dotted", ["scope"], str(scope.span)
    elif sw.key == "static":
        text = f"{name}: static, once on [N, ...]"
    elif sw.key == "recurrent":
        text = f"{name}: recurrent, one step at a time"
    elif members and all(n.container is ops.Container.REGION for n in members):
        text = f"{name}: SeqToANN on [T*N, ...]"
        cls.append("container")
    elif kind == "region":
        text = f"{name}: stateless, on [T*N, ...]"
    else:
        text, cls = "MultiStep: loop over T", ["container"]
    if kind == "region" and name in ir.regions and ir.regions[name].layout is ops.Layout.CHANNELS_LAST:
        text += ", channels-last"
    return {"label": dot_quote(text), "class": dot_quote(" ".join(dict.fromkeys([*cls, sw.key]))),
            "style": dot_quote(style), "color": dot_quote(sw.border), "fillcolor": dot_quote(sw.fill),
            "tooltip": dot_tooltip(f"{tip}\n{text}")}


def _skip_edges(ids: list[str], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges ``u -> v`` where ``v`` is also reachable from ``u`` through another successor."""
    succ: dict[str, list[str]] = {i: [] for i in ids}
    indeg = dict.fromkeys(ids, 0)
    for u, v in edges:
        succ[u].append(v)
        indeg[v] += 1
    order, ready = [], [i for i in ids if indeg[i] == 0]
    while ready:
        u = ready.pop()
        order.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    bit = {i: 1 << k for k, i in enumerate(ids)}
    reach = dict.fromkeys(ids, 0)
    for u in reversed(order):
        for v in succ[u]:
            reach[u] |= bit[v] | reach[v]
    return {(u, v) for u, v in edges if any(w != v and reach[w] & bit[v] for w in succ[u])}


def _legend(title: str, keys: list[str]) -> str:
    cells = []
    for key in keys:
        sw = FAMILIES.get(key) or CLUSTERS.get(key) or MARKS[key]
        color = sw.border if key in MARKS and key != "removed" else "#000000"
        cells.append(f'<td border="1" bgcolor="{sw.fill}" color="{sw.border}"><font point-size="9" '
                     f'color="{color}">{html_text(sw.title)}</font></td>')
    body = "".join("<tr>" + "".join(cells[i : i + 8]) + "</tr>" for i in range(0, len(cells), 8))
    return (f'<<table border="0" cellspacing="3" cellpadding="3"><tr><td colspan="{min(8, max(1, len(cells)))}" '
            f'align="left">{html_text(title)}</td></tr>{body}</table>>')


def _attrs(d: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


def _cluster_kind(ir: IR, key: str) -> str:
    kind, _, name = key.partition(":")
    if kind == "scope":
        return ir.scopes[name].kind.value
    if kind == "region":
        region = ir.regions.get(name)
        return "static" if region and region.static else "recurrent" if region and region.recurrent else "region"
    return "step-loop"


def to_dot(ir: IR, *, title: str | None = None, diff: Diff | None = None, collapse: bool = False,
           legend: bool = True) -> str:
    """The DOT text of ``ir``; ``diff`` overlays what the last pass changed, ``collapse``
    draws each block instance as one node."""
    diff = diff or Diff()
    group = {n.path: (_collapsed_block(ir, n.path) if collapse else None) or n.path for n in ir.nodes()}
    members: dict[str, list[Node]] = {}
    for n in ir.nodes():
        members.setdefault(group[n.path], []).append(n)
    plain = [ms[0] for key, ms in members.items() if key == ms[0].path]  # nodes drawn as themselves
    region_chain = {r: (*commonprefix([_scope_chain(ir, n.path) for n in plain if n.region == r]), "region:" + r)
                    for r in dict.fromkeys(n.region for n in plain if n.region)}
    items: dict[str, _Item] = {}
    for key, ms in members.items():
        if key != ms[0].path:
            items[key] = _block_item(ir, key, ms, diff, group)
            continue
        n, chain = ms[0], _scope_chain(ir, key)
        if n.region:
            chain = region_chain[n.region]
        elif n.container is ops.Container.STEP_LOOP:
            chain = (*chain, "loop:" + key)
        marks = ["added"] if key in diff.added else ["changed"] if key in diff.changed else []
        note = "changed: " + ", ".join(diff.changed[key]) if key in diff.changed else ""
        items[key] = _node_item(n, chain, marks, note)
    for ghost in diff.removed:
        if ghost.path not in items and not (collapse and _collapsed_block(ir, ghost.path)):
            items[ghost.path] = _node_item(ghost, _scope_chain(ir, ghost.path), ["removed"], "")
    edges: dict[tuple[str, str], list[int]] = {}
    for src, dst, pos in ir.edges():
        if group[src] != group[dst]:
            edges.setdefault((group[src], group[dst]), []).extend(pos)
    skips = _skip_edges(list(members), list(edges))
    feedback = {(group[a], group[b]) for a, b in ir.feedback() if group[a] != group[b]}
    graph = {"rankdir": "TB", "newrank": "true", "fontname": '"Helvetica"', "fontsize": "11", "nodesep": "0.3",
             "ranksep": "0.32", "labelloc": "t", "labeljust": "l", "tooltip": dot_tooltip(f"{ir.model} ({ir.filename})")}
    if legend:
        present = {c for it in items.values() for c in it.attrs["class"].strip('"').split()}
        present |= {_cluster_kind(ir, c) for it in items.values() for c in it.chain}
        present |= ({"skip"} if skips else set()) | {"changed" for r in diff.changed_regions if r in ir.regions}
        present |= {"feedback"} if feedback else set()
        head = f"{ir.model} after {title or (ir.passes[-1] if ir.passes else 'build')}"
        graph["label"] = _legend(head + ("   (blocks collapsed)" if collapse else ""),
                                 [sw.key for sw in LEGEND if sw.key in present])
    lines = [f"// the IR of {_visible(ir.model)} after {_visible(title or ', '.join(ir.passes))} (snndsl viz)",
             f"digraph {dot_id(ir.model)} {{", f"  graph [{_attrs(graph)}];",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, margin="0.12,0.05", '
             'color="#495057", penwidth=1];',
             '  edge [color="#495057", arrowsize=0.6, fontname="Helvetica", fontsize=9];']
    _emit_clusters(ir, items, members, lines, diff.changed_regions)
    for (a, b), positions in edges.items():
        attrs: dict[str, str] = {}
        cls: list[str] = []
        if (a, b) in skips:  # weight 0: the skip does not bend the main chain
            cls.append("skip")
            attrs.update(color=dot_quote(MARKS["skip"].border), penwidth="1.6", weight="0")
        if (a, b) in diff.added_edges:
            cls.append("added")
            attrs.update(color=dot_quote(MARKS["added"].border), penwidth="2")
        op = ir.node(b).op if b in ir else None
        if isinstance(op, ops.Merge) and op.kind in (ops.MergeKind.SUB, ops.MergeKind.IAND, ops.MergeKind.CAT):  # argument order matters
            attrs["label"] = dot_quote(", ".join(str(p) for p in positions))
        if cls:
            attrs["class"] = dot_quote(" ".join(cls))
        lines.append(f"  {dot_id(a)} -> {dot_id(b)}" + (f" [{_attrs(attrs)}]" if attrs else "") + ";")
    for a, b in sorted(feedback):  # drawn back up, not bending the ranks (constraint=false)
        fb = MARKS["feedback"]
        lines.append(f'  {dot_id(a)} -> {dot_id(b)} [class="feedback", style=dashed, color={dot_quote(fb.border)}, '
                     f'penwidth=1.6, constraint=false, tooltip={dot_tooltip(f"{a} one step later")}];')
    for a, b in diff.removed_edges:
        a, b = group.get(a, a), group.get(b, b)
        if a in items and b in items and a != b:
            lines.append(f'  {dot_id(a)} -> {dot_id(b)} [class="removed", style=dashed, color="#9e9e9e"];')
    return "\n".join([*lines, "}"]) + "\n"


def _block_item(ir: IR, key: str, ms: list[Node], diff: Diff, group: Mapping[str, str]) -> _Item:
    """One node for a collapsed block instance: its call, size, output shape and changes inside."""
    scope = ir.scopes[key]
    outs = [m for m in ms if any(group[u] != key for u in ir.users_of(m.path))]
    n_state = sum(1 for m in ms if m.stateful)
    touched = [m.path for m in ms if m.path in diff.added or m.path in diff.changed]
    touched += [g.path for g in diff.removed if g.path.startswith(key + ".")]
    stats = f"{len(ms)} nodes" + (f", {n_state} stateful" if n_state else "")
    call = f"{scope.name}({scope.args})"
    tip = [str(scope.span), f"{key}: block {call}", stats, "changed inside: " + ", ".join(touched) if touched else ""]
    attrs = {"label": _html_label(key, [_clip(call), stats], _shape_text(outs[0].shape) if outs else ""),
             "tooltip": dot_tooltip("\n".join(t for t in tip if t)), "shape": "box3d",
             "fillcolor": dot_quote(FAMILIES["stateful" if n_state else "other"].fill),
             "class": dot_quote(" ".join(["block", *(["stateful"] if n_state else []),
                                          *(["changed"] if touched else [])]))}
    if touched:
        attrs.update(color=dot_quote(MARKS["changed"].border), penwidth="2.5")
    return _Item(key, attrs, _scope_chain(ir, key))


def _emit_clusters(ir: IR, items: dict[str, _Item], members: dict[str, list[Node]], lines: list[str],
                   changed: frozenset[str]) -> None:
    """Nodes and nested clusters, each level in order of first appearance (source order)."""
    tree: list = []  # entries: an _Item, or (key, entries)
    for it in items.values():
        level = tree
        for key in it.chain:
            sub = next((e[1] for e in level if isinstance(e, tuple) and e[0] == key), None)
            if sub is None:
                sub = []
                level.append((key, sub))
            level = sub
        level.append(it)
    counter = [0]

    def emit(level: list, indent: str) -> None:
        for entry in level:
            if isinstance(entry, _Item):
                attrs = ", ".join(f"{k}={v}" for k, v in entry.attrs.items())
                lines.append(f"{indent}{dot_id(entry.id)} [{attrs}];")
                continue
            key, sub = entry
            kind, _, name = key.partition(":")
            ms = [m for ms in members.values() for m in ms if m.region == name] if kind == "region" else []
            cluster = _cluster_attrs(ir, key, ms)
            if kind == "region" and name in changed:
                cluster.update({"class": cluster["class"][:-1] + ' changed"', "penwidth": "2.5",
                                "color": dot_quote(MARKS["changed"].border)})
            attrs = _attrs(cluster)
            lines.append(f"{indent}subgraph {dot_id(f'cluster_{counter[0]}')} {{")
            counter[0] += 1
            lines.append(f"{indent}  graph [{attrs}, labelloc=t, labeljust=l, fontsize=10, margin=10];")
            emit(sub, indent + "  ")
            lines.append(f"{indent}}}")

    emit(tree, "  ")
