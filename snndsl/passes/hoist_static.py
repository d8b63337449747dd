"""hoist-static: regions that see only ``static`` inputs run once, not T times.

A region whose every incoming value is a ``static`` model input (the same image at
every time step) computes the same thing at every step, unless it draws random numbers
(``Poisson``: a fresh draw at every step; such a region is never hoisted). The pass makes it run once on
``[N, ...]``: its members read the input itself instead of its broadcast and flatten,
and what leaves the region is broadcast over T with a ``BroadcastTime`` view (no copy)
instead of being unflattened; a later time-batched region that reads it gets the
broadcast flattened. The region is marked ``static``. The result equals feeding the
image repeated T times; its BatchNorms are marked ``time_repeated``, so that in training
their running variance counts T*N samples, as on the repeated batch
(``fused.repeated_batch_norm``).

    img -> img~bcast -> img~flat -> encoder -> encoder~unflat -> sn0
    ==>  img -> encoder -> encoder~bcast -> sn0          (region0 static=True)
"""

from __future__ import annotations

from dataclasses import replace

from ..ir import ops
from ..ir.graph import IR
from .insert_containers import plumbing


def static_origin(ir: IR, src: str) -> str | None:
    """The static input behind ``src`` = FlattenTime(BroadcastTime(input)), if it is one."""
    flat = ir.node(src)
    if not isinstance(flat.op, ops.FlattenTime):
        return None
    (b,) = ir.inputs_of(src)
    if not isinstance(ir.node(b).op, ops.BroadcastTime):
        return None
    (i,) = ir.inputs_of(b)
    op = ir.node(i).op
    return i if isinstance(op, ops.Input) and op.static else None


def hoist_static(ir: IR) -> IR:
    by_region = {name: [n.path for n in ns if not isinstance(n.op, ops.Plumbing)]
                 for name, ns in ir.members_by_region().items()}  # rewrites keep each region's members
    for name in list(ir.regions):
        if ir.regions[name].static or ir.regions[name].recurrent:
            continue
        members = by_region[name]
        if any(isinstance(op := ir.node(m).op, ops.TensorOp) and op.random for m in members):
            continue  # a fresh draw at every step: never computed once for all steps
        inside = set(members)
        entries = [(src, m) for m in members for src in dict.fromkeys(ir.inputs_of(m)) if src not in inside]
        hoisted = [(src, m, origin) for src, m in entries if (origin := static_origin(ir, src)) is not None]
        if not entries or len(hoisted) < len(entries):
            continue
        for src, m, origin in hoisted:
            ir.redirect(src, m, origin)
        for src, _ in entries:
            _prune(ir, src)
        for m in members:
            _broadcast_exits(ir, m, name, inside)
            node = ir.node(m)
            if isinstance(node.op, ops.BatchNorm):  # its statistics stand for T equal steps
                ir.set(node.replace(op=replace(node.op, time_repeated=True)))
        ir.regions[name] = replace(ir.regions[name], static=True)
    return ir


def _prune(ir: IR, flat: str) -> None:
    """Drop a FlattenTime (and its BroadcastTime) nobody reads; else move it to a reader's region."""
    if flat not in ir:
        return
    users = ir.users_of(flat)
    if users:
        rank = {unit[0].region: i for i, unit in enumerate(ir.schedule())}
        first = min((ir.node(u).region for u in users), key=rank.__getitem__)
        ir.update(flat, region=first)
        return
    (b,) = ir.inputs_of(flat)
    ir.remove(flat)
    if not ir.users_of(b):
        ir.remove(b)


def _broadcast_exits(ir: IR, member: str, region: str, inside: set[str]) -> None:
    users = [u for u in ir.users_of(member) if u not in inside]
    if not users:
        return
    b = plumbing(ir, member, ops.BroadcastTime(), "bcast", region).path
    flat: str | None = None
    for u in users:
        user = ir.node(u)
        if isinstance(user.op, ops.UnflattenTime):  # the exit: its readers read the broadcast
            for reader in ir.users_of(u):
                ir.redirect(u, reader, b)
            ir.remove(u)
        else:  # a member of a time-batched region reads it flattened
            if flat is None:
                flat = plumbing(ir, b, ops.FlattenTime(), "flat", user.region).path
            ir.redirect(member, u, flat)
