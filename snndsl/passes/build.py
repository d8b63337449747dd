"""build: AST → IR.

Establishes: one node per layer and merge, keyed by module path; blocks inlined under
their instance label (``layer1.0.conv1``); groups and repeats numbered from 0;
constants and parameters evaluated; ``defaults`` applied; every op resolved to an op
class; inputs as ``input.NAME`` and returned values as ``return.K``.

    model M { input x: [2]; h = x -> fc: Linear(2, 3) -> sn: LIF(); return h }
    ==>
    input.x (Input [2]) -> fc (Linear(2, 3)) -> sn (LIF(tau=2.0...)) -> return.0
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch.nn
from torch.nn.modules.lazy import LazyModuleMixin

from ..codegen.names import MODULE_GLOBALS, shadows_module_global
from ..diagnostics import (
    SnnLimitError,
    SnnNameError,
    SnnPermissionError,
    SnnTypeError,
    SourceSpan,
    UsageError,
    did_you_mean,
)
from ..frontend import ast
from ..frontend.evaluate import Evaluator, bind_arguments
from ..ir import ops, registry
from ..ir.graph import IR, Node, Scope

MAX_REPEAT = 10_000
MAX_NODES = 200_000
MAX_BLOCK_DEPTH = 100  # block instances inside block instances; far more than any network needs
MERGE_KWARGS = {"cat": ("dim",)}
PARAM_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


def snake(name: str) -> str:
    """``Conv2d`` → ``conv2d``, ``BatchNorm2d`` → ``batch_norm2d``, ``PLIF`` → ``plif``."""
    name = name.rsplit(".", 1)[-1]
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return s.lower()


@dataclass
class Body:
    """The state of one body being elaborated (a model, or one block instance)."""

    prefix: str
    constants: dict[str, ops.Value]
    defaults: dict[str, dict[str, ops.Value]]
    values: dict[str, str] = field(default_factory=dict)
    user_labels: dict[str, SourceSpan] = field(default_factory=dict)
    used_labels: set[str] = field(default_factory=set)
    #: names of values read so far (for "input is never used")
    used: set[str] = field(default_factory=set)
    counter: int = 0

    def evaluator(self) -> Evaluator:
        return Evaluator(self.constants, self.values)

    def fresh_label(self, base: str) -> str:
        while True:
            label = f"{base}_{self.counter}"
            self.counter += 1
            if label not in self.user_labels and label not in self.used_labels:
                self.used_labels.add(label)
                return label


def build(
    tree: ast.File,
    model: str | None = None,
    params: Mapping[str, object] | None = None,
    allow_imports: Sequence[str] = (),
) -> IR:
    """Elaborate ``model`` (or the only model) of ``tree`` into an IR."""
    return Builder(tree, allow_imports).build(model, params or {})


class Builder:
    def __init__(self, tree: ast.File, allow_imports: Sequence[str]):
        self.tree = tree
        self.filename = tree.filename
        self.allow_imports = tuple(allow_imports)
        self.constants: dict[str, ops.Value] = {}
        self.defaults: dict[str, dict[str, ops.Value]] = {}
        self.uses: dict[str, ast.UseDecl] = {}
        self.use_classes: dict[str, type] = {}
        self.blocks: dict[str, ast.BlockDef] = {}
        self.models: dict[str, ast.ModelDef] = {}
        self.stack: list[str] = []  # blocks being elaborated, for recursion errors
        self.expansions = 0
        self.ir: IR | None = None

    # -- file level ---------------------------------------------------------------------
    def collect(self) -> None:
        seen: dict[str, SourceSpan] = {}

        def declare(name: str, span: SourceSpan, what: str) -> None:
            if name in seen:
                raise SnnNameError(f"'{name}' is defined twice", span,
                                   f"the first definition is at {seen[name]}; rename one of them")
            if what in ("block", "use") and name in registry.LAYERS:
                raise SnnNameError(f"{what} name '{name}' shadows the built-in layer {name}", span,
                                   "choose another name")
            if what == "use" and shadows_module_global(name):
                raise SnnNameError(f"`use ... as {name}`: '{name}' is a Python keyword or a name the generated "
                                   "module needs", span, "choose another alias; taken are Python keywords and "
                                   f"builtins, dunder names and {', '.join(sorted(MODULE_GLOBALS))}")
            seen[name] = span

        for item in self.tree.items:
            if isinstance(item, ast.LetStmt):
                declare(item.name, item.name_span, "let")
                self.constants[item.name] = Evaluator(self.constants)(item.value)
            elif isinstance(item, ast.DefaultsStmt):
                self._defaults(self.defaults, item, Evaluator(self.constants))
            elif isinstance(item, ast.UseDecl):
                declare(item.alias, item.alias_span or item.span, "use")
                self.uses[item.alias] = item
            elif isinstance(item, ast.BlockDef):
                declare(item.name, item.name_span, "block")
                self.blocks[item.name] = item
            elif isinstance(item, ast.ModelDef):
                declare(item.name, item.name_span, "model")
                self.models[item.name] = item
        for alias, decl in self.uses.items():
            self.use_classes[alias] = self._import_use(decl)

    def _defaults(self, table: dict[str, dict[str, ops.Value]], item: ast.DefaultsStmt, ev: Evaluator) -> None:
        spec = registry.LAYERS.get(item.op)
        if spec is None:
            raise SnnNameError(
                f"defaults for unknown layer '{item.op}'" + did_you_mean(item.op, registry.LAYERS),
                item.op_span, "defaults apply to built-in layers such as LIF or Conv2d",
            )
        if item.args:
            raise SnnTypeError("defaults take keyword arguments only", item.args[0].span,
                               f"write e.g. defaults {item.op}(name=value)")
        given = bind_arguments(item.op, spec.params, (), item.kwargs, ev, item.span, require=False)
        table.setdefault(item.op, {}).update(given)  # type: ignore[arg-type]

    def _import_use(self, decl: ast.UseDecl) -> type:
        module_path, _, cls_name = decl.path.rpartition(".")
        top = decl.path.split(".")[0]
        if not module_path or not any(
            a == top or a == module_path or module_path.startswith(a + ".") for a in self.allow_imports
        ):
            raise SnnPermissionError(
                f"`use {decl.path}` imports Python code, which is not allowed for this file", decl.span,
                f"allow it with `--allow-import {top}` (CLI) or allow_imports={{'{top}'}} (API)",
            )
        try:
            cls = import_use_class(decl.path)
        except Exception as e:  # the user allowed this import; report its failure at the declaration
            raise SnnNameError(f"cannot import {decl.path}: {e}", decl.span,
                               "check the module path and that the package is installed") from None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise SnnTypeError(f"{decl.path} is not a torch.nn.Module class", decl.span,
                               "`use` declares module classes only")
        return cls

    def select(self, name: str | None) -> ast.ModelDef:
        if name is not None:
            if name not in self.models:
                raise UsageError(f"no model named '{name}' in {self.filename}"
                                 + did_you_mean(name, self.models)
                                 + (f"; models: {', '.join(self.models)}" if self.models else ""))
            return self.models[name]
        if len(self.models) == 1:
            return next(iter(self.models.values()))
        if not self.models:
            raise SnnNameError(f"{self.filename} defines no model", SourceSpan.point(self.filename, 1, 1),
                               "add `model Name() { input x: [...] ... return y }`")
        raise UsageError(f"{self.filename} defines several models ({', '.join(self.models)}); "
                         "choose one with --model NAME (API: model=...)")

    def bind_params(self, decl: ast.ModelDef | ast.BlockDef, given: Mapping[str, object],
                    ev: Evaluator, from_api: bool) -> dict[str, ops.Value]:
        known = {p.name: p for p in decl.params}
        out: dict[str, ops.Value] = {}
        for name in given:
            if name not in known:
                raise UsageError(f"model {decl.name} has no parameter '{name}'" + did_you_mean(name, known)
                                 + f"; parameters: {', '.join(known) or 'none'}")
        for p in decl.params:
            if p.name in given:
                value = given[p.name]
                if isinstance(value, str) and from_api is False:
                    value = parse_cli_value(value)
                if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if registry.check_type(PARAM_TYPES[p.type], value) is not None:
                    raise SnnTypeError(f"parameter '{p.name}' of {decl.name} must be {p.type}, got {value!r}",
                                       p.span, f"give it a value of type {p.type} (--set {p.name}=... or params=...)")
                if isinstance(value, float) and not math.isfinite(value):
                    raise SnnTypeError(f"parameter '{p.name}' of {decl.name} is set to {value}, which is not "
                                       "a finite number", p.span,
                                       f"give '{p.name}' a finite value (--set {p.name}=... or params=...)")
                out[p.name] = value  # type: ignore[assignment]
            elif p.default is not None:
                out[p.name] = self._typed(p, ev(p.default))
            else:
                raise SnnTypeError(f"model {decl.name} needs a value for parameter '{p.name}', which has no "
                                   "default", p.span,
                                   f"pass --set {p.name}=... (API: params={{'{p.name}': ...}}) or give it a "
                                   "default in the file")
            ev = Evaluator({**ev.constants, **out})
        return out

    def _typed(self, p: ast.Param, value: ops.Value) -> ops.Value:
        if p.type not in PARAM_TYPES:
            raise SnnTypeError(f"unknown parameter type '{p.type}'", p.span, "types are int, float, bool, str")
        if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        expected = registry.check_type(PARAM_TYPES[p.type], value)
        if expected is not None:
            raise SnnTypeError(f"parameter '{p.name}' is declared {p.type} but gets {value!r}", p.span,
                               f"give it {expected}")
        return value

    # -- model --------------------------------------------------------------------------
    def build(self, model: str | None, params: Mapping[str, object]) -> IR:
        self.collect()
        decl = self.select(model)
        for p in decl.params:
            if p.type not in PARAM_TYPES:
                raise SnnTypeError(f"unknown parameter type '{p.type}'", p.span, "types are int, float, bool, str")
        values = self.bind_params(decl, params, Evaluator(self.constants), from_api=getattr(params, "from_api", True))
        self.ir = IR(model=decl.name, filename=self.filename, params=values)
        body = Body("", {**self.constants, **values}, {k: dict(v) for k, v in self.defaults.items()})
        self.elaborate(decl, body, incoming=None)
        self.ir.passes.append("build")
        return self.ir

    # -- bodies -------------------------------------------------------------------------
    def elaborate(self, decl: ast.ModelDef | ast.BlockDef, body: Body, incoming: str | None) -> str | None:
        """Add the nodes of ``decl``'s body; for a block, return the path of its result."""
        is_model = isinstance(decl, ast.ModelDef)
        self._collect_labels(decl.body, body)
        inputs: list[ast.InputStmt] = []
        returned: str | None = None
        seen_return: ast.ReturnStmt | None = None
        for stmt in decl.body:
            if seen_return is not None:
                raise SnnNameError("statement after `return`", stmt.span,
                                   "`return` ends the body; move this statement before it")
            if isinstance(stmt, ast.InputStmt):
                inputs.append(stmt)
                self._input(stmt, body, is_model, incoming, len(inputs), decl)
            elif isinstance(stmt, ast.LetStmt):
                if stmt.name in body.constants and stmt.name not in self.constants:
                    raise SnnNameError(f"constant '{stmt.name}' is defined twice", stmt.name_span,
                                       "constants cannot be rebound; choose another name")
                body.constants[stmt.name] = body.evaluator()(stmt.value)
            elif isinstance(stmt, ast.DefaultsStmt):
                self._defaults(body.defaults, stmt, body.evaluator())
            elif isinstance(stmt, ast.AssignStmt):
                if stmt.target in body.constants:
                    raise SnnNameError(f"'{stmt.target}' is a constant and cannot name a value",
                                       stmt.target_span, "choose another name for the value")
                body.values[stmt.target] = self.value(stmt.value, body)
            elif isinstance(stmt, ast.ReturnStmt):
                seen_return = stmt
                returned = self._return(stmt, body, is_model, decl)
        kind = "model" if is_model else "block"
        if not inputs:
            raise SnnNameError(f"{kind} {decl.name} has no `input`", decl.name_span,
                               "declare its input: input x" + (": [C, H, W]" if is_model else ""))
        if seen_return is None:
            raise SnnNameError(f"{kind} {decl.name} has no `return`", decl.name_span,
                               "end the body with `return VALUE`")
        for stmt in inputs:
            if stmt.name not in body.used:
                raise SnnNameError(f"input '{stmt.name}' is never used", stmt.name_span,
                                   "use it in a chain or remove the declaration")
        return returned

    def _collect_labels(self, stmts: tuple[ast.Statement, ...], body: Body) -> None:
        def stages_of(value: ast.Value):
            if isinstance(value, ast.Chain):
                yield from stages_of(value.head)
                yield from value.stages
            elif isinstance(value, ast.MergeCall):
                for a in value.args:
                    yield from stages_of(a)

        for stmt in stmts:
            vals = [stmt.value] if isinstance(stmt, ast.AssignStmt) else (
                list(stmt.values) if isinstance(stmt, ast.ReturnStmt) else [])
            for v in vals:
                for st in stages_of(v):
                    if st.label is None:
                        continue
                    if st.label in body.user_labels:
                        raise SnnNameError(f"label '{st.label}' is used twice in this body", st.label_span or st.span,
                                           f"labels are module paths and must be unique; the first is at "
                                           f"{body.user_labels[st.label]}")
                    body.user_labels[st.label] = st.label_span or st.span

    def _input(self, stmt: ast.InputStmt, body: Body, is_model: bool, incoming: str | None,
               count: int, decl) -> None:
        assert self.ir is not None
        if stmt.name in body.values:
            raise SnnNameError(f"input '{stmt.name}' is declared twice", stmt.name_span, "rename one of them")
        if is_model:
            if stmt.shape is None:
                raise SnnTypeError(f"model input '{stmt.name}' needs a per-sample shape", stmt.name_span,
                                   f"write e.g. input {stmt.name}: [1, 28, 28] (without T and N)")
            ev = body.evaluator()
            dims = []
            for d in stmt.shape:
                v = ev(d)
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise SnnTypeError(f"a shape dimension must be a positive integer, got {v!r}", d.span,
                                       "shapes list per-sample sizes, e.g. [3, 32, 32]")
                dims.append(v)
            node = Node(f"input.{stmt.name}", ops.Input(stmt.name, tuple(dims), stmt.static), stmt.span)
            self.ir.add(node)
            body.values[stmt.name] = node.path
            return
        if stmt.static:
            raise SnnTypeError("`static` is only allowed on model inputs", stmt.span,
                               "mark the model's input static; a block sees whatever its caller passes")
        if stmt.shape is not None:
            raise SnnTypeError("a block input takes its shape from the call site", stmt.span,
                               f"write `input {stmt.name}` without a shape")
        if count > 1:
            raise SnnTypeError(f"block {decl.name} declares more than one input", stmt.span,
                               "a block is a stage of a chain and receives exactly one value")
        assert incoming is not None
        body.values[stmt.name] = incoming

    def _return(self, stmt: ast.ReturnStmt, body: Body, is_model: bool, decl) -> str | None:
        assert self.ir is not None
        paths = [self.value(v, body) for v in stmt.values]
        if not is_model:
            if len(paths) != 1:
                raise SnnTypeError(f"block {decl.name} returns {len(paths)} values", stmt.span,
                                   "a block is a stage and returns exactly one value")
            return paths[0]
        for i, p in enumerate(paths):
            out = Node(f"return.{i}", ops.Output(i), stmt.values[i].span)
            self.ir.add(out)
            self.ir.connect(p, out.path, 0)
        return None

    # -- values and chains ---------------------------------------------------------------
    def value(self, value: ast.Value, body: Body) -> str:
        if isinstance(value, ast.NameRef):
            body.used.add(value.id)
            if value.id in body.values:
                return body.values[value.id]
            if value.id in body.constants:
                raise SnnTypeError(f"'{value.id}' is a constant, not a value", value.span,
                                   "a chain starts from an input or a value bound with `=`")
            raise SnnNameError(f"undefined value '{value.id}'" + did_you_mean(value.id, body.values), value.span,
                               "values are inputs and names bound with `name = ...` earlier in the body")
        if isinstance(value, ast.MergeCall):
            return self.merge(value, body)
        path = self.value(value.head, body)
        for stage in value.stages:
            path = self.stage(stage, path, body)
        return path

    def merge(self, call: ast.MergeCall, body: Body) -> str:
        assert self.ir is not None
        if call.op not in registry.MERGES:
            hint = ("layers are stages of a chain: write `x -> " + call.op + "(...)`"
                    if call.op in registry.LAYERS or call.op in self.blocks
                    else "merge operations: " + ", ".join(registry.MERGES))
            raise SnnNameError(f"unknown merge operation '{call.op}'" + did_you_mean(call.op, registry.MERGES),
                               call.op_span, hint)
        lo, hi = registry.MERGES[call.op]
        if len(call.args) < lo or (hi is not None and len(call.args) > hi):
            want = f"exactly {lo}" if hi == lo else f"at least {lo}"
            raise SnnTypeError(f"{call.op} takes {want} values, got {len(call.args)}", call.span,
                               f"e.g. {call.op}(a, b)")
        dim = None
        allowed = MERGE_KWARGS.get(call.op, ())
        for kw in call.kwargs:
            if kw.name not in allowed:
                raise SnnTypeError(f"{call.op} has no argument '{kw.name}'", kw.span,
                                   f"{call.op} takes {'dim=' if allowed else 'only values'}")
            if dim is not None:
                raise SnnTypeError("argument 'dim' is given twice", kw.span, "give it once")
            v = body.evaluator()(kw.value)
            if isinstance(v, bool) or not isinstance(v, int):
                raise SnnTypeError(f"dim must be an integer, got {v!r}", kw.value.span, "dims count per-sample dims from 0")
            dim = v
        if call.op == "cat" and dim is None:
            dim = 0
        inputs = [self.value(a, body) for a in call.args]
        path = body.prefix + body.fresh_label(call.op)
        self.ir.add(Node(path, ops.Merge(call.op, dim), call.span, generated=True))
        for i, src in enumerate(inputs):
            self.ir.connect(src, path, i)
        return path

    def stage(self, stage: ast.Stage, incoming: str, body: Body, path: str | None = None) -> str:
        """Apply ``stage`` to the value at ``incoming``; ``path`` is forced inside groups."""
        if path is None:
            label = stage.label or body.fresh_label(self._base_label(stage))
            path = body.prefix + label
            generated = stage.label is None
        else:
            generated = False
        if stage.repeat is not None:
            n = body.evaluator()(stage.repeat)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise SnnTypeError(f"a repeat count must be a positive integer, got {n!r}", stage.repeat.span,
                                   "write e.g. `layer: Block(64) * 2`")
            if n > MAX_REPEAT:
                raise SnnTypeError(f"repeat count {n} exceeds the limit of {MAX_REPEAT}", stage.repeat.span,
                                   "split the network or use fewer repeats")
            self._scope(Scope(path, "sequence", f"* {n}" if isinstance(stage, ast.OpStage) and stage.op in self.blocks
                              else f"{'group' if isinstance(stage, ast.GroupStage) else stage.op} * {n}", stage.span))
            for i in range(n):
                incoming = self.single(stage, incoming, body, f"{path}.{i}", generated)
            return incoming
        return self.single(stage, incoming, body, path, generated)

    def _base_label(self, stage: ast.Stage) -> str:
        return "group" if isinstance(stage, ast.GroupStage) else snake(stage.op)

    def _scope(self, scope: Scope) -> None:
        assert self.ir is not None
        self.ir.scopes[scope.path] = scope

    def single(self, stage: ast.Stage, incoming: str, body: Body, path: str, generated: bool) -> str:
        if isinstance(stage, ast.GroupStage):
            self._scope(Scope(path, "sequence", "group", stage.span))
            for k, inner in enumerate(stage.stages):
                if inner.label is not None:
                    raise SnnNameError(f"label '{inner.label}' inside a group", inner.label_span or inner.span,
                                       "stages in a group are numbered from 0; remove the label "
                                       f"(this one becomes '{path}.{k}')")
                incoming = self.stage(inner, incoming, body, f"{path}.{k}")
            return incoming
        return self.call(stage, incoming, body, path, generated)

    def call(self, stage: ast.OpStage, incoming: str, body: Body, path: str, generated: bool) -> str:
        assert self.ir is not None
        if len(self.ir) >= MAX_NODES:
            raise SnnTypeError(f"the model exceeds {MAX_NODES} nodes", stage.span, "the network is too large")
        name = stage.op
        if name in self.blocks:
            return self.block(stage, incoming, body, path)
        if name.startswith("nn."):
            op: ops.Op = self.torch_module(stage, body)
        elif name in registry.LAYERS:
            op = self.layer(stage, body)
        elif name in self.uses:
            op = self.user_module(stage, body)
        else:
            if name in registry.MERGES:
                raise SnnNameError(f"'{name}' is a merge operation, not a layer", stage.op_span,
                                   f"merge values with y = {name}(a, b)")
            known = [*registry.LAYERS, *self.blocks, *self.uses]
            raise SnnNameError(f"unknown op '{name}'" + did_you_mean(name, known), stage.op_span,
                               "built-in layers are listed in docs/language.md; other torch.nn layers "
                               "are written nn.Name(...)")
        self.ir.add(Node(path, op, stage.span, generated=generated))
        self.ir.connect(incoming, path, 0)
        return path

    def layer(self, stage: ast.OpStage, body: Body) -> ops.Layer:
        spec = registry.LAYERS[stage.op]
        ev = body.evaluator()
        given = bind_arguments(stage.op, spec.params, stage.args, stage.kwargs, ev, stage.span,
                               inferable=spec.inferable)
        npos = len(stage.args)
        names = [p.name for p in spec.params]
        args = tuple(given[n] for n in names[:npos])
        kwargs = [(k.name, given[k.name]) for k in stage.kwargs]
        for k, v in body.defaults.get(stage.op, {}).items():
            if k not in given:
                kwargs.append((k, v))
        self._check_relations(stage, spec, args, dict(kwargs))
        if stage.op.startswith("AdaptiveAvgPool"):  # `none` keeps every size: torch wants (None, None)
            n = int(stage.op[-2])
            args = tuple((None,) * n if a is None else a for a in args)
            kwargs = [(k, (None,) * n if k == "output_size" and v is None else v) for k, v in kwargs]
        return spec.op_class(stage.op, args, tuple(kwargs))  # type: ignore[arg-type]

    def _check_relations(self, stage: ast.OpStage, spec: registry.LayerSpec, args: tuple,
                         kwargs: dict[str, ops.Value]) -> None:
        """Arguments that are fine alone but not together, reported at the culprit."""
        rule = registry.RELATIONS.get(spec.kind)
        problem = rule(registry.bound(spec, args, kwargs)) if rule else None
        if problem is None:
            return
        culprit, why = problem
        spans = {p.name: a.span for p, a in zip(spec.params, stage.args)}
        spans.update({kw.name: kw.span for kw in stage.kwargs})
        raise SnnTypeError(f"{spec.kind}: {why}", spans.get(culprit, stage.span),
                           f"{spec.kind}({', '.join(p.name for p in spec.params)})")

    def torch_module(self, stage: ast.OpStage, body: Body) -> ops.TorchModule:
        cls_name = stage.op[3:]
        cls = getattr(torch.nn, cls_name, None) if re.fullmatch(r"[A-Z][A-Za-z0-9]*", cls_name) else None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            mods = [n for n in dir(torch.nn) if n[:1].isupper() and isinstance(getattr(torch.nn, n), type)
                    and issubclass(getattr(torch.nn, n), torch.nn.Module)]
            raise SnnNameError(f"torch.nn has no module class '{cls_name}'" + did_you_mean(cls_name, mods),
                               stage.op_span, "nn.Name must name a torch.nn.Module class, e.g. nn.PixelShuffle")
        ev = body.evaluator()
        args = tuple(ev(a) for a in stage.args)
        seen: set[str] = set()
        kwargs = []
        for kw in stage.kwargs:
            if kw.name in seen:
                raise SnnTypeError(f"argument '{kw.name}' is given twice", kw.span, "give each argument once")
            seen.add(kw.name)
            kwargs.append((kw.name, ev(kw.value)))
        for v in (*args, *(v for _, v in kwargs)):
            if isinstance(v, ops.SurrogateValue):
                raise SnnTypeError("surrogate functions can only be passed to neurons", stage.span,
                                   "remove the surrogate argument")
        self._check_torch_module(stage, cls, args, dict(kwargs))
        return ops.TorchModule(cls_name, args, tuple(kwargs))

    def _check_torch_module(self, stage: ast.OpStage, cls: type, args: tuple, kwargs: dict[str, ops.Value]) -> None:
        """What the meta run of infer-shapes cannot see: lazy sizes, placement, the batch dim."""
        if issubclass(cls, LazyModuleMixin):
            raise SnnTypeError(f"{stage.op} is a lazy module, whose sizes are only known after a first call",
                               stage.op_span, f"write the sizes, or use a built-in layer with `_` "
                               f"(e.g. Linear(_, 10)) instead of {stage.op}")
        try:
            bound = inspect.signature(cls).bind_partial(*args, **kwargs).arguments
        except (TypeError, ValueError):  # the meta run of infer-shapes reports bad arguments
            return
        spans = dict(zip(bound, [a.span for a in stage.args]))
        spans.update({kw.name: kw.span for kw in stage.kwargs})
        for name, value in bound.items():
            if name in ("device", "dtype"):
                raise SnnTypeError(f"{stage.op}: the argument '{name}' is not allowed", spans.get(name, stage.span),
                                   "a compiled model is moved and cast as a whole: net.to(device, dtype)")
            if name in ("dim", "start_dim", "end_dim") and value == 0 and not isinstance(value, bool):
                raise SnnTypeError(f"{stage.op}: {name}=0 is the batch dimension", spans.get(name, stage.span),
                                   "T and N are implicit: an nn.* layer sees [batch, *per-sample], so its "
                                   "dims count per-sample dims from 1 (or from the end: -1 is the last)")

    def user_module(self, stage: ast.OpStage, body: Body) -> ops.UserModule:
        decl = self.uses[stage.op]
        ev = body.evaluator()
        args = tuple(ev(a) for a in stage.args)
        kwargs = tuple((kw.name, ev(kw.value)) for kw in stage.kwargs)
        return ops.UserModule(stage.op, args, kwargs, path=decl.path, declared_stateful=decl.kind == "stateful")

    def block(self, stage: ast.OpStage, incoming: str, body: Body, path: str) -> str:
        decl = self.blocks[stage.op]
        self.expansions += 1
        if self.expansions > MAX_NODES:  # blocks that add no node must not run forever
            raise SnnLimitError(f"the model expands more than {MAX_NODES} block instances", stage.span,
                                "reduce the repeat counts of nested blocks")
        if len(self.stack) >= MAX_BLOCK_DEPTH:
            raise SnnLimitError(f"blocks are nested more than {MAX_BLOCK_DEPTH} deep here "
                                f"({' -> '.join(self.stack[:3])} -> ... -> {decl.name})", stage.span,
                                "flatten the chain of blocks: a block may call another, but not this deep")
        if decl.name in self.stack:
            chain = " -> ".join([*self.stack[self.stack.index(decl.name):], decl.name])
            raise SnnNameError(f"block {decl.name} uses itself ({chain})", stage.op_span,
                               "blocks cannot be recursive; use a repeat (`Block(...) * n`) instead")
        params = tuple(registry.ParamSpec(p.name, PARAM_TYPES.get(p.type, "any"), None, required=p.default is None)
                       for p in decl.params)
        for p in decl.params:
            if p.type not in PARAM_TYPES:
                raise SnnTypeError(f"unknown parameter type '{p.type}'", p.span, "types are int, float, bool, str")
        # ints are accepted where floats are declared
        given = bind_arguments(decl.name, tuple(registry.ParamSpec(p.name, "float" if p.type == "float" else p.type,
                                                                     None, p.required) for p in params),
                               stage.args, stage.kwargs, body.evaluator(), stage.span)
        ev = Evaluator(self.constants)
        values: dict[str, ops.Value] = {}
        for p in decl.params:
            if p.name in given:
                v = given[p.name]
                values[p.name] = float(v) if p.type == "float" and isinstance(v, int) else v  # type: ignore[assignment]
            else:
                values[p.name] = self._typed(p, ev(p.default))  # type: ignore[arg-type]
            ev = Evaluator({**self.constants, **values})
        args_text = ", ".join(f"{k}={ops.format_value(v)}" for k, v in values.items())
        self._scope(Scope(path, "block", decl.name, stage.span, args_text))
        inner = Body(path + ".", {**self.constants, **values}, {k: dict(v) for k, v in self.defaults.items()})
        self.stack.append(decl.name)
        try:
            result = self.elaborate(decl, inner, incoming)
        finally:
            self.stack.pop()
        assert result is not None
        return result


def import_use_class(path: str) -> type:
    """Import ``pkg.mod.Class``; only called for paths the caller allowed."""
    module_path, _, cls_name = path.rpartition(".")
    return getattr(importlib.import_module(module_path), cls_name)


def parse_cli_value(text: str) -> object:
    """``--set K=V`` values: ints, floats, true/false, none, else the string itself."""
    t = text.strip()
    if t in ("true", "false"):
        return t == "true"
    if t == "none":
        return None
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1]
    return t


class CliParams(dict):
    """Parameters from the command line: string values are parsed as literals."""

    from_api = False


__all__ = ["build", "snake", "parse_cli_value", "CliParams", "import_use_class"]
