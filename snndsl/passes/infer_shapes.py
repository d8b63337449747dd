"""infer-shapes: the per-sample output shape of every node; ``_`` arguments filled in.

Built-in layers use the formulas of :mod:`snndsl.ir.shapes`; ``nn.*`` and ``use``
modules are run once on a meta tensor (no memory is allocated, no data computed).
A mismatch is reported at the span of the stage that cannot take its input, with
both shapes.

A ``prev(h)`` has ``h``'s shape, and ``h`` usually depends on the ``prev``. Without
``prev(h, shape=[...])`` the shape is found from the cycle itself: partial shapes
(unknown rank, or unknown sizes) run along the nodes after the ``prev``, with the rules
that fix them (an ``add`` takes its known operand's shape, a ``cat`` its partner's rank,
a ``Linear`` sets the last size, element-wise layers keep theirs) until ``h`` is known;
then every node gets its shape as usual, and ``h`` must agree with its ``prev``.

    fc (Linear(_, 10))        ==>   fc (Linear(128, 10))  shape [10]
    prev(s) -> rec: Linear(n, n) -> add(fc, rec) -> sn   ==>   prev(s) shape [n] (add's other operand)
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import threading
from collections.abc import Iterator

import torch

from ..diagnostics import SnnError, SnnLimitError, SnnShapeError
from ..ir import ops, registry
from ..ir.graph import IR, Node
from ..ir.ops import INFER
from ..ir.shapes import INFER_FROM, RULES, ShapeProblem, broadcast, fmt, matmul
from ..limits import MAX_ELEMENTS


def fill_inferred(op: ops.Layer, shape: tuple[int, ...]) -> ops.Layer:
    """Replace ``_`` in ``op``'s arguments with the size taken from ``shape``."""
    spec = registry.LAYERS[op.kind]
    if spec.inferable is None or not shape:
        return op
    size = INFER_FROM[spec.inferable](shape)
    names = [p.name for p in spec.params]
    args = tuple(size if (a is INFER and names[i] == spec.inferable) else a for i, a in enumerate(op.args))
    kwargs = tuple((k, size if v is INFER else v) for k, v in op.kwargs)
    return dataclasses.replace(op, args=args, kwargs=kwargs)


def meta_shape(module_factory, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Run a module built by ``module_factory`` on a meta tensor of per-sample ``shape``."""
    with torch.device("meta"):
        module = module_factory()
        out = module(torch.empty((2, *shape), device="meta"))
    if not isinstance(out, torch.Tensor):
        raise ShapeProblem(f"the module returned {type(out).__name__}, not a tensor")
    if out.dim() == 0 or out.shape[0] != 2:
        raise ShapeProblem(f"the module changes the batch dimension (a batch of 2 samples of {fmt(shape)} "
                           f"became {list(out.shape)}): it acts on more dims than a sample has")
    return tuple(out.shape[1:])


def infer_shapes(ir: IR) -> IR:
    order = ir.order()
    prevs = [n for n in order if isinstance(n.op, ops.Prev)]
    after = ir.descendants([n.path for n in prevs]) if prevs else set()
    for node in order:
        if node.path not in after:
            _located(ir, node, _infer_node)
    if prevs:
        shapes = _prev_shapes(ir, order, prevs, after)
        for node in order:
            if isinstance(node.op, ops.Prev):
                ir.set(node.replace(shape=shapes[node.path]))
            elif node.path in after:
                _located(ir, node, _infer_node)
        for p in prevs:
            _check_feedback(ir, ir.node(p.path))
    return ir


def _located(ir: IR, node: Node, infer) -> None:
    try:
        infer(ir, node)
    except SnnError as err:
        err.notes += ir.block_notes(node.path)
        raise


#: a partial shape: ``None`` (nothing known) or sizes with ``None`` for unknown ones
Partial = tuple[int | None, ...] | None


def _prev_shapes(ir: IR, order: list[Node], prevs: list[Node], after: set[str]) -> dict[str, tuple[int, ...]]:
    """The shape of every ``prev``: declared, or found by running partial shapes along
    the cycles until each ``prev``'s source is known (one round per ``prev`` at most)."""
    ops_of = {p.path: _prev(p) for p in prevs}
    known: dict[str, tuple[int, ...]] = {path: op.declared for path, op in ops_of.items() if op.declared is not None}
    for _ in range(len(prevs)):
        partial: dict[str, Partial] = {}
        for node in order:
            if node.path not in after:
                partial[node.path] = ir.node(node.path).shape
            elif isinstance(node.op, ops.Prev):
                partial[node.path] = known.get(node.path)
            else:
                partial[node.path] = _partial(node, [partial[s] for s in ir.inputs_of(node.path)])
        found: dict[str, tuple[int, ...]] = {
            path: tuple(d for d in v if d is not None) for path, op in ops_of.items()
            if path not in known and (v := partial.get(op.source)) is not None and None not in v}
        if not found:
            break
        known.update(found)
    for p in prevs:
        if p.path not in known:
            op = ops_of[p.path]
            raise SnnShapeError(f"cannot find the shape of {op.describe()}: the cycle through it does not "
                                f"fix it", p.span, "state the per-sample shape of the value fed back, e.g. "
                                f"prev({op.name}, shape=[256])")
    return known


def _prev(node: Node) -> ops.Prev:
    assert isinstance(node.op, ops.Prev)
    return node.op


def _partial(node: Node, ins: list[Partial]) -> Partial:
    """What is known of ``node``'s shape from what is known of its inputs'."""
    op = node.op
    if ins and all(s is not None and None not in s for s in ins):
        try:
            return _infer(node, [tuple(s) for s in ins]).shape  # type: ignore[arg-type]
        except (ShapeProblem, SnnError):
            return None  # reported by the real inference, where it has every shape
    if isinstance(op, ops.Merge) and op.kind in (ops.MergeKind.ADD, ops.MergeKind.SUB, ops.MergeKind.MUL) \
            and not op.broadcast:
        return _unify(ins)
    if isinstance(op, ops.Merge) and op.kind is ops.MergeKind.CAT:
        ranked = [s for s in ins if s is not None]
        if not ranked:
            return None
        r = len(ranked[0])
        d = (op.dim or 0) % r if r else 0
        rest = _unify([tuple(None if i == d else x for i, x in enumerate(s)) for s in ranked])
        if rest is None or len(ins) != len(ranked) or any(s[d] is None for s in ranked):
            return rest
        return tuple(sum(s[d] for s in ranked) if i == d else x for i, x in enumerate(rest))  # type: ignore[misc]
    if isinstance(op, ops.Linear):
        out = ops.as_int(registry.bound_arguments(op)["out_features"])
        return (out,) if ins[0] is None else (*ins[0][:-1], out)
    if isinstance(op, (ops.Neuron, ops.StatefulLayer, ops.Activation, ops.Identity, ops.Scale, ops.Poisson,
                       ops.Output)):
        return ins[0]
    return None


def _unify(ins: list[Partial]) -> Partial:
    ranked = [s for s in ins if s is not None]
    if not ranked or len({len(s) for s in ranked}) != 1:
        return None
    return tuple(next((x for x in col if x is not None), None) for col in zip(*ranked))


def _check_feedback(ir: IR, prev: Node) -> None:
    op = _prev(prev)
    source = ir.node(op.source)
    if source.shape != prev.shape:
        assert source.shape is not None and prev.shape is not None
        name = op.name
        said = "is declared" if op.declared is not None else "was found to be"
        raise SnnShapeError(f"prev({name}) {said} {fmt(prev.shape)}, but '{op.source}' is "
                            f"{fmt(source.shape)}", prev.span,
                            f"a value fed back keeps its shape from step to step: write prev({name}, "
                            f"shape={list(source.shape)}) or change the layers of the cycle")


def _infer_node(ir: IR, node: Node) -> None:
    ins: list[tuple[int, ...]] = []
    for p in ir.inputs_of(node.path):
        shape = ir.node(p).shape
        assert shape is not None  # ir.order() puts producers first
        ins.append(shape)
    try:
        new = _infer(node, ins)
    except ShapeProblem as e:
        where = f" (input {', '.join(fmt(s) for s in ins)})" if ins else ""
        raise SnnShapeError(f"{node.op.describe() if not isinstance(node.op, ops.Layer) else node.op.kind} "
                            f"at '{node.path}': {e}", node.span,
                            _hint(node) + where) from None
    if new.shape is not None and math.prod(new.shape) > MAX_ELEMENTS:
        raise SnnShapeError(f"'{node.path}' would produce {math.prod(new.shape):,} elements per sample",
                            node.span, "check the sizes: this cannot fit in memory")
    ir.set(new)


def _hint(node: Node) -> str:
    if isinstance(node.op, ops.Layer) and node.op.kind in registry.LAYERS:
        spec = registry.LAYERS[node.op.kind]
        return f"{spec.kind}: {spec.doc}"
    if isinstance(node.op, (ops.TorchModule, ops.UserModule)):
        return (f"torch refused {node.op.kind} with these arguments on this input: check its arguments "
                "against its documentation")
    return "check the shapes of the values that meet here"


def _infer(node: Node, ins: list[tuple[int, ...]]) -> Node:
    op = node.op
    if isinstance(op, ops.Input):
        return node.replace(shape=op.shape)
    if isinstance(op, ops.Prev):
        return node
    if isinstance(op, ops.Output):
        return node.replace(shape=ins[0])
    if isinstance(op, ops.Merge):
        return node.replace(shape=_merge(op, ins))
    shape = ins[0]
    if isinstance(op, ops.ProgramNeuron):  # a neuron defined in the language: element-wise
        return node.replace(shape=shape)
    if isinstance(op, (ops.StatelessLayer, ops.Neuron, ops.StatefulLayer)):
        op = fill_inferred(op, shape)
        out = RULES[type(op)](registry.bound_arguments(op), shape)
        return node.replace(op=op, shape=tuple(out))
    if isinstance(op, ops.TorchModule):
        cls = getattr(torch.nn, op.kind)
        with probe_budget(node):
            out = _run_meta(lambda: cls(*op.args, **dict(op.kwargs)), shape)
            _probe_cpu(lambda: cls(*op.args, **dict(op.kwargs)), shape)
        return node.replace(shape=out)
    if isinstance(op, ops.UserModule):
        cls = registry.import_use_class(op.path)  # imported (with permission) by elaboration
        with probe_budget(node):
            return node.replace(shape=_run_meta(lambda: cls(*op.args, **dict(op.kwargs)), shape))
    raise ShapeProblem(f"no shape rule for {type(op).__name__}")


#: the largest parameter count / per-sample size that :func:`_probe_cpu` runs for real
PROBE_LIMIT = 1 << 16


#: seconds that building and probing one ``nn.*`` or ``use`` module may take at compile time
PROBE_SECONDS = 5.0


class _OutOfTime(BaseException):  # not an Exception: the probes catch those
    pass


@contextlib.contextmanager
def probe_budget(node: Node, seconds: float | None = None) -> Iterator[None]:
    """Bound the time of probing a module (``nn.RNN(1, 1, 100000)`` builds 100,000
    layers): past ``seconds``, a located :class:`SnnLimitError`. The bound needs
    ``SIGALRM``, so it holds in the main thread of a POSIX process (the CLI's case)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    seconds = PROBE_SECONDS if seconds is None else seconds

    def out_of_time(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime:
        raise SnnLimitError(f"building {node.op.describe()[:80]} at '{node.path}' to find its output shape "
                            f"took more than {seconds:g} s", node.span,
                            "a layer this large is surely a mistake; check its sizes and layer counts") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _probe_cpu(factory, shape: tuple[int, ...]) -> None:
    """Run a small ``nn.*`` module once on one zero sample on the CPU.

    Meta kernels skip some of the checks that the real ones make (``nn.Softmax(dim)``
    out of range, ``nn.CELU(alpha=0)``); a real run of a small module finds them at
    compile time instead of at the model's first call. Large modules are only checked
    on the meta device (no allocation at compile time)."""
    if math.prod(shape) > PROBE_LIMIT:
        return
    try:
        with torch.device("meta"):
            size = sum(p.numel() for p in factory().parameters())
        if size > PROBE_LIMIT:
            return
        with torch.no_grad():
            factory().eval()(torch.zeros((1, *shape)))
    except Exception as e:  # torch's own message says what is wrong
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ShapeProblem(f"{type(e).__name__}: {msg}") from None


def _run_meta(factory, shape: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return meta_shape(factory, shape)
    except ShapeProblem:
        raise
    except Exception as e:  # torch's own message says what is wrong
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ShapeProblem(f"{type(e).__name__}: {msg}") from None


def _merge(op: ops.Merge, ins: list[tuple[int, ...]]) -> tuple[int, ...]:
    first = ins[0]
    if op.kind is ops.MergeKind.CAT:
        dim = op.dim if op.dim is not None else 0
        r = len(first)
        d = dim + r if dim < 0 else dim
        if not 0 <= d < r:
            raise ShapeProblem(f"dim={dim} is out of range for the per-sample shape {fmt(first)} "
                               f"(per-sample dims count from 0; the batch and time dims are implicit)")
        for s in ins[1:]:
            if len(s) != r or any(s[i] != first[i] for i in range(r) if i != d):
                raise ShapeProblem(f"cannot concatenate {fmt(first)} and {fmt(s)} along dim {dim}")
        return (*first[:d], sum(s[d] for s in ins), *first[d + 1 :])
    if op.kind is ops.MergeKind.MATMUL:
        return matmul(ins)
    if op.broadcast:
        return broadcast(ins)
    for s in ins[1:]:
        if s != first:
            hint = " (broadcast=true broadcasts size-1 dims)" if len(s) == len(first) else ""
            raise ShapeProblem(f"operands have different shapes {fmt(first)} and {fmt(s)}{hint}")
    return first
