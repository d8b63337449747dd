"""Helpers for the interop tests: strong weights, spike inputs, IR isomorphism."""

from __future__ import annotations

import networkx as nx
import torch
from torch import nn

from snndsl.ir import ops
from snndsl.ir.graph import IR
from snndsl.ir.registry import bound_arguments


def strengthen(net: nn.Module, seed: int = 0, low: float = -0.3, high: float = 1.0) -> nn.Module:
    """Weights drawn so that spikes get through every layer (mostly positive)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(".w"):  # PLIF's time constant parameter
                continue
            fan_in = p[0].numel() if p.dim() > 1 else 1
            scale = 1.0 / max(1.0, fan_in ** 0.5) * 2.0
            p.copy_((torch.rand(p.shape, generator=g) * (high - low) + low) * scale)
    return net


def spikes(*shape: int, seed: int = 0, p: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def _norm(v: ops.Value) -> object:
    if isinstance(v, bool) or v is None or isinstance(v, (str, ops.SurrogateValue)):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, tuple):
        items = tuple(_norm(x) for x in v)
        return items[0] if items and all(x == items[0] for x in items) else items
    return v


def op_key(op: ops.Op) -> object:
    """An op's meaning, independent of how its arguments were written."""
    if isinstance(op, ops.Layer) and type(op) is not ops.TorchModule:
        return (op.kind, tuple(sorted((k, repr(_norm(v))) for k, v in bound_arguments(op).items())))
    if isinstance(op, ops.Merge):
        return (op.kind, op.dim)
    if isinstance(op, ops.Input):
        return ("input", op.shape, op.static)
    if isinstance(op, ops.Output):
        return ("output", op.index)
    return repr(op)


def isomorphic(a: IR, b: IR) -> bool:
    ga, gb = nx.DiGraph(), nx.DiGraph()
    for ir, g in ((a, ga), (b, gb)):
        for n in ir.nodes():
            g.add_node(n.path, key=op_key(n.op), shape=n.shape)
        g.add_edges_from((s, d) for s, d, _ in ir.edges())
    return nx.is_isomorphic(ga, gb, node_match=lambda x, y: x == y)


def describe(ir: IR) -> list[tuple[object, object]]:
    return [(op_key(n.op), n.shape) for n in ir.order()]
