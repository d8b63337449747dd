"""The IR verifier: invariants that hold after each pass.

Structural invariants hold always; the others from the pass that establishes them on
(``ir.passes`` records which have run). A violation is a compiler bug, not a user
mistake, so it raises :class:`IRVerificationError` naming the pass that broke it.
"""

from __future__ import annotations

from . import ops
from .graph import IR, quotient_is_acyclic


class IRVerificationError(Exception):
    """The IR broke an invariant; ``pass_name`` is the pass after which it was found."""

    def __init__(self, pass_name: str, problems: list[str]):
        self.pass_name = pass_name
        self.problems = problems
        super().__init__(f"IR invalid after pass '{pass_name}': " + "; ".join(problems[:5]))


def problems(ir: IR) -> list[str]:
    out: list[str] = []
    done = set(ir.passes)
    if not ir.is_acyclic():
        out.append(f"cycle through {' -> '.join(ir.find_cycle())}")
    for n in ir.nodes():
        if not isinstance(n.op, ops.Op):
            out.append(f"{n.path}: op is {type(n.op).__name__}, not an Op")
            continue
        ins = ir.inputs_of(n.path)
        arity = type(n.op).arity
        if arity is None and len(ins) < 2:
            out.append(f"{n.path}: a merge needs two or more inputs, has {len(ins)}")
        elif arity is not None and len(ins) != arity:
            out.append(f"{n.path}: expects {arity} input(s), has {len(ins)}")
        if isinstance(n.op, ops.Output) and ir.users_of(n.path):
            out.append(f"{n.path}: an output has users")
        if "infer-shapes" in done and n.shape is None:
            out.append(f"{n.path}: no shape")
        if "mark-state" in done and n.stateful is None:
            out.append(f"{n.path}: stateful not marked")
        if "mark-state" in done and n.stateful is not None and n.stateful != n.op.is_stateful():
            out.append(f"{n.path}: stateful={n.stateful} disagrees with its op")
        if "fuse-stateless" in done:
            compute = not isinstance(n.op, (ops.Input, ops.Output))
            if compute and not n.stateful and n.region is None:
                out.append(f"{n.path}: stateless node outside any region")
            if n.region is not None and (n.stateful or not compute):
                out.append(f"{n.path}: only stateless compute nodes belong to regions")
            if n.region is not None and n.region not in ir.regions:
                out.append(f"{n.path}: unknown region {n.region}")
        if "insert-containers" in done and n.container is None:
            out.append(f"{n.path}: no container decided")
    if "fuse-stateless" in done:
        group = {n.path: n.region for n in ir.nodes() if n.region is not None}
        if not quotient_is_acyclic(ir, group):  # type: ignore[arg-type]
            out.append("regions form a cycle")
        used = {n.region for n in ir.nodes()}
        for name in ir.regions:
            if name not in used:
                out.append(f"region {name} is empty")
    return out


def verify(ir: IR, pass_name: str | None = None) -> None:
    found = problems(ir)
    if found:
        raise IRVerificationError(pass_name or (ir.passes[-1] if ir.passes else "?"), found)
