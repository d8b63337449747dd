"""The IR verifier: the invariant of every pass, checked after each pass.

Structural invariants hold always; each pass's own invariant from the pass that
establishes it on (``IR.passes`` records which have run). A violation is a compiler
bug, not a user mistake, so it raises :class:`IRVerificationError` naming the pass
after which it was found.
"""

from __future__ import annotations

from collections.abc import Callable

from . import ops
from .graph import IR, Node, quotient_is_acyclic
from .patterns import recurrent_layer


class IRVerificationError(Exception):
    """The IR broke an invariant; ``pass_name`` is the pass after which it was found."""

    def __init__(self, pass_name: str, problems: list[str]):
        self.pass_name = pass_name
        self.problems = problems
        super().__init__(f"IR invalid after pass '{pass_name}': " + "; ".join(problems[:5]))


def _is_compute(n: Node) -> bool:
    return not isinstance(n.op, (ops.Input, ops.Output, ops.Plumbing))


def _structure(ir: IR, acyclic: bool) -> list[str]:
    out: list[str] = []
    if not acyclic:
        out.append(f"cycle through {' -> '.join(ir.find_cycle())}")
    for n in ir.nodes():
        if not isinstance(n.op, ops.Op):
            out.append(f"{n.path}: op is {type(n.op).__name__}, not an Op")
            continue
        count = ir.arity_of(n.path)
        arity = type(n.op).arity
        if arity is None and count < 2:
            out.append(f"{n.path}: a merge needs two or more inputs, has {count}")
        elif arity is not None and count != arity:
            out.append(f"{n.path}: expects {arity} input(s), has {count}")
        if isinstance(n.op, ops.Output) and ir.users_of(n.path):
            out.append(f"{n.path}: an output has users")
        if isinstance(n.op, ops.Prev) and (n.op.source not in ir or isinstance(ir.node(n.op.source).op, ops.Output)):
            out.append(f"{n.path}: feeds back {n.op.source!r}, which is not a value of the graph")
    return out


def _shapes(ir: IR) -> list[str]:
    return [f"{n.path}: no shape" for n in ir.nodes() if n.shape is None]


def _state(ir: IR) -> list[str]:
    out = []
    for n in ir.nodes():
        if n.stateful is None:
            out.append(f"{n.path}: stateful not marked")
        elif n.stateful != n.op.is_stateful():
            out.append(f"{n.path}: stateful={n.stateful} disagrees with its op")
    return out


def _recurrence(ir: IR) -> list[str]:
    """Every cycle through a ``prev`` lies in one recurrent region, whose members are
    exactly the nodes of those cycles; a ``prev`` is always in one."""
    out = []
    in_cycles: set[str] = set()
    for comp in ir.recurrences():
        in_cycles |= comp
        regions = {ir.node(p).region for p in comp}
        if len(regions) != 1 or not _recurrent(ir, ir.node(next(iter(comp)))):
            out.append(f"the cycle through {min(comp)} is not one recurrent region")
    for n in ir.nodes():
        if _recurrent(ir, n) and n.path not in in_cycles:
            out.append(f"{n.path}: on no cycle, but in recurrent region {n.region}")
        if isinstance(n.op, ops.Prev) and not _recurrent(ir, n):
            out.append(f"{n.path}: a prev outside a recurrent region (one on no cycle is a Delay(1))")
    return out


def _recurrent(ir: IR, n: Node) -> bool:
    return n.region is not None and n.region in ir.regions and ir.regions[n.region].recurrent


def _regions(ir: IR) -> list[str]:
    out = []
    for n in ir.nodes():
        if _is_compute(n) and not n.stateful and n.region is None:
            out.append(f"{n.path}: stateless node outside any region")
        if n.region is not None and not _recurrent(ir, n) and (n.stateful or isinstance(n.op, (ops.Input, ops.Output))):
            out.append(f"{n.path}: only stateless compute nodes and plumbing belong to regions")
        if n.region is not None and n.region not in ir.regions:
            out.append(f"{n.path}: unknown region {n.region}")
    group = {n.path: region for n in ir.nodes() if (region := n.region) is not None}
    if not quotient_is_acyclic(ir, group):
        out.append("regions form a cycle")
    used = {n.region for n in ir.nodes()}
    out += [f"region {name} is empty" for name in ir.regions if name not in used]
    return out


def _batched(ir: IR, n: Node) -> bool:
    """Is ``n``'s value in the flat ``[T*N, ...]`` form in multi-step mode?"""
    if isinstance(n.op, ops.FlattenTime):
        return True
    if isinstance(n.op, (ops.UnflattenTime, ops.BroadcastTime)) or n.region is None:
        return False
    if isinstance(n.op, ops.ToLayout):
        return _batched(ir, ir.node(ir.inputs_of(n.path)[0]))
    return not ir.regions[n.region].static and not ir.regions[n.region].recurrent


def _static_value(ir: IR, n: Node) -> bool:
    """Is ``n``'s value ``[N, ...]`` (a static input, a static region member)?"""
    if isinstance(n.op, ops.Input):
        return n.op.static
    if isinstance(n.op, ops.ToLayout):
        return _static_value(ir, ir.node(ir.inputs_of(n.path)[0]))
    return n.region is not None and ir.regions[n.region].static and not isinstance(n.op, ops.Plumbing)


def _borders(ir: IR) -> list[str]:
    """Every edge joins values of the same form: ``[T, N]``, flat ``[T*N]`` or static ``[N]``."""
    out = []
    for n in ir.nodes():
        if n.container is None:
            out.append(f"{n.path}: no container decided")
        for src in ir.inputs_of(n.path):
            s = ir.node(src)
            form_in = "N" if _static_value(ir, s) else "T*N" if _batched(ir, s) else "T,N"
            if isinstance(n.op, ops.FlattenTime):
                want = "T,N"
            elif isinstance(n.op, ops.UnflattenTime):
                want = "T*N"
            elif isinstance(n.op, ops.BroadcastTime):
                want = "N"
            elif isinstance(n.op, ops.ToLayout):
                want = form_in
            elif n.region is not None and not _recurrent(ir, n):
                want = "N" if ir.regions[n.region].static else "T*N"
            else:
                want = "T,N"
            if form_in != want:
                out.append(f"{n.path}: reads {src} as [{want}, ...], which is [{form_in}, ...]")
    return out


def _hoisted(ir: IR) -> list[str]:
    """Static regions read only static inputs and draw no random numbers; a region fed
    only by static inputs is static unless a member draws random numbers (``Poisson``)."""
    out = []
    by_region = ir.members_by_region()
    for name, region in ir.regions.items():
        if region.recurrent:
            continue
        members = [n for n in by_region[name] if _is_compute(n)]
        inside = {n.path for n in members}
        sources = {s for n in members for s in ir.inputs_of(n.path) if s not in inside}
        statics = [_static_value(ir, ir.node(s)) for s in sources]
        if region.static and not all(statics):
            out.append(f"static region {name} reads a value that is not static")
        for n in members:
            norm = n.op.norm if isinstance(n.op, ops.FoldedNorm) else n.op
            if isinstance(norm, ops.BatchNorm) and norm.time_repeated != region.static:
                out.append(f"{n.path}: time_repeated={norm.time_repeated} in a region with static={region.static}")
        random = [n.path for n in members if isinstance(n.op, ops.TensorOp) and n.op.random]
        if region.static and random:
            out.append(f"static region {name} draws random numbers ({random[0]}): it must run at every step")
        hoistable = not random and bool(sources) and all(
            isinstance(ir.node(s).op, ops.FlattenTime) and _from_static_input(ir, s) for s in sources)
        if not region.static and hoistable:
            out.append(f"region {name} reads only static inputs but is not static")
    return out


def _from_static_input(ir: IR, path: str) -> bool:
    n = ir.node(path)
    if isinstance(n.op, ops.Input):
        return n.op.static
    return isinstance(n.op, (ops.FlattenTime, ops.BroadcastTime)) and _from_static_input(ir, ir.inputs_of(path)[0])


def _channels_last(ir: IR) -> list[str]:
    """Every [C, H, W] value a channels-last region with 2-d layers computes on is
    channels-last; channels-last pointwise Conv1d and token BatchNorm1d only in
    channels-last regions."""
    out = []
    spatial = {n.region for n in ir.nodes() if isinstance(n.op, ops.Spatial) and n.op.dims == 2}
    for n in ir.nodes():
        cl = n.region is not None and ir.regions[n.region].layout is ops.Layout.CHANNELS_LAST
        conv = n.op.producer if isinstance(n.op, ops.FoldedNorm) else n.op
        if isinstance(conv, (ops.Conv, ops.ConvTranspose)) and conv.dims == 2:
            if (conv.weight_layout is ops.Layout.CHANNELS_LAST) != cl:
                out.append(f"{n.path}: weight layout {conv.weight_layout} in a {'channels-last' if cl else 'contiguous'} region")
        tokens = (isinstance(conv, ops.Conv) and conv.dims == 1 and conv.weight_layout is ops.Layout.CHANNELS_LAST
                  or isinstance(n.op, ops.BatchNorm) and n.op.layout is ops.Layout.CHANNELS_LAST)
        if tokens and not cl:
            out.append(f"{n.path}: computes on channels-last tokens in a contiguous region")
        if not cl or n.region not in spatial or not _is_compute(n):
            continue
        for src in ir.inputs_of(n.path):
            s = ir.node(src)
            nhwc = isinstance(s.op, ops.ToLayout) or (
                s.region is not None and ir.regions[s.region].layout is ops.Layout.CHANNELS_LAST and _is_compute(s))
            if len(s.shape or ()) == 3 and not nhwc:
                out.append(f"{n.path}: reads {src} without converting it to channels-last")
    return out


def _folded(ir: IR) -> list[str]:
    """No foldable Conv/Linear -> BatchNorm pair is left; every folded pair is foldable."""
    from_pass = []
    for n in ir.nodes():
        if isinstance(n.op, ops.FoldedNorm):
            if not isinstance(n.op.norm, ops.BatchNorm) or not isinstance(n.op.producer, (ops.Conv, ops.Linear)):
                from_pass.append(f"{n.path}: folds {type(n.op.producer).__name__} and {type(n.op.norm).__name__}")
            if n.op.producer_path in ir:
                from_pass.append(f"{n.path}: the folded {n.op.producer_path} is still a node")
        elif isinstance(n.op, ops.BatchNorm) and n.region is not None:
            (src,) = ir.inputs_of(n.path)
            s = ir.node(src)
            if (isinstance(s.op, ops.Conv) and s.op.dims == n.op.dims and s.region == n.region
                    and ir.users_of(src) == [n.path]):
                from_pass.append(f"{n.path}: a foldable BatchNorm after {src} was not folded")
    return from_pass


def _fused_recurrent(ir: IR) -> list[str]:
    """No recurrent region is left that is exactly a recurrent layer (fuse-recurrent fuses
    them all); every fused node is outside any region."""
    out = [f"recurrent region {name} is a recurrent layer that was not fused"
           for name, members in ir.members_by_region().items()
           if ir.regions[name].recurrent and recurrent_layer(ir, [n.path for n in members]) is not None]
    for n in ir.nodes():
        if isinstance(n.op, ops.RecurrentNeuron) and n.region is not None:
            out.append(f"{n.path}: a fused recurrent layer inside region {n.region}")
    return out


#: each pass's invariant, checked from that pass on
INVARIANTS: dict[str, Callable[[IR], list[str]]] = {
    "infer-shapes": _shapes,
    "mark-state": _state,
    "schedule-recurrence": _recurrence,
    "fuse-recurrent": _fused_recurrent,
    "fuse-stateless": _regions,
    "insert-containers": _borders,
    "hoist-static": _hoisted,
    "channels-last": _channels_last,
    "fold-batchnorm": _folded,
}


def problems(ir: IR) -> list[str]:
    acyclic = ir.is_acyclic()
    out = _structure(ir, acyclic)
    if not acyclic:
        return out
    for name in ir.passes:
        check = INVARIANTS.get(name)
        if check is not None:
            out += check(ir)
    return out


def verify(ir: IR, pass_name: str | None = None) -> None:
    found = problems(ir)
    if found:
        raise IRVerificationError(pass_name or (ir.passes[-1] if ir.passes else "?"), found)
