"""schedule-recurrence: the cycles through ``prev`` become recurrent regions.

The feedback edges ``h -> prev(h)`` are not graph edges (``ops.Prev.source``); with
them added, every strongly connected component that has a cycle is one *recurrent
region*: it runs one time step at a time. Only nodes on a cycle join it, so what feeds
the cycle from outside (an input projection ``x -> fc``) stays out and is batched over
all steps by fuse-stateless, and what reads the cycle's values runs after the loop. A
``prev`` on no cycle (``prev(x)`` of an input) becomes what it is, ``Delay(1)``, reading
its source along an ordinary edge (a shift by one step, batched in ``'m'`` mode).

Regions are named ``recurrent0``, ``recurrent1``, ... in program order (by their first
node in topological order).

    x -> fc -> add;  prev(s) -> rec -> add -> sn (= s)
    ==>  recurrent0 {prev(s), rec, add, sn}; fc stays outside
"""

from __future__ import annotations

from ..ir import ops
from ..ir.graph import IR, Region


def schedule_recurrence(ir: IR) -> IR:
    cycles = ir.recurrences()
    on_cycle: set[str] = set().union(*cycles)
    for source, prev in ir.feedback():
        if prev not in on_cycle:
            ir.update(prev, op=ops.Delay("Delay", (1,)), stateful=True)
            ir.connect(source, prev, 0)
    rank = {n.path: i for i, n in enumerate(ir.order())}
    for i, members in enumerate(sorted(cycles, key=lambda c: min(rank[p] for p in c))):
        name = f"recurrent{i}"
        ir.regions[name] = Region(name, recurrent=True)
        for p in members:
            ir.update(p, region=name)
    return ir
