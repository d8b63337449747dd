"""IR → the Python source of one ``torch.nn.Module`` class.

The output is a file a person could have written: a header naming the source and the
snndsl version; one class named after the model; ``__init__`` creating the layers
under their labels in source order (block instances as ``Block`` namespaces, groups
and repeats as ``nn.Sequential``), so ``state_dict`` keys are exactly the module
paths; and two straight-line forwards, one statement per node:

* ``multi_step_forward`` takes ``[T, N, ...]``: each region flattens its incoming
  values to ``[T*N, ...]`` once, runs all its layers, and unflattens what leaves it;
  neurons run their fused multi-step form; static regions run once on ``[N, ...]``
  and are broadcast over T with ``expand`` (a view).
* ``single_step_forward`` takes ``[N, ...]`` and runs every node once.

Safety: identifiers come from :mod:`.names` (validated and de-clashed), every value
from the `.snn` file reaches the source as ``repr`` of a Python literal, and comments
pass through :func:`comment`, which cannot end a line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from .._version import __version__
from ..ir import ops, registry
from ..ir.graph import IR, Node, Region
from .names import RESERVED, Namespace, is_identifier, module_ref, safe_attribute
from .writer import Writer


@dataclass(frozen=True)
class GeneratedModule:
    source: str
    class_name: str


def comment(text: str) -> str:
    """One comment line: control characters are escaped, so it cannot break out."""
    return "# " + text.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")


def literal(v: ops.Value) -> str:
    """A value as Python source: only literals, through ``repr``."""
    if isinstance(v, ops.SurrogateValue):
        return f"surrogate.{v.name}(" + ", ".join(f"{k}={literal(x)}" for k, x in v.kwargs) + ")"
    if isinstance(v, tuple):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, float) and not math.isfinite(v):  # repr gives `nan`/`inf`: names, not literals
        raise ValueError(f"not a finite float: {v!r}")
    if v is None or isinstance(v, (bool, int, float, str)):
        return repr(v)
    raise TypeError(f"not a literal: {v!r}")


def _call(target: str, args: tuple[ops.Value, ...], kwargs: tuple[tuple[str, ops.Value], ...]) -> str:
    parts = [literal(a) for a in args] + [f"{k}={literal(v)}" for k, v in kwargs]
    for k, _ in kwargs:
        if not is_identifier(k):
            raise ValueError(f"invalid keyword {k!r}")
    return f"{target}({', '.join(parts)})"


def constructor(op: ops.Op) -> str:
    """The expression that builds the module of a layer node."""
    if isinstance(op, ops.StatelessLayer):
        spec = registry.LAYERS[op.kind]
        if op.kind == "Flatten":
            a = registry.bound_arguments(op)
            dims = [d + 1 if d >= 0 else d for d in (a["start_dim"], a["end_dim"])]  # type: ignore[operator]
            return "nn.Flatten()" if dims == [1, -1] else f"nn.Flatten({dims[0]}, {dims[1]})"
        return _call(spec.target, op.args, op.kwargs)
    if isinstance(op, (ops.Neuron, ops.StatefulLayer)):
        spec = registry.LAYERS[op.kind]
        names = [p.name for p in spec.params]
        kw = list(zip(names, op.args)) + list(op.kwargs)
        kw = [("surrogate_function" if k == "surrogate" else k, v) for k, v in kw]
        return _call(spec.target, (), tuple(kw))
    if isinstance(op, ops.TorchModule):
        if not is_identifier(op.kind):
            raise ValueError(f"invalid nn class {op.kind!r}")
        return _call(f"nn.{op.kind}", op.args, op.kwargs)
    if isinstance(op, ops.UserModule):
        if not is_identifier(op.kind):
            raise ValueError(f"invalid alias {op.kind!r}")
        return _call(op.kind, op.args, op.kwargs)
    raise TypeError(f"{type(op).__name__} has no module")


def merge_expr(op: ops.Merge, args: list[str]) -> str:
    if op.kind == "add":
        return " + ".join(args)
    if op.kind == "sub":
        return f"{args[0]} - {args[1]}"
    if op.kind == "mul":
        return f"{args[0]} * {args[1]}"
    if op.kind == "iand":
        return f"(1.0 - {args[0]}) * {args[1]}"
    if op.kind == "cat":
        dim = op.dim if op.dim is not None else 0
        return f"torch.cat(({', '.join(args)},), dim={dim + 1 if dim >= 0 else dim})"
    raise TypeError(op.kind)


class Emitter:
    def __init__(self, ir: IR):
        if "insert-containers" not in ir.passes:
            raise ValueError("codegen needs the IR after insert-containers")
        self.ir = ir
        self.w = Writer()
        self.uses: dict[str, str] = {}  # alias -> import path
        self.modules_used: set[str] = set()

    # -- the module tree --------------------------------------------------------------
    def _tree(self) -> dict[str, list[str]]:
        """Children of every scope path ('' is the model), in source order."""
        children: dict[str, dict[str, None]] = {"": {}}  # dicts: ordered sets
        for n in self.ir.nodes():
            if not isinstance(n.op, ops.Layer):
                continue
            parts = n.path.split(".")
            for i in range(len(parts)):
                parent, child = ".".join(parts[:i]), ".".join(parts[: i + 1])
                children.setdefault(parent, {})[child] = None
        return {k: list(v) for k, v in children.items()}

    def _expr(self, path: str, children: dict[str, list[str]], later: list[str]) -> str:
        if path in self.ir and isinstance(self.ir.node(path).op, ops.Layer):
            return self._ctor(self.ir.node(path).op)
        scope = self.ir.scopes.get(path)
        if scope is not None and scope.kind == "block":
            self.modules_used.add("Block")
            later.append(path)
            return f"Block({scope.name!r})"
        kids = children.get(path, [])
        inner = [self._expr(k, children, later) for k in kids]
        one_line = "nn.Sequential(" + ", ".join(inner) + ")"
        if len(one_line) <= 80 and "\n" not in one_line:
            return one_line
        body = "".join("\n" + "\n".join("    " + ln for ln in item.split("\n")) + "," for item in inner)
        return "nn.Sequential(" + body + "\n)"

    def _ctor(self, op: ops.Op) -> str:
        text = constructor(op)
        root = text.split(".", 1)[0].split("(", 1)[0]
        self.modules_used.add(root)
        if isinstance(op, ops.UserModule):
            self.uses[op.kind] = op.path
        if isinstance(op, ops.Neuron):
            self.modules_used.add("surrogate") if "surrogate." in text else None
        return text

    def _assign(self, path: str, expr: str) -> None:
        parent, _, last = path.rpartition(".")
        owner = module_ref(parent) if parent else "self"
        if safe_attribute(last) and not last.isdigit():
            text = f"{owner}.{last} = {expr}"
        else:
            text = f"{owner}._modules[{last!r}] = {expr}"
        for line in text.split("\n"):
            self.w.line(line)

    def _scope_text(self, scope) -> str:
        if scope.kind == "block":
            return f"{scope.path}: block {scope.name}({scope.args})"
        first = self.ir.scopes.get(scope.path + ".0")
        if first is not None and first.kind == "block":
            return f"{scope.path}: {first.name}({first.args}) {scope.name}"
        return f"{scope.path}: {scope.name}"

    def emit_init(self) -> None:
        children = self._tree()
        w = self.w
        with w.block('def __init__(self, step_mode: str = "m", carry_state: bool = False):'):
            w.line("super().__init__(step_mode, carry_state)")
            pending = list(reversed(children[""]))  # a stack: pop() from the end
            while pending:
                path = pending.pop()
                scope = self.ir.scopes.get(path)
                if scope is not None:
                    w.line(comment(self._scope_text(scope)))
                later: list[str] = []
                self._assign(path, self._expr(path, children, later))
                pending.extend(reversed([c for blk in later for c in children.get(blk, [])]))
            convs = self._channels_last_weights()
            if convs:
                w.line(comment("convolutions of channels-last regions keep their weights channels-last too"))
                for conv in convs:  # (no loop in the output: it would bind a local name)
                    w.line(f"{conv}.to(memory_format=torch.channels_last)")
            w.line("self.step_mode = step_mode")

    def _channels_last_weights(self) -> list[str]:
        """Module references of the convolutions in channels-last regions."""
        refs = []
        for n in self.ir.nodes():
            if (
                n.region is not None
                and self.ir.regions[n.region].layout == "channels_last"
                and isinstance(n.op, ops.StatelessLayer)
                and n.op.kind in ("Conv2d", "ConvTranspose2d")
            ):
                refs.append(module_ref(n.path))
        return refs

    # -- forward ----------------------------------------------------------------------
    def units(self) -> list[list[Node]]:
        """Regions and single nodes in an order that respects every edge."""
        unit_of: dict[str, str] = {}
        for n in self.ir.nodes():
            unit_of[n.path] = n.region or n.path
        q = nx.DiGraph()
        index: dict[str, int] = {}
        for i, n in enumerate(self.ir.nodes()):
            u = unit_of[n.path]
            q.add_node(u)
            index.setdefault(u, i)
        for src, dst, _ in self.ir.edges():
            if unit_of[src] != unit_of[dst]:
                q.add_edge(unit_of[src], unit_of[dst])
        order = list(nx.lexicographical_topological_sort(q, key=index.__getitem__))
        members: dict[str, list[Node]] = {u: [] for u in order}
        for n in self.ir.order():
            members[unit_of[n.path]].append(n)
        return [members[u] for u in order]

    def emit_forward(self, multi: bool) -> None:
        ir, w = self.ir, self.w
        ns = Namespace()
        var: dict[str, str] = {}
        inputs = ir.input_nodes()
        for n in inputs:
            var[n.path] = ns.name(n.op.name)  # type: ignore[attr-defined]
        for n in ir.nodes():
            if not isinstance(n.op, (ops.Input, ops.Output)):
                var[n.path] = ns.name(n.path.replace(".", "_"))
        args = ", ".join(var[n.path] for n in inputs)
        statics = [n for n in inputs if n.op.static]  # type: ignore[attr-defined]
        dynamic = [n for n in inputs if not n.op.static]  # type: ignore[attr-defined]
        if multi:
            w.line("")
            with w.block(f"def multi_step_forward(self, {args}, T: int | None = None):"):
                w.line('"""Inputs ' + ", ".join(self._shape_doc(n, True) for n in inputs) + '."""')
                for n in inputs:
                    w.line(f"self.check_input({n.op.name!r}, {var[n.path]}, {tuple(n.op.shape)!r}, "  # type: ignore[attr-defined]
                           f"{n.op.static!r})")  # type: ignore[attr-defined]
                if dynamic:
                    w.line(f"T, N = {var[dynamic[0].path]}.shape[:2]")
                else:
                    w.line(f"N = {var[statics[0].path]}.shape[0]")
                    w.line("T = self.time_steps(T)")
                seq: dict[str, str] = {}
                for n in statics:
                    if self._needs_seq(n):
                        seq[n.path] = ns.name(var[n.path] + "_seq")
                        w.line(f"{seq[n.path]} = {var[n.path]}.unsqueeze(0).expand(T, *{var[n.path]}.shape)")
                self._body(var, ns, multi=True, seq=seq)
        else:
            w.line("")
            with w.block(f"def single_step_forward(self, {args}):"):
                w.line('"""One time step: inputs ' + ", ".join(self._shape_doc(n, False) for n in inputs) + '."""')
                for n in inputs:
                    w.line(f"self.check_input({n.op.name!r}, {var[n.path]}, {tuple(n.op.shape)!r}, "  # type: ignore[attr-defined]
                           f"{n.op.static!r})")  # type: ignore[attr-defined]
                self._body(var, ns, multi=False, seq={})

    def _shape_doc(self, n: Node, multi: bool) -> str:
        shape = ", ".join(str(d) for d in n.op.shape)  # type: ignore[attr-defined]
        lead = "N" if (n.op.static or not multi) else "T, N"  # type: ignore[attr-defined]
        return f"{n.op.name}: [{lead}, {shape}]"  # type: ignore[attr-defined]

    def _needs_seq(self, n: Node) -> bool:
        for u in self.ir.users_of(n.path):
            user = self.ir.node(u)
            if user.region is None or not self.ir.regions[user.region].static:
                return True
        return False

    def _body(self, var: dict[str, str], ns: Namespace, multi: bool, seq: dict[str, str]) -> None:
        """Statements of one forward. In multi-step mode, ``flat`` names the ``[T*N, ...]``
        form of a value (region members are computed in it), ``seq`` the ``[T, N, ...]`` form."""
        ir, w = self.ir, self.w
        outputs: list[str] = []
        flat: dict[str, str] = {}
        for unit in self.units():
            first = unit[0]
            if first.region is not None:
                self._region(unit, var, ns, multi, seq, flat)
                continue
            if isinstance(first.op, ops.Input):
                continue
            src = ir.inputs_of(first.path)[0]
            x = self._seq_expr(src, var, seq) if multi else var[src]
            if isinstance(first.op, ops.Output):
                outputs.append(x)
                continue
            ref = module_ref(first.path)
            if multi and first.container == "step-loop":
                self.modules_used.add("functional")
                w.line(f"{var[first.path]} = functional.multi_step_forward({x}, {ref})")
            else:
                w.line(f"{var[first.path]} = {ref}({x})")
        w.line("return " + ", ".join(outputs))

    def _seq_expr(self, src: str, var: dict[str, str], seq: dict[str, str]) -> str:
        """The ``[T, N, ...]`` form of ``src`` for a consumer outside any region."""
        node = self.ir.node(src)
        if src in seq:
            return seq[src]
        if node.region is None:
            return var[src]
        if self.ir.regions[node.region].static:
            return f"{var[src]}.expand(T, *{var[src]}.shape)"
        return f"{var[src]}.unflatten(0, (T, N))"

    def _region(self, unit: list[Node], var: dict[str, str], ns: Namespace, multi: bool,
                seq: dict[str, str], flat: dict[str, str]) -> None:
        ir, w = self.ir, self.w
        region = ir.regions[unit[0].region]  # type: ignore[index]
        members = {n.path for n in unit}
        labels = [n.path for n in unit]
        shown = " -> ".join(labels[:6]) + (" -> ..." if len(labels) > 6 else "")
        if multi:
            how = "static: once on [N, ...], then broadcast over T" if region.static else "batched over T*N"
            if region.layout == "channels_last":
                how += ", channels-last"
        else:
            how = "time-batched in multi-step mode"
        w.line(comment(f"{region.name} ({how}): {shown}"))
        local: dict[str, str] = {}
        for n in unit:
            for src in ir.inputs_of(n.path):
                if src in members or src in local:
                    continue
                local[src] = self._entry(src, var, ns, multi, region, seq, flat)
        for n in unit:
            ins = [local.get(s, var[s]) for s in ir.inputs_of(n.path)]
            folded = self._folded_user(n.path)
            if n.container == "folded":
                pass  # computed with its producer
            elif folded is not None:
                helper = "linear_bn" if n.op.kind == "Linear" else "conv_bn"  # type: ignore[attr-defined]
                self.modules_used.add("fused")
                w.line(f"{var[folded]} = fused.{helper}({module_ref(n.path)}, {module_ref(folded)}, {ins[0]})")
            elif isinstance(n.op, ops.Merge):
                w.line(f"{var[n.path]} = {merge_expr(n.op, ins)}")
            else:
                w.line(f"{var[n.path]} = {module_ref(n.path)}({ins[0]})")
            if multi and not region.static:
                flat[n.path] = var[n.path]
                if region.layout == "channels_last":  # the region's layers keep the format
                    flat[n.path + "\0nhwc"] = var[n.path]

    def _folded_user(self, path: str) -> str | None:
        """The BatchNorm folded into the layer at ``path`` (fold-batchnorm), if any."""
        users = self.ir.users_of(path)
        if len(users) == 1 and self.ir.node(users[0]).container == "folded":
            return users[0]
        return None

    def _entry(self, src: str, var: dict[str, str], ns: Namespace, multi: bool, region: Region,
               seq: dict[str, str], flat: dict[str, str]) -> str:
        """The name under which a region reads ``src``, emitting a flatten when needed (and
        the conversion to channels-last memory for such a region's ``[*, C, H, W]`` values)."""
        if not multi:
            return var[src]
        nhwc = region.layout == "channels_last" and len(self.ir.node(src).shape or ()) == 3
        convert = ".contiguous(memory_format=torch.channels_last)" if nhwc else ""
        if region.static:  # reads the [N, ...] value itself, never a flattened [T*N, ...] one
            if not nhwc:
                return var[src]
            key = src + "\0static-nhwc"
            if key not in flat:
                flat[key] = ns.name(var[src] + "_nhwc")
                self.w.line(f"{flat[key]} = {var[src]}{convert}")
            return flat[key]
        key = src + "\0nhwc" if nhwc else src
        if key in flat:
            return flat[key]
        if src in flat:  # already flat (another region's output): only the conversion
            name = ns.name(var[src] + "_nhwc")
            self.w.line(f"{name} = {flat[src]}{convert}")
        else:
            name = ns.name(var[src] + "_flat")
            self.w.line(f"{name} = {self._seq_expr(src, var, seq)}.flatten(0, 1){convert}")
        flat[key] = name
        return name

    # -- the file -----------------------------------------------------------------------
    def emit(self) -> GeneratedModule:
        ir = self.ir
        body = Writer()
        self.w = body
        name = class_name(ir.model, set(self.uses))
        self.emit_init()
        self.emit_forward(multi=True)
        self.emit_forward(multi=False)
        head = Writer()
        head.line(comment(f"Compiled by snndsl {__version__} from {ir.filename!r}, model {ir.model}."))
        head.line(comment("Generated code: edit the .snn file and recompile rather than editing this file."))
        if "torch." in "\n".join(body.lines):
            head.line("import torch")
        head.line("from torch import nn")
        rt = sorted({m for m in self.modules_used if m in ("functional", "fused", "layer", "neuron", "surrogate")})
        head.line("")
        if rt:
            head.line(f"from snndsl.runtime import {', '.join(rt)}")
        head.line("from snndsl.runtime.model import " + ("Block, " if "Block" in self.modules_used else "")
                  + "CompiledModule")
        for alias, path in sorted(self.uses.items()):
            module, _, cls = path.rpartition(".")
            if not all(is_identifier(p) for p in path.split(".")):
                raise ValueError(f"invalid import path {path!r}")
            head.line(f"from {module} import {cls}" + (f" as {alias}" if alias != cls else ""))
        head.line("")
        head.line("")
        if ir.params:
            head.line(comment("parameters: " + ", ".join(f"{k}={ops.format_value(v)}" for k, v in ir.params.items())))
        with head.block(f"class {name}(CompiledModule):"):
            head.line(f'"""The spiking network `{name}`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""')
            head.line("")
            head.extend(body)
        return GeneratedModule(head.text(), name)


def class_name(model: str, aliases: set[str]) -> str:
    """The model's name as a class name that shadows nothing the module uses."""
    import builtins

    name = model if is_identifier(model) else "Model"
    if name in RESERVED or name in aliases or hasattr(builtins, name) or name.startswith("__"):
        name = name.strip("_") + "Model" if name.startswith("__") else name + "_"
    return name


def emit_module(ir: IR) -> GeneratedModule:
    return Emitter(ir).emit()
