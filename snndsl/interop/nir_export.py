"""IR (+ weights) → ``nir.NIRGraph``.

One NIR node per exportable IR node, named after its module path with dots replaced
(``layer1.0.conv1`` → ``layer1_0_conv1``), in topological order. ``add`` merges,
``Identity``, omitted Dropout and folded BatchNorm write no node: their value is the
*sum of NIR sources* that feed every user (NIR sums fan-in). Neuron parameters are
full per-neuron arrays. Every node's metadata keeps the snndsl op text (``snndsl``
key) so that snndsl's importer can restore what NIR has no field for.

``prev`` writes no node either: a NIR cycle is its feedback, the edges from the NIR
source of ``prev(h)``'s ``h`` to the NIR nodes that read the ``prev`` (NIR readers run
a cycle one step late on the edge that closes it). A reader that cuts the cycle at
another edge is told in the report. ``LI`` and ``CubaLIF`` are the prelude's neurons
(a ``ProgramNeuron`` whose program is the prelude definition's with its arguments:
:func:`~snndsl.frontend.prelude.prelude_arguments`); they and ``Delay`` are the inverse of
the importer's forward-Euler reading (:mod:`snndsl.interop.nir_import_ops`)::

    CubaLIF(c_decay, v_decay)  ->  tau_syn = dt/(1 - c_decay), tau_mem = dt/(1 - v_decay),
                                   w_in = tau_syn/dt, r = tau_mem/dt   (snnTorch's convention)
    LI(tau)                    ->  tau = tau dt, r = 1, v_leak = 0
    Delay(steps)               ->  delay = steps dt
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..frontend.prelude import prelude_arguments
from ..ir import ops
from ..ir.graph import IR, Node
from ..ir.registry import bound_arguments
from ._common import HINT, Namer, NirError, closing_edges, nir_module, nir_name

SUPPORTED = ("Conv1d, Conv2d, Linear, AvgPool2d (SumPool2d with divisor_override=1), "
             "AdaptiveAvgPool2d (evenly dividing), Flatten, Identity, VotingLayer, Scale, Delay, "
             "IF, LIF, PLIF, LI, CubaLIF, BatchNorm after Conv/Linear (folded), add, prev")
#: the prelude's neurons that NIR has a node for (recognised by :func:`prelude_arguments`:
#: a call whose program is the prelude definition's)
PRELUDE_NEURONS = ("LI", "CubaLIF")
#: stands for the value of the ``prev`` node PATH in a list of NIR sources until the walk
#: has written the node it reads (NIR names are ``[A-Za-z0-9_]``: no clash)
_LATE = "\0prev:"


class _Exporter:
    def __init__(self, ir: IR, state: Mapping[str, torch.Tensor], dt: float):
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise NirError(f"dt must be a positive number of seconds, got {dt!r}",
                           ir.input_nodes()[0].span if ir.input_nodes() else None)
        self.nir = nir_module()
        self.ir, self.state, self.dt = ir, state, float(dt)
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.sources: dict[str, list[str]] = {}
        self.folded: dict[str, str] = {}  # BatchNorm path -> producer path
        self.losses: list[tuple[Node, str]] = []
        self.late: list[tuple[int, str, str]] = []  # (edge index, prev path, IR node reading it)
        self.notes: dict[str, list[str]] = {}
        self.names: dict[str, str] = {}
        namer = Namer()
        order = ir.order()
        for n in order:  # layers first, so that an input or output never renames one
            if isinstance(n.op, ops.Layer):
                self.names[n.path] = namer(nir_name(n.path))
        for n in order:
            if isinstance(n.op, ops.Input):
                self.names[n.path] = namer(n.op.name)
        outs = ir.output_nodes()
        for n in outs:
            assert isinstance(n.op, ops.Output)
            self.names[n.path] = namer("output" if len(outs) == 1 else f"output_{n.op.index}")

    # -- helpers ---------------------------------------------------------------------
    def note(self, what: str, path: str) -> None:
        self.notes.setdefault(what, []).append(path)

    def unsupported(self, node: Node, why: str) -> NirError:
        return NirError(f"'{node.path}' ({_kind(node)}) cannot be exported to NIR: {why}", node.span,
                        f"NIR export supports {SUPPORTED}")

    def tensor(self, key: str) -> np.ndarray:
        if key not in self.state:
            raise KeyError(f"the weights have no '{key}'")
        return self.state[key].detach().cpu().numpy().copy()

    def full(self, node: Node, value: float) -> np.ndarray:
        return np.full(node.shape or (), float(value), dtype=np.float64)

    def input_shape(self, node: Node) -> tuple[int, ...]:
        return tuple(self.ir.node(self.ir.inputs_of(node.path)[0]).shape or ())

    def emit(self, node: Node, nir_node: Any, in_shape: tuple[int, ...] | None = None) -> None:
        name = self.names[node.path]
        nir_node.metadata = {HINT: node.op.call_text()} if isinstance(node.op, ops.Layer) else {}
        if in_shape is not None:  # pooling nodes leave their types to graph inference
            nir_node.input_type = {"input": np.array(in_shape)}
            nir_node.output_type = {"output": np.array(node.shape)}
        self.nodes[name] = nir_node
        self.connect(self.sources[self.ir.inputs_of(node.path)[0]], name, node.path)
        self.sources[node.path] = [name]

    def connect(self, srcs: list[str], name: str, reader: str) -> None:
        for src in srcs:
            if src.startswith(_LATE):
                self.late.append((len(self.edges), src[len(_LATE):], reader))
            self.edges.append((src, name))

    def passthrough(self, node: Node) -> None:
        self.sources[node.path] = list(self.sources[self.ir.inputs_of(node.path)[0]])

    # -- the walk --------------------------------------------------------------------
    def run(self) -> Any:
        for node in self.ir.order():
            op = node.op
            if isinstance(op, ops.Input):
                meta = {"snndsl_static": 1} if op.static else {}
                self.nodes[self.names[node.path]] = self.nir.Input(np.array(op.shape), metadata=meta)
                self.sources[node.path] = [self.names[node.path]]
                if op.static:
                    self.note("static inputs are ordinary NIR inputs: feed the same frame at every step",
                              op.name)
            elif isinstance(op, ops.Output):
                name = self.names[node.path]
                self.nodes[name] = self.nir.Output(np.array(node.shape))
                self.connect(self.sources[self.ir.inputs_of(node.path)[0]], name, node.path)
            elif isinstance(op, ops.Prev):
                self.sources[node.path] = [_LATE + node.path]
            elif isinstance(op, ops.Merge):
                self.merge(node, op)
            elif isinstance(op, ops.Neuron):
                self.neuron(node, op)
            elif isinstance(op, ops.Delay):
                steps = ops.as_int(bound_arguments(op)["steps"])
                self.emit(node, self.nir.Delay(delay=self.full(node, steps * self.dt)))
            elif isinstance(op, ops.StatefulLayer) and op.kind in ("Dropout", "Dropout2d"):
                self.losses.append((node, f"{node.path} ({op.kind}): omitted; NIR has no dropout "
                                          "(it is the identity at inference)"))
                self.passthrough(node)
            elif isinstance(op, ops.Plumbing):  # a change of form, not of values
                self.passthrough(node)
            elif isinstance(op, ops.StatelessLayer):
                self.stateless(node, op)
            else:
                raise self.unsupported(node, "NIR has no such node")
        self.feedback()
        return self.nir.NIRGraph(nodes=self.nodes, edges=self.edges, type_check=True, metadata={
            "snndsl_model": self.ir.model, "snndsl_dt": self.dt, "snndsl_version": __version__,
            "snndsl_fire": ">="})

    def feedback(self) -> None:
        """Each edge from a ``prev`` becomes an edge from the NIR source of what it reads,
        closing a NIR cycle; a reader that would cut the cycle elsewhere is reported."""
        ours: list[tuple[str, str]] = []
        for i, path, reader in self.late:
            prev = self.ir.node(path)
            assert isinstance(prev.op, ops.Prev)
            srcs = self.sources.get(prev.op.source, [])
            if any(s.startswith(_LATE) for s in srcs) or not srcs:
                raise self.unsupported(prev, "it reads another prev without a node in between; "
                                             "NIR delays a cycle by one step only")
            reach: set[str] = self.ir.descendants([reader])
            if prev.op.source not in reach:
                raise self.unsupported(prev, f"'{reader}' reads it on no cycle, and a NIR edge "
                                             "outside a cycle has no delay (write Delay(1))")
            dst = self.edges[i][1]
            self.edges[i:i + 1] = [(srcs[0], dst)]
            ours.append((srcs[0], dst))
            for s in srcs[1:]:
                self.edges.append((s, dst))
                ours.append((s, dst))
        if len(set(self.edges)) != len(self.edges):
            node = self.ir.node(self.late[0][1]) if self.late else self.ir.output_nodes()[0]
            raise self.unsupported(node, "a NIR node would get the same edge twice (once "
                                         "through prev), and NIR fan-in cannot repeat an edge")
        if not ours:
            return
        succ: dict[str, list[str]] = {k: [] for k in self.nodes}
        for a, b in self.edges:
            succ[a].append(b)
        roots = [k for k, v in self.nodes.items() if isinstance(v, self.nir.Input)]
        theirs, _ = closing_edges(succ, roots)
        if set(theirs) != set(ours):
            node = self.ir.node(self.late[0][1])
            shown = lambda es: ", ".join(f"{a} -> {b}" for a, b in sorted(set(es))[:6])  # noqa: E731
            self.losses.append((node, f"NIR marks no edge of a cycle as the delayed one: readers "
                                      f"(nirtorch, Norse, snndsl) delay {shown(theirs) or 'none'}, "
                                      f"this model delays {shown(ours)} (prev); the values between "
                                      "the two differ by one step, and by a bias at the first step"))

    def merge(self, node: Node, op: ops.Merge) -> None:
        if op.kind != "add":
            raise self.unsupported(node, "NIR only sums values (fan-in); it has no "
                                         f"'{op.kind}'")
        srcs = [s for p in self.ir.inputs_of(node.path) for s in self.sources[p]]
        if len(set(srcs)) != len(srcs):
            raise self.unsupported(node, "the same value is added more than once, and NIR fan-in "
                                         "cannot repeat an edge")
        self.sources[node.path] = srcs

    def neuron(self, node: Node, op: ops.Neuron) -> None:
        nir = self.nir
        if isinstance(op, ops.ProgramNeuron):
            a = prelude_arguments(op) if op.kind in PRELUDE_NEURONS else None
            if a is None:
                raise self.unsupported(node, "NIR has no node for a neuron defined in the language "
                                             f"(only the prelude's {' and '.join(PRELUDE_NEURONS)} have one)")
        else:
            a = bound_arguments(op)
        if op.kind == "LI":
            tau = ops.as_float(a["tau"])
            self.emit(node, nir.LI(tau=self.full(node, tau * self.dt), r=self.full(node, 1.0),
                                   v_leak=self.full(node, 0.0)))
            return
        if a["v_reset"] is None:
            self.losses.append((node, f"{node.path} ({op.kind}): soft reset (v_reset=none) written as a "
                                      "hard reset to 0; NIR has no reset by subtraction"))
        vr = 0.0 if a["v_reset"] is None else ops.as_float(a["v_reset"])
        thr = ops.as_float(a["v_threshold"])
        self.note("NIR neurons fire on v > v_threshold, snndsl on v >= v_threshold (outputs differ "
                  "only where v equals the threshold exactly)", node.path)
        self.note("surrogate functions and detach_reset are training-only and have no NIR field "
                  "(kept in node metadata)", node.path)
        if op.kind == "CubaLIF":
            out = self.cuba_lif(node, a, thr, vr)
        elif op.kind == "IF":
            out = nir.IF(r=self.full(node, 1.0 / self.dt), v_threshold=self.full(node, thr),
                         v_reset=self.full(node, vr))
        else:
            if op.kind == "PLIF":
                w = float(self.tensor(f"{node.path}.w"))
                tau = 1.0 + math.exp(-w)  # = 1 / sigmoid(w)
                self.note("PLIF's learnable time constant is exported frozen, tau = 1 / sigmoid(w)",
                          node.path)
            else:
                tau = ops.as_float(a["tau"])
            r = 1.0 if a["decay_input"] else tau
            out = nir.LIF(tau=self.full(node, tau * self.dt), r=self.full(node, r),
                          v_leak=self.full(node, vr), v_threshold=self.full(node, thr),
                          v_reset=self.full(node, vr))
        self.emit(node, out)

    def cuba_lif(self, node: Node, a: dict, thr: float, vr: float) -> Any:
        """CubaLIF -> NIR CubaLIF: the inverse of the importer's Euler step (``docs/interop.md``)."""
        alpha, beta = 1.0 - ops.as_float(a["c_decay"]), 1.0 - ops.as_float(a["v_decay"])
        if alpha <= 0 or beta <= 0:
            raise self.unsupported(node, "a decay of 1 or more has no finite NIR time constant")
        return self.nir.CubaLIF(
            tau_syn=self.full(node, self.dt / alpha), tau_mem=self.full(node, self.dt / beta),
            r=self.full(node, 1.0 / beta), v_leak=self.full(node, 0.0),
            v_threshold=self.full(node, thr), v_reset=self.full(node, vr), w_in=self.full(node, 1.0 / alpha))

    def stateless(self, node: Node, op: ops.StatelessLayer) -> None:
        nir = self.nir
        kind, a, shape = op.kind, bound_arguments(op), self.input_shape(node)
        if kind == "Identity":
            self.passthrough(node)
        elif kind in ("Conv1d", "Conv2d", "Linear"):
            self.affine(node, op, a, shape)
        elif kind.startswith("BatchNorm"):
            self.batchnorm(node, a, shape)
        elif isinstance(op, ops.Scale):
            factor = ops.as_float(a["factor"])
            self.emit(node, nir.Scale(scale=np.full(shape, factor, dtype=np.float64)))
        elif kind == "Flatten":
            rank = len(shape)
            s, e = ops.as_int(a["start_dim"]), ops.as_int(a["end_dim"])
            s, e = s % rank if rank else 0, e % rank if rank else 0
            self.emit(node, nir.Flatten(np.array(shape), start_dim=s, end_dim=-1 if e == rank - 1 else e))
        elif kind in ("AvgPool2d", "MaxPool2d", "AdaptiveAvgPool2d"):
            self.pool(node, kind, a, shape)
        elif kind == "VotingLayer":
            v = ops.as_int(a["voting_size"])
            if len(shape) != 1:
                raise self.unsupported(node, f"NIR export needs a 1-d input, got {list(shape)}")
            w = np.zeros((shape[0] // v, shape[0]), dtype=np.float32)
            for i in range(shape[0] // v):
                w[i, i * v:(i + 1) * v] = 1.0 / v
            self.emit(node, nir.Linear(weight=w))
        else:
            raise self.unsupported(node, "NIR has no such node")

    def affine(self, node: Node, op: ops.StatelessLayer, a: dict, shape: tuple[int, ...]) -> None:
        nir, kind = self.nir, op.kind
        w = self.tensor(f"{node.path}.weight")
        b = self.tensor(f"{node.path}.bias") if a["bias"] else None
        users = self.ir.users_of(node.path)
        if len(users) == 1 and self.foldable(self.ir.node(users[0]), w.shape[0]):
            bn = self.ir.node(users[0])
            scale, shift = self.bn_affine(bn)
            w = (w.astype(np.float64) * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
            b = ((b if b is not None else 0.0) * scale + shift).astype(np.float32)
            self.folded[bn.path] = node.path
            self.note("BatchNorm folded into the layer before it (eval-mode running statistics)", bn.path)
        if kind == "Linear":
            if len(shape) != 1:
                raise self.unsupported(node, f"NIR's Affine/Linear take a 1-d input, got {list(shape)}; "
                                             "add Flatten() before it")
            self.emit(node, nir.Affine(weight=w, bias=b) if b is not None else nir.Linear(weight=w))
            return
        if a["padding_mode"] != "zeros":
            raise self.unsupported(node, "NIR convolutions pad with zeros only")
        bias = b if b is not None else np.zeros(w.shape[0], dtype=w.dtype)
        pad = a["padding"]
        if kind == "Conv1d":
            self.emit(node, nir.Conv1d(
                input_shape=shape[1], weight=w, stride=_one(a["stride"]),
                padding=pad if isinstance(pad, str) else _one(pad), dilation=_one(a["dilation"]),
                groups=int(a["groups"]), bias=bias))
        else:
            self.emit(node, nir.Conv2d(
                input_shape=tuple(shape[1:]), weight=w, stride=_two(a["stride"]),
                padding=pad if isinstance(pad, str) else _two(pad), dilation=_two(a["dilation"]),
                groups=int(a["groups"]), bias=bias))

    def foldable(self, bn: Node, channels: int) -> bool:
        if not (isinstance(bn.op, ops.StatelessLayer) and bn.op.kind.startswith("BatchNorm")):
            return False
        a = bound_arguments(bn.op)
        return bool(a["track_running_stats"]) and a["num_features"] == channels \
            and f"{bn.path}.running_mean" in self.state

    def bn_affine(self, bn: Node) -> tuple[np.ndarray, np.ndarray]:
        assert isinstance(bn.op, ops.BatchNorm)  # foldable() or stateless() checked it
        a = bound_arguments(bn.op)
        mean = self.tensor(f"{bn.path}.running_mean").astype(np.float64)
        var = self.tensor(f"{bn.path}.running_var").astype(np.float64)
        scale = 1.0 / np.sqrt(var + ops.as_float(a["eps"]))
        shift = -mean * scale
        if a["affine"]:
            gamma = self.tensor(f"{bn.path}.weight").astype(np.float64)
            beta = self.tensor(f"{bn.path}.bias").astype(np.float64)
            scale, shift = scale * gamma, shift * gamma + beta
        return scale, shift

    def batchnorm(self, node: Node, a: dict, shape: tuple[int, ...]) -> None:
        if node.path in self.folded:
            self.passthrough(node)
            return
        if not a["track_running_stats"] or f"{node.path}.running_mean" not in self.state:
            raise self.unsupported(node, "it has no running statistics to export")
        scale, shift = self.bn_affine(node)
        c = len(scale)
        self.losses.append((node, f"{node.path} ({_kind(node)}): not folded (it does not directly follow "
                                  "a Conv/Linear used only by it); written as a per-channel affine "
                                  "node with its eval-mode statistics"))
        nir = self.nir
        if len(shape) == 1:
            self.emit(node, nir.Affine(weight=np.diag(scale).astype(np.float32),
                                       bias=shift.astype(np.float32)))
        elif len(shape) in (2, 3):
            w = np.zeros((c, c) + (1,) * (len(shape) - 1), dtype=np.float32)
            w[np.arange(c), np.arange(c)] = scale.reshape(-1, *([1] * (len(shape) - 1)))
            conv = nir.Conv1d if len(shape) == 2 else nir.Conv2d
            ins = shape[1] if len(shape) == 2 else tuple(shape[1:])
            self.emit(node, conv(input_shape=ins, weight=w, stride=1, padding=0, dilation=1, groups=1,
                                 bias=shift.astype(np.float32)))
        else:
            raise self.unsupported(node, f"NIR has no {len(shape) - 1}-d convolution to express it")

    def pool(self, node: Node, kind: str, a: dict, shape: tuple[int, ...]) -> None:
        nir = self.nir
        if len(shape) != 3:
            raise self.unsupported(node, f"NIR pooling takes [C, H, W], got {list(shape)}")
        if kind == "AdaptiveAvgPool2d":
            outs = _out_size(a["output_size"], shape)
            if any(o <= 0 for o in outs):
                raise self.unsupported(node, f"output size {list(outs)} is not positive")
            if any(shape[1 + i] % outs[i] for i in range(2)):
                raise self.unsupported(node, "the input size is not a multiple of the output size")
            k = tuple(shape[1 + i] // outs[i] for i in range(2))
            self.emit(node, nir.AvgPool2d(kernel_size=np.array(k), stride=np.array(k),
                                          padding=np.array((0, 0))), shape)
            return
        k = _two(a["kernel_size"])
        s = _two(a["stride"]) if a["stride"] is not None else k
        p = _two(a["padding"])
        if a["ceil_mode"]:
            raise self.unsupported(node, "NIR pooling has no ceil_mode")
        if kind == "MaxPool2d":
            if a["return_indices"] or _two(a["dilation"]) != (1, 1):
                raise self.unsupported(node, "NIR has no max pooling")
            self.losses.append((node, f"{node.path} (MaxPool2d): NIR has no max pooling; written as "
                                      "AvgPool2d with the same window (an approximation)"))
            cls = nir.AvgPool2d
        elif a["divisor_override"] == 1:
            cls = nir.SumPool2d
        elif a["divisor_override"] is not None:
            raise self.unsupported(node, "NIR pooling has no divisor_override other than 1 (SumPool2d)")
        elif any(p) and not a["count_include_pad"]:
            raise self.unsupported(node, "NIR's AvgPool2d counts padding in the average")
        else:
            cls = nir.AvgPool2d
        self.emit(node, cls(kernel_size=np.array(k), stride=np.array(s), padding=np.array(p)), shape)


def _kind(node: Node) -> str:
    return node.op.kind if isinstance(node.op, (ops.Layer, ops.Merge)) else type(node.op).__name__


def _one(v: Any) -> int:
    return int(v[0]) if isinstance(v, tuple) else int(v)


def _out_size(v: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """AdaptiveAvgPool2d's ``output_size`` for input ``[C, H, W]``: ``none`` (as a whole or
    per entry) keeps that input size."""
    if v is None:
        return (shape[1], shape[2])
    pair = tuple(v) if isinstance(v, tuple) else (v, v)
    if len(pair) == 1:
        pair = (pair[0], pair[0])
    return (shape[1] if pair[0] is None else int(pair[0]), shape[2] if pair[1] is None else int(pair[1]))


def _two(v: Any) -> tuple[int, int]:
    if isinstance(v, tuple):
        return (int(v[0]), int(v[-1])) if len(v) in (1, 2) else (int(v[0]), int(v[1]))
    return (int(v), int(v))


def unfold(ir: IR) -> IR:
    """``ir`` with each ``FoldedNorm`` split back into its layer and its BatchNorm (NIR
    export folds BatchNorm itself, from the weights)."""
    if not any(isinstance(n.op, ops.FoldedNorm) for n in ir.nodes()):
        return ir
    ir = ir.copy()
    for n in list(ir.nodes()):
        if isinstance(n.op, ops.FoldedNorm):
            (x,) = ir.inputs_of(n.path)
            ir.insert_after(x, n.replace(path=n.op.producer_path, op=n.op.producer), users=[n.path])
            ir.set(n.replace(op=n.op.norm))
    return ir


def export_ir(ir: IR, state: Mapping[str, torch.Tensor], dt: float = 1e-4,
              strict: bool = False) -> tuple[Any, list[str]]:
    """``(nir.NIRGraph, loss-report lines)`` for a compiled IR and its weights."""
    ex = _Exporter(unfold(ir), state, dt)
    graph = ex.run()
    if strict and ex.losses:
        node, msg = ex.losses[0]
        more = f" (and {len(ex.losses) - 1} more)" if len(ex.losses) > 1 else ""
        raise NirError(f"NIR cannot express this: {msg}{more}", node.span,
                       "change the model, or export without --strict to get a loss report instead")
    lines = [msg for _, msg in ex.losses]
    for what, paths in ex.notes.items():
        more = f" and {len(paths) - 12} more" if len(paths) > 12 else ""
        lines.append(f"{what}: {', '.join(paths[:12])}{more}")
    return graph, lines
