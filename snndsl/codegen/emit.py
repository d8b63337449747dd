"""IR → the Python source of one ``torch.nn.Module`` class: a printer.

The IR after the last pass is the program; this module prints it and decides nothing.
The output is a file a person could have written: a header naming the source and the
snndsl version; one class named after the model; ``__init__`` creating the modules of
the nodes under their labels in source order (block instances as ``Block``
namespaces, groups and repeats as ``nn.Sequential``), so ``state_dict`` keys are
exactly the module paths; and two straight-line forwards printed from the same
schedule (:meth:`IR.schedule`), one statement per node:

* ``multi_step_forward`` takes ``[T, N, ...]``; each node prints its multi-step form
  (neurons their fused multi-step call; the time plumbing its flatten, unflatten,
  broadcast or layout conversion).
* ``single_step_forward`` takes ``[N, ...]``; plumbing is the identity there.

Safety: identifiers come from :mod:`.names` (validated and de-clashed), every value
from the `.snn` file reaches the source as ``repr`` of a Python literal, and comments
pass through :func:`comment`, which cannot end a line.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._version import __version__
from ..ir import ops, registry
from ..ir.graph import IR, Node
from ..ir.neuron_program import NeuronProgram
from .names import (
    MODULE_GLOBALS,
    RESERVED,
    RUNTIME_MODULES,
    Namespace,
    is_identifier,
    module_ref,
    safe_attribute,
)
from .neuron_code import neuron_class_source
from .writer import INDENT, Writer

#: the longest comment line, indentation included
COMMENT_WIDTH = 100
#: nn.Sequential expressions nested deeper are built by assignments to their children
MAX_NESTING = 20
#: a sum of more operands is written ``sum((b, c, ...), a)`` (the same left-to-right
#: additions; a chain ``a + b + ...`` that long is too deep for Python's compiler)
MAX_CHAIN = 32


@dataclass(frozen=True)
class GeneratedModule:
    source: str
    class_name: str


def comment(text: str) -> str:
    """One comment line: control characters are escaped, so it cannot break out."""
    return "# " + text.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")


def literal(v: ops.ArgValue) -> str:
    """A value as Python source: only literals, through ``repr``."""
    if isinstance(v, ops.SurrogateValue):
        return f"surrogate.{v.name}(" + ", ".join(f"{k}={literal(x)}" for k, x in v.kwargs) + ")"
    if type(v) is tuple:
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float) and not math.isfinite(v):  # repr gives `nan`/`inf`: names, not literals
        raise ValueError(f"not a finite float: {v!r}")
    if v is None or type(v) in (bool, int, float, str):  # exact types: no user __repr__ runs
        return repr(v)
    raise TypeError(f"not a literal: a {type(v).__name__}")


def _call(target: str, args: Sequence[ops.ArgValue], kwargs: Sequence[tuple[str, ops.ArgValue]]) -> str:
    parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in kwargs]
    for k, _ in kwargs:
        if not is_identifier(k):
            raise ValueError(f"invalid keyword {k!r}")
    return f"{target}({', '.join(parts)})"


def constructor(op: ops.Layer) -> str:
    """The expression that builds the module of a layer."""
    if isinstance(op, ops.Flatten):  # per-sample dims in the .snn file, batch dims in torch
        a = registry.bound_arguments(op)
        dims = [d + 1 if d >= 0 else d for d in (ops.as_int(a["start_dim"]), ops.as_int(a["end_dim"]))]
        return "nn.Flatten()" if dims == [1, -1] else f"nn.Flatten({dims[0]}, {dims[1]})"
    if isinstance(op, ops.ProgramNeuron):
        raise TypeError("a neuron defined in the language is built by its generated class (Printer)")
    if isinstance(op, (ops.Neuron, ops.StatefulLayer)):
        spec = registry.LAYERS[op.kind]
        kw = list(zip((p.name for p in spec.params), op.args)) + list(op.kwargs)
        kw = [("surrogate_function" if k == "surrogate" else k, v) for k, v in kw]
        return _call(spec.target, (), tuple(kw))
    if isinstance(op, ops.StatelessLayer):
        return _call(registry.LAYERS[op.kind].target, op.args, op.kwargs)
    if isinstance(op, ops.TorchModule):
        if not is_identifier(op.kind):
            raise ValueError(f"invalid nn class {op.kind!r}")
        return _call(f"nn.{op.kind}", op.args, op.kwargs)
    if isinstance(op, ops.UserModule):
        if not is_identifier(op.kind):
            raise ValueError(f"invalid alias {op.kind!r}")
        return _call(op.kind, op.args, op.kwargs)
    raise TypeError(f"{type(op).__name__} has no module")


def runtime_modules(op: ops.Layer) -> set[str]:
    """The runtime modules that the constructor of ``op`` names."""
    used = set()
    if isinstance(op, ops.ProgramNeuron):
        return {"program", "surrogate"}
    if isinstance(op, ops.Neuron | ops.StatefulLayer | ops.StatelessLayer):
        used.add(registry.LAYERS[op.kind].target.split(".")[0])
    values = [*op.args, *(v for _, v in op.kwargs)]
    if any(isinstance(v, ops.SurrogateValue) for v in values):
        used.add("surrogate")
    return used & set(RUNTIME_MODULES)


def merge_expr(op: ops.Merge, args: list[str]) -> str:
    if op.kind is ops.MergeKind.ADD:
        if len(args) > MAX_CHAIN:
            return f"sum(({', '.join(args[1:])},), {args[0]})"
        return " + ".join(args)
    if op.kind is ops.MergeKind.SUB:
        return f"{args[0]} - {args[1]}"
    if op.kind is ops.MergeKind.MUL:
        return f"{args[0]} * {args[1]}"
    if op.kind is ops.MergeKind.IAND:
        return f"(1.0 - {args[0]}) * {args[1]}"
    if op.kind is ops.MergeKind.MATMUL:
        return f"{args[0]} @ {args[1]}"
    dim = op.dim if op.dim is not None else 0
    return f"torch.cat(({', '.join(args)},), dim={batch_dim(dim)})"


def batch_dim(d: int) -> int:
    """A per-sample dim as a dim of the ``[batch, ...]`` tensor the code sees (negative
    dims count from the end in both)."""
    return d + 1 if d >= 0 else d


def tensor_expr(op: ops.TensorOp, shape: tuple[int, ...], x: str) -> str:
    """The inline expression of a tensor operation on ``x`` (``[batch, ...]``), whose
    per-sample output shape is ``shape``."""
    a = registry.bound_arguments(op)

    def dims(v: ops.ArgValue) -> str:
        ds = tuple(batch_dim(ops.as_int(d)) for d in (v if isinstance(v, tuple) else (v,)))
        return str(ds[0]) if len(ds) == 1 else literal(ds)

    if isinstance(op, ops.Reshape):
        return f"{x}.reshape({x}.shape[0], {', '.join(str(d) for d in shape)})"
    if isinstance(op, ops.Permute):
        return f"{x}.permute(0, {', '.join(str(batch_dim(ops.as_int(d) % len(shape))) for d in op.args)})"
    if isinstance(op, ops.Transpose):
        return f"{x}.transpose({dims(a['dim0'])}, {dims(a['dim1'])})"
    if isinstance(op, (ops.Sum, ops.Mean)):
        name = "sum" if isinstance(op, ops.Sum) else "mean"
        keep = ", keepdim=True" if a["keepdim"] else ""
        return f"{x}.{name}({dims(a['dim'])}{keep})"
    if isinstance(op, ops.Scale):
        return f"{x} * {literal(ops.as_float(a['factor']))}"
    if isinstance(op, ops.Select):
        return f"{x}.select({dims(a['dim'])}, {ops.as_int(a['index'])})"
    if isinstance(op, ops.Chunk):
        return f"{x}.chunk({ops.as_int(a['chunks'])}, {dims(a['dim'])})[{op.index}]"
    if isinstance(op, ops.Poisson):
        return f"torch.rand_like({x}).le({x}).to({x}.dtype)"  # SpikingJelly's PoissonEncoder
    raise TypeError(f"no printer for {type(op).__name__}")


class Printer:
    def __init__(self, ir: IR):
        if "insert-containers" not in ir.passes:
            raise ValueError("codegen needs the IR after insert-containers")
        self.ir = ir
        self.uses: dict[str, str] = {}  # alias -> import path
        self.imports: set[str] = set()  # runtime modules, "Block" and "torch" the code names
        self.schedule = ir.schedule()
        self.step_var: dict[str, str] = {}
        self.steps_list: dict[str, str] = {}
        #: the generated class of each distinct neuron program, in source order
        self.neuron_classes: dict[object, str] = {}
        self.bound_views: set[str] = set()  # plumbing views with a variable (read by a step loop)

    # -- __init__: the module tree ------------------------------------------------------
    def _modules(self) -> dict[str, ops.Layer]:
        return {path: op for n in self.ir.nodes() for path, op in n.op.modules(n.path)}

    def _tree(self, modules: dict[str, ops.Layer]) -> dict[str, list[str]]:
        """Children of every scope path ('' is the model), in source order."""
        children: dict[str, dict[str, None]] = {"": {}}  # dicts: ordered sets
        for path in modules:
            parts = path.split(".")
            for i in range(len(parts)):
                parent, child = ".".join(parts[:i]), ".".join(parts[: i + 1])
                children.setdefault(parent, {})[child] = None
        return {k: list(v) for k, v in children.items()}

    def _expr(self, path: str, modules: dict[str, ops.Layer], children: dict[str, list[str]],
              later: list[str], depth: int = 0) -> str:
        if path in modules:
            op = modules[path]
            self.imports |= runtime_modules(op)
            if isinstance(op, ops.UserModule):
                self.uses[op.kind] = op.path
            if isinstance(op, ops.ProgramNeuron):
                return f"{self.neuron_classes[op.program]}()"
            return constructor(op)
        scope = self.ir.scopes.get(path)
        if scope is not None and scope.kind is ops.ScopeKind.BLOCK:
            self.imports.add("Block")
            later.append(path)
            return f"Block({scope.name!r})"
        if depth >= MAX_NESTING:  # Python's parser takes 200 nested brackets: fill it in later
            later.append(path)
            return "nn.Sequential()"
        inner = [self._expr(k, modules, children, later, depth + 1) for k in children.get(path, [])]
        one_line = "nn.Sequential(" + ", ".join(inner) + ")"
        if len(one_line) <= 80 and "\n" not in one_line:
            return one_line
        body = "".join("\n" + "\n".join(INDENT + ln for ln in item.split("\n")) + "," for item in inner)
        return "nn.Sequential(" + body + "\n)"

    def _assign(self, w: Writer, path: str, expr: str) -> None:
        parent, _, last = path.rpartition(".")
        owner = module_ref(parent) if parent else "self"
        if safe_attribute(last) and not last.isdigit():
            text = f"{owner}.{last} = {expr}"
        else:
            text = f"{owner}._modules[{last!r}] = {expr}"
        for line in text.split("\n"):
            w.line(line)

    def _scope_text(self, scope) -> str:
        if scope.kind is ops.ScopeKind.BLOCK:
            return f"{scope.path}: block {scope.name}({scope.args})"
        first = self.ir.scopes.get(scope.path + ".0")
        if first is not None and first.kind is ops.ScopeKind.BLOCK:
            return f"{scope.path}: {first.name}({first.args}) {scope.name}"
        return f"{scope.path}: {scope.name}"

    def print_init(self, w: Writer) -> None:
        modules = self._modules()
        children = self._tree(modules)
        with w.block('def __init__(self, step_mode: str = "m", carry_state: bool = False):'):
            w.line("super().__init__(step_mode, carry_state)")
            pending = list(reversed(children[""]))  # a stack: pop() from the end
            while pending:
                path = pending.pop()
                scope = self.ir.scopes.get(path)
                if scope is not None:
                    w.line(comment(self._scope_text(scope)))
                later: list[str] = []
                self._assign(w, path, self._expr(path, modules, children, later))
                pending.extend(reversed([c for blk in later for c in children.get(blk, [])]))
            nhwc = [p for p, op in modules.items()
                    if isinstance(op, ops.Conv | ops.ConvTranspose) and op.dims == 2
                    and op.weight_layout is ops.Layout.CHANNELS_LAST]
            if nhwc:
                self.imports.add("torch")
                w.line(comment("convolutions of channels-last regions keep their weights channels-last too"))
                for path in nhwc:  # (no loop in the output: it would bind a local name)
                    w.line(f"{module_ref(path)}.to(memory_format=torch.channels_last)")

    # -- the forwards -------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        ns = Namespace()
        var: dict[str, str] = {}
        base: dict[str, str] = {}  # the name a plumbing node's variable is derived from

        def source(path: str) -> str:
            return base[self.ir.inputs_of(path)[0]]

        for n in self.ir.nodes():  # a node's producers come before it
            if isinstance(n.op, ops.Input):
                var[n.path] = base[n.path] = ns.name(n.op.name)
            elif isinstance(n.op, ops.FlattenTime):
                var[n.path] = ns.name(source(n.path) + "_flat")
                base[n.path] = source(n.path)
            elif isinstance(n.op, ops.ToLayout):
                var[n.path] = ns.name(source(n.path) + "_nhwc")
                base[n.path] = source(n.path)
            elif isinstance(n.op, ops.Plumbing):  # views, read inline
                base[n.path] = source(n.path)
            elif not isinstance(n.op, ops.Output):
                var[n.path] = base[n.path] = ns.name(n.path.replace(".", "_"))
        recurrent = [n for n in self.ir.nodes() if n.container is ops.Container.RECURRENT]
        #: a recurrent-region member's value at step t, where its sequence is read after the loop
        self.step_var = {n.path: ns.name(var[n.path] + "_t") for n in recurrent
                         if not isinstance(n.op, ops.Prev) and self._read_outside(n)}
        #: the list collecting those values, stacked into the sequence after the loop
        self.steps_list = {p: ns.name(var[p] + "_steps") for p in self.step_var}
        for n in recurrent:  # a view read at every step is bound once, before the loop
            for src in self.ir.inputs_of(n.path):
                if src not in var and self.ir.node(src).region != n.region:
                    var[src] = ns.name(base[src] + "_seq")
                    self.bound_views.add(src)
        return var

    def _read_outside(self, n: Node) -> bool:
        """Is the value of recurrent-region member ``n`` read after the region's loop?"""
        return any(self.ir.node(u).region != n.region for u in self.ir.users_of(n.path))

    def print_forward(self, w: Writer, multi: bool) -> None:
        ir = self.ir
        var = self._names()
        inputs = ir.input_nodes()
        args = ", ".join(var[n.path] for n in inputs)
        w.line("")
        if multi:
            header = f"def multi_step_forward(self, {args}, T: int | None = None):"
            doc = "Inputs " + ", ".join(self._shape_doc(n, True) for n in inputs) + "."
        else:
            header = f"def single_step_forward(self, {args}):"
            doc = "One time step: inputs " + ", ".join(self._shape_doc(n, False) for n in inputs) + "."
        with w.block(header):
            w.line(f'"""{doc}"""')
            for n in inputs:
                op = n.op
                assert isinstance(op, ops.Input)
                w.line(f"self.check_input({op.name!r}, {var[n.path]}, {tuple(op.shape)!r}, static={op.static!r})")
            if multi:
                dynamic = [n for n in inputs if isinstance(n.op, ops.Input) and not n.op.static]
                if dynamic:
                    w.line(f"T, N = {var[dynamic[0].path]}.shape[:2]")
                else:
                    w.line(f"N = {var[inputs[0].path]}.shape[0]")
                    w.line("T = self.time_steps(T)")
            expr: dict[str, str] = dict(var)  # how each value is read
            outputs: list[str] = []
            like = var[inputs[0].path]  # zeros of a fed-back value take its dtype and device
            for unit in self.schedule:
                if unit[0].region is not None:
                    w.line(self._region_comment(unit, multi))
                if unit[0].container is ops.Container.RECURRENT:
                    self._recurrent(w, unit, var, expr, like, multi)
                    continue
                for n in unit:
                    x = [expr[s] for s in ir.inputs_of(n.path)]
                    if isinstance(n.op, ops.Output):
                        outputs.append(x[0])
                    elif isinstance(n.op, ops.Input):
                        pass
                    elif isinstance(n.op, ops.Plumbing):
                        self._plumbing(w, n, x[0], var, expr, multi)
                    elif isinstance(n.op, ops.RecurrentNeuron):
                        self._recurrent_neuron(w, n, x[0], var[n.path], like, multi)
                    else:
                        w.line(f"{var[n.path]} = {self._compute(n, x, multi)}")
            if not multi:
                fused = [(n.path, n.op.prev_path) for n in ir.nodes() if isinstance(n.op, ops.RecurrentNeuron)]
                for source, prev in [*ir.feedback(), *fused]:  # the values of this step, read at the next
                    w.line(f"self.store_feedback({prev!r}, {expr[source]})")
            w.line("return " + ", ".join(outputs))

    def _recurrent(self, w: Writer, unit: list[Node], var: dict[str, str], expr: dict[str, str], like: str,
                   multi: bool) -> None:
        """A recurrent region: in ``'m'`` mode a loop over T whose values read outside are
        stacked into ``[T, N, ...]`` after it; in ``'s'`` mode one iteration.

        Not written into a preallocated ``[T, N, ...]`` tensor: under autograd each
        ``out[t] = v`` is a CopySlices node whose backward copies the whole sequence's
        gradient, O(T^2) (twice the step time at T = 100, bench/README.md); one stack
        after the loop splits the gradient once."""
        inside = {n.path for n in unit}
        prevs = [n for n in unit if isinstance(n.op, ops.Prev)]
        for n in prevs:
            assert n.shape is not None and isinstance(n.op, ops.Prev)
            w.line(f"{var[n.path]} = self.feedback({n.path!r}, {like}, (N, {', '.join(map(str, n.shape))}))"
                   if multi else
                   f"{var[n.path]} = self.feedback({n.path!r}, {like}, ({like}.shape[0], "
                   f"{', '.join(map(str, n.shape))}))")
        if not multi:
            for n in unit:
                if not isinstance(n.op, ops.Prev):
                    x = [expr[s] for s in self.ir.inputs_of(n.path)]
                    w.line(f"{var[n.path]} = {self._step(n, x)}")
            return
        steps = {p: v for p, v in self.step_var.items() if p in inside}
        for p in steps:
            w.line(f"{self.steps_list[p]} = []")
        with w.block("for t in range(T):"):
            now = {p: steps.get(p, var[p]) for p in inside}  # each member's value at step t
            for n in unit:
                if isinstance(n.op, ops.Prev):
                    continue
                x = [now[s] if s in inside else f"{expr[s]}[t]" for s in self.ir.inputs_of(n.path)]
                w.line(f"{now[n.path]} = {self._step(n, x)}")
                if n.path in steps:
                    w.line(f"{self.steps_list[n.path]}.append({now[n.path]})")
            for n in prevs:
                assert isinstance(n.op, ops.Prev)
                w.line(f"{var[n.path]} = {now[n.op.source]}")
        for p in steps:
            self.imports.add("torch")
            w.line(f"{var[p]} = torch.stack({self.steps_list[p]})")
        for n in prevs:  # the last step's values, for a next call that carries the state
            w.line(f"self.store_feedback({n.path!r}, {var[n.path]})")

    def _plumbing(self, w: Writer, n: Node, x: str, var: dict[str, str], expr: dict[str, str], multi: bool) -> None:
        """Time plumbing: the identity in single-step mode; views are read inline."""
        if not multi:
            expr[n.path] = x
        elif isinstance(n.op, (ops.UnflattenTime, ops.BroadcastTime)):
            view = f"{x}.unflatten(0, (T, N))" if isinstance(n.op, ops.UnflattenTime) else f"{x}.expand(T, *{x}.shape)"
            if n.path in self.bound_views:
                w.line(f"{var[n.path]} = {view}")
            else:
                expr[n.path] = view
        elif isinstance(n.op, ops.FlattenTime):
            w.line(f"{var[n.path]} = {x}.flatten(0, 1)")
        elif isinstance(n.op, ops.ToLayout):
            self.imports.add("torch")
            w.line(f"{var[n.path]} = {x}.contiguous(memory_format=torch.{n.op.layout})")
        else:
            raise TypeError(f"no printer for {type(n.op).__name__}")

    def _recurrent_neuron(self, w: Writer, n: Node, x: str, out: str, like: str, multi: bool) -> None:
        """The fused recurrent layer: one Function over T in ``'m'`` mode, one step in ``'s'``."""
        op = n.op
        assert isinstance(op, ops.RecurrentNeuron) and n.shape is not None
        size = ", ".join(map(str, n.shape))
        rec = module_ref(op.linear_path)
        if multi:
            self.imports.add("recurrent")
            w.line(comment(f"{n.path}: recurrent layer ({op.linear_path} reads its spikes one step later), "
                           "one fused operation over T"))
            w.line(f"{out} = recurrent.recurrent_neuron(")
            w.line(f"{INDENT}{x}, {rec}.weight, {rec}.bias, {module_ref(n.path)},")
            w.line(f"{INDENT}self.last_feedback({op.prev_path!r}, (N, {size})))")
            w.line(f"self.store_feedback({op.prev_path!r}, {out}[-1])")
        else:
            w.line(f"{out} = {module_ref(n.path)}({x} + {rec}(self.feedback({op.prev_path!r}, {like}, "
                   f"({like}.shape[0], {size}))))")

    def _step(self, n: Node, x: list[str]) -> str:
        """One time step of a recurrent-region member on ``[N, ...]`` (a stateful module's
        single step as a call, so that its hooks see it)."""
        if isinstance(n.op, (ops.Neuron, ops.StatefulLayer)):
            self.imports.add("functional")
            return f"functional.single_step({module_ref(n.path)}, {x[0]})"
        return self._compute(n, x, multi=False)

    def _compute(self, n: Node, x: list[str], multi: bool) -> str:
        op = n.op
        if isinstance(op, ops.Merge):
            if op.kind is ops.MergeKind.CAT:
                self.imports.add("torch")
            return merge_expr(op, x)
        if isinstance(op, ops.TensorOp):
            if isinstance(op, ops.Poisson):
                self.imports.add("torch")
            assert n.shape is not None
            return tensor_expr(op, n.shape, x[0])
        norm = op.norm if isinstance(op, ops.FoldedNorm) else op
        repeated = multi and isinstance(norm, ops.BatchNorm) and norm.time_repeated
        if isinstance(op, ops.FoldedNorm):
            self.imports.add("fused")
            helper = "linear_bn" if isinstance(op.producer, ops.Linear) else "conv_bn"
            return f"fused.{helper}({module_ref(op.producer_path)}, {module_ref(n.path)}, {x[0]}{', T' if repeated else ''})"
        if repeated:  # a static region's norm: statistics as over T equal steps
            self.imports.add("fused")
            return f"fused.repeated_batch_norm({module_ref(n.path)}, {x[0]}, T)"
        if isinstance(op, ops.Conv) and op.dims == 1 and op.weight_layout is ops.Layout.CHANNELS_LAST:
            self.imports.add("fused")
            return f"fused.pointwise_conv1d({module_ref(n.path)}, {x[0]})"
        if isinstance(op, ops.BatchNorm) and op.layout is ops.Layout.CHANNELS_LAST:
            self.imports.add("fused")
            return f"fused.tokens_batch_norm({module_ref(n.path)}, {x[0]})"
        if multi and n.container is ops.Container.STEP_LOOP:
            self.imports.add("functional")
            return f"functional.multi_step_forward({x[0]}, {module_ref(n.path)})"
        return f"{module_ref(n.path)}({x[0]})"

    def _region_comment(self, unit: list[Node], multi: bool) -> str:
        name = unit[0].region
        assert name is not None
        region = self.ir.regions[name]
        if multi:
            how = ("one time step at a time" if region.recurrent else
                   "static: once on [N, ...], then broadcast over T" if region.static else "batched over T*N")
            if region.layout is ops.Layout.CHANNELS_LAST:
                how += ", channels-last"
            head = f"{name} ({how}): "
        else:
            head = f"{name}: "
        labels = [f"{n.op.producer_path}+{n.path}" if isinstance(n.op, ops.FoldedNorm) else n.path
                  for n in unit if not isinstance(n.op, ops.Plumbing)]
        room = COMMENT_WIDTH - 2 * len(INDENT) - len("# ") - len(head)
        shown = " -> ".join(labels)
        if len(shown) > room and len(labels) > 1:  # as many labels as fit before " -> ...", in one pass
            width, keep = 0, 1
            for i, label in enumerate(labels):
                width += len(label) + (4 if i else 0)
                if i and width + len(" -> ...") > room:
                    break
                keep = i + 1
            shown = " -> ".join(labels[:keep]) + " -> ..."
        return comment(head + shown)

    def _shape_doc(self, n: Node, multi: bool) -> str:
        op = n.op
        assert isinstance(op, ops.Input)
        lead = "N" if (op.static or not multi) else "T, N"
        return f"{op.name}: [{lead}, {', '.join(str(d) for d in op.shape)}]"

    # -- the file -----------------------------------------------------------------------
    def _name_neuron_classes(self) -> None:
        """One class per distinct neuron program (``IzhikevichNode``, ``IzhikevichNode_1``,
        ...), named apart from the model class, the ``use`` aliases and the module globals."""
        model = class_name(self.ir.model, set(self.uses))
        taken = {model, *self.uses, *MODULE_GLOBALS}
        for n in self.ir.nodes():
            for _, op in n.op.modules(n.path):
                if isinstance(op, ops.ProgramNeuron) and op.program not in self.neuron_classes:
                    base = (op.kind if is_identifier(op.kind) else "Neuron") + "Node"
                    name, i = base, 1
                    while name in taken or hasattr(builtins, name):
                        name, i = f"{base}_{i}", i + 1
                    taken.add(name)
                    self.neuron_classes[op.program] = name

    def print(self) -> GeneratedModule:
        ir = self.ir
        self.uses = {n.op.kind: n.op.path for n in ir.nodes() if isinstance(n.op, ops.UserModule)}
        self._name_neuron_classes()
        body = Writer()
        self.print_init(body)
        self.print_forward(body, multi=True)
        self.print_forward(body, multi=False)
        name = class_name(ir.model, set(self.uses))
        head = Writer()
        head.line(comment(f"Compiled by snndsl {__version__} from {ir.filename!r}, model {ir.model}."))
        head.line(comment("Generated code: edit the .snn file and recompile rather than editing this file."))
        if "torch" in self.imports or self.neuron_classes:
            head.line("import torch")
        head.line("from torch import nn")
        head.line("")
        runtime = [m for m in RUNTIME_MODULES if m in self.imports]
        if runtime:
            head.line(f"from snndsl.runtime import {', '.join(runtime)}")
        head.line("from snndsl.runtime.model import " + ("Block, " if "Block" in self.imports else "")
                  + "CompiledModule")
        for alias, path in sorted(self.uses.items()):
            module, _, cls = path.rpartition(".")
            if not all(is_identifier(p) for p in path.split(".")):
                raise ValueError(f"invalid import path {path!r}")
            head.line(f"from {module} import {cls}" + (f" as {alias}" if alias != cls else ""))
        head.line("")
        head.line("")
        for program, cls in self.neuron_classes.items():  # the neurons defined in the language
            assert isinstance(program, NeuronProgram)
            for text in neuron_class_source(program, cls).rstrip("\n").split("\n"):
                head.line(text)
            head.line("")
            head.line("")
        if ir.params:
            head.line(comment("parameters: " + ", ".join(f"{k}={ops.format_value(v)}" for k, v in ir.params.items())))
        with head.block(f"class {name}(CompiledModule):"):
            head.line(f'"""The spiking network `{name}`: call it on [T, N, ...] (multi-step) or [N, ...] '
                      '(single-step)."""')
            head.line("")
            stateful = [n.path for n in ir.nodes() if isinstance(n.op, ops.UserModule) and n.op.declared_stateful]
            if stateful:
                head.line(comment("`use ... stateful` modules, reset with the neurons at every new sequence"))
                head.line(f"user_state = {literal(tuple(stateful))}")
                head.line("")
            head.extend(body)
        return GeneratedModule(head.text(), name)


def class_name(model: str, aliases: set[str]) -> str:
    """The model's name as a class name that shadows nothing the module uses."""
    name = model if is_identifier(model) else "Model"
    if name in RESERVED or name in aliases or hasattr(builtins, name) or name.startswith("__"):
        name = name.strip("_") + "Model" if name.startswith("__") else name + "_"
    return name


def emit_module(ir: IR) -> GeneratedModule:
    return Printer(ir).print()
