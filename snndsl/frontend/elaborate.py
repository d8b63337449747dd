"""Elaboration: AST → IR (the compiler's first stage, recorded in ``IR.passes`` as "build").

Establishes: one node per layer and merge, keyed by module path; blocks inlined under
their instance label (``layer1.0.conv1``); groups and repeats numbered from 0;
constants and parameters evaluated; ``defaults`` applied; every op resolved to an op
class; inputs as ``input.NAME`` and returned values as ``return.K``.

    model M { input x: [2]; h = x -> fc: Linear(2, 3) -> sn: LIF(); return h }
    ==>
    input.x (Input [2]) -> fc (Linear(2, 3)) -> sn (LIF(tau=2.0...)) -> return.0

File-level declarations are collected by :mod:`.declarations`, layer calls by
:mod:`.calls`; this module elaborates bodies, chains, merges, groups, repeats and blocks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..diagnostics import (
    SnnError,
    SnnLimitError,
    SnnNameError,
    SnnTypeError,
    SourceSpan,
    did_you_mean,
)
from ..ir import ops, registry
from ..ir.graph import IR, Node, Scope
from . import ast
from .calls import layer_op, torch_module_op, user_module_op
from .declarations import PARAM_TYPES, Declarations
from .evaluate import Evaluator, bind_arguments, shown
from .neurons import neuron_op, with_prelude_source
from .prelude import PRELUDE_NAME, prelude_text

MAX_REPEAT = 10_000
MAX_CHUNKS = 1_000
MAX_NODES = 200_000
MAX_ERRORS = 10  # independent errors reported in one run
#: the value of a statement that failed (its error is reported; what uses it is skipped)
POISON = "\0error"
MAX_NOTES = 8  # block instantiations shown under an error, innermost first
MAX_BLOCK_DEPTH = 100  # block instances inside block instances; far more than any network needs
MERGE_KWARGS: dict[str, tuple[str, ...]] = {
    ops.MergeKind.CAT: ("dim",), ops.MergeKind.ADD: ("broadcast",), ops.MergeKind.SUB: ("broadcast",),
    ops.MergeKind.MUL: ("broadcast",),
}


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
    #: names bound anywhere in the body (a forward reference to one needs ``prev``)
    bound: set[str] = field(default_factory=set)
    #: ``prev(name)`` nodes waiting for the final binding of ``name``: (node, name, span)
    pending_prev: list[tuple[str, str, SourceSpan]] = field(default_factory=list)

    def evaluator(self) -> Evaluator:
        return Evaluator(self.constants, self.values)

    def fresh_label(self, base: str) -> str:
        while True:
            label = f"{base}_{self.counter}"
            self.counter += 1
            if label not in self.user_labels and label not in self.used_labels:
                self.used_labels.add(label)
                return label

def _within(inner: SourceSpan, outer: SourceSpan) -> bool:
    return inner.filename == outer.filename and (outer.line, outer.column) <= (inner.line, inner.column) \
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)


def elaborate(
    tree: ast.File,
    model: str | None = None,
    params: Mapping[str, object] | None = None,
    allow_imports: Sequence[str] = (),
) -> IR:
    """Elaborate ``model`` (or the only model) of ``tree`` into an IR."""
    return Elaborator(tree, allow_imports).run(model, params or {})


class Elaborator(Declarations):
    def __init__(self, tree: ast.File, allow_imports: Sequence[str]):
        super().__init__(tree, allow_imports)
        self.stack: list[str] = []  # blocks being elaborated, for recursion errors
        self.instances: list[str] = []  # notes naming the block instances being elaborated
        self.expansions = 0
        self.ir: IR | None = None
        self.errors: list[SnnError] = []
        self._seen: set[tuple[SourceSpan, str]] = set()
        #: several values (a ``Chunk``, a block returning several) under a key that is no
        #: node's path: ``key -> (paths, what made them)``; only a destructuring
        #: assignment or a ``return`` may take them
        self.multi: dict[str, tuple[tuple[str, ...], str]] = {}

    # -- several errors per run ---------------------------------------------------------
    def report(self, e: SnnError) -> None:
        """Record an error and go on with the next statement (at most MAX_ERRORS; the same
        error from several block instances once)."""
        if not e.notes:
            e.notes = list(reversed(self.instances))[:MAX_NOTES]
        key = (e.span, e.message)
        if key not in self._seen:
            self._seen.add(key)
            self.errors.append(e)
        if len(self.errors) >= MAX_ERRORS:
            raise self._all_errors()

    def _all_errors(self) -> SnnError:
        first, *others = self.errors
        first.others = others
        return first

    def run(self, model: str | None, params: Mapping[str, object]) -> IR:
        self.collect()
        decl = self.select(model)
        values = self.bind_params(decl, params, Evaluator(self.constants), from_api=getattr(params, "from_api", True))
        self.ir = IR(model=decl.name, filename=self.filename, params=values)
        body = Body("", {**self.constants, **values}, {k: dict(v) for k, v in self.defaults.items()})
        try:
            self.elaborate(decl, body, incoming=None)
        except SnnError as e:
            if e not in self.errors:
                self.report(e)
        if self.errors:
            raise self._all_errors()
        self.ir.passes.append("build")
        return self.ir

    # -- bodies -------------------------------------------------------------------------
    def elaborate(self, decl: ast.ModelDef | ast.BlockDef, body: Body, incoming: str | None) -> str | None:
        """Add the nodes of ``decl``'s body; for a block, return the path of its result."""
        is_model = isinstance(decl, ast.ModelDef)
        self._collect_labels(decl.body, body)
        body.bound = {name for st in decl.body if isinstance(st, ast.AssignStmt)
                      for name in (st.target, *(n for n, _ in st.more))}
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
                for name, span in stmt.more:
                    if name in body.constants:
                        raise SnnNameError(f"'{name}' is a constant and cannot name a value", span,
                                           "choose another name for the value")
                targets = [stmt.target, *(name for name, _ in stmt.more)]
                try:
                    paths = self._bind(stmt, body) if stmt.more else (self.value(stmt.value, body),)
                except SnnError as e:  # go on: later statements may hold independent errors
                    self.report(e)
                    paths = (POISON,) * len(targets)
                body.values.update(zip(targets, paths))
            elif isinstance(stmt, ast.ReturnStmt):
                seen_return = stmt
                try:
                    returned = self._return(stmt, body, is_model, decl)
                except SnnError as e:
                    self.report(e)
                    returned = POISON
        self._resolve_prev(body)
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
                    raise SnnTypeError(f"a shape dimension must be a positive integer, got {shown(v)}", d.span,
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
        returned = [(p, v.span) for v in stmt.values for p in self.values(v, body)]
        paths = [p for p, _ in returned]
        if POISON in paths:  # an error was reported where the value was made
            return POISON
        if not is_model:
            if len(paths) != 1:  # bound by `a, b = x -> Block()`
                return self._several(tuple(paths), f"block {decl.name}")
            return paths[0]
        for i, (p, span) in enumerate(returned):
            out = Node(f"return.{i}", ops.Output(i), span)
            self.ir.add(out)
            self.ir.connect(p, out.path, 0)
        return None

    def _bind(self, stmt: ast.AssignStmt, body: Body) -> tuple[str, ...]:
        """The values of ``a, b, c = chain``: as many as there are names."""
        paths = self.values(stmt.value, body)
        want = 1 + len(stmt.more)
        if paths == (POISON,):
            return (POISON,) * want
        if len(paths) != want:
            made = self._made_by(stmt.value)
            raise SnnTypeError(f"{want} names for {len(paths)} value{'s' if len(paths) != 1 else ''}"
                               + (f" ({made} gives {len(paths)})" if made and len(paths) > 1 else ""),
                               SourceSpan(stmt.target_span.filename, stmt.target_span.line,
                                          stmt.target_span.column, stmt.more[-1][1].end_line,
                                          stmt.more[-1][1].end_column),
                               "give one name per value" if len(paths) > 1 else
                               "only a Chunk or a block that returns several values gives several values")
        return paths

    def _made_by(self, value: ast.Value) -> str | None:
        if isinstance(value, ast.Chain) and value.stages:
            last = value.stages[-1]
            return last.op if isinstance(last, ast.OpStage) else "the group"
        return None

    # -- values and chains ---------------------------------------------------------------
    def value(self, value: ast.Value, body: Body) -> str:
        """The one value of ``value``; a chain that gives several is a located error."""
        paths = self.values(value, body)
        if len(paths) != 1:
            made = self._made_by(value) or "this"
            raise SnnTypeError(f"{made} gives {len(paths)} values, where one is expected", value.span,
                               f"bind them to names first: {', '.join('abcdefgh'[:min(len(paths), 8)])}"
                               f"{', ...' if len(paths) > 8 else ''} = ...")
        return paths[0]

    def values(self, value: ast.Value, body: Body) -> tuple[str, ...]:
        """The values of ``value``: one, or several from a ``Chunk`` or a block returning several."""
        if isinstance(value, ast.NameRef):
            body.used.add(value.id)
            if value.id in body.values:
                return (body.values[value.id],)
            if value.id in body.constants:
                raise SnnTypeError(f"'{value.id}' is a constant, not a value", value.span,
                                   "a chain starts from an input or a value bound with `=`")
            if value.id in body.bound:
                raise SnnNameError(f"'{value.id}' is used before it is bound", value.span,
                                   f"a value bound later in the body is read one time step earlier with "
                                   f"prev({value.id}): that is how feedback is written")
            raise SnnNameError(f"undefined value '{value.id}'" + did_you_mean(value.id, body.values), value.span,
                               "values are inputs and names bound with `name = ...` earlier in the body")
        if isinstance(value, ast.MergeCall):
            if value.op == "prev":
                return (self.prev(value, body),)
            return (self.merge(value, body),)
        path = self.value(value.head, body)
        for stage in value.stages:
            path = self.stage(stage, path, body)
        return self.multi[path][0] if path in self.multi else (path,)

    # -- feedback -----------------------------------------------------------------------
    def prev(self, call: ast.MergeCall, body: Body) -> str:
        """``prev(h)``, ``prev(h, shape=[...])``: a node reading the final binding of ``h``
        one time step earlier; the binding is found when the body ends."""
        assert self.ir is not None
        arg = call.args[0] if len(call.args) == 1 else None
        if isinstance(arg, ast.Chain) and not arg.stages:
            arg = arg.head
        if not isinstance(arg, ast.NameRef):
            what = (f"one value, got {len(call.args)}" if len(call.args) != 1
                    else "the name of a value, not a chain or a merge")
            raise SnnTypeError(f"prev takes {what}", call.span,
                               "bind the value to a name and feed the name back: s = ... -> sn: LIF(), prev(s)")
        declared = None
        for kw in call.kwargs:
            if kw.name != "shape":
                raise SnnTypeError(f"prev has no argument '{kw.name}'", kw.span,
                                   "prev takes a value and, where the cycle does not fix it, shape=[...]")
            if declared is not None:
                raise SnnTypeError("argument 'shape' is given twice", kw.span, "give it once")
            v = body.evaluator()(kw.value)
            dims = v if isinstance(v, tuple) else (v,)
            if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in dims):
                raise SnnTypeError(f"shape must list positive sizes, got {shown(v)}", kw.value.span,
                                   "the per-sample shape of the value fed back, e.g. shape=[256]")
            declared = tuple(int(d) for d in dims)  # type: ignore[arg-type]  # checked positive ints above
        name = arg.id
        if name in body.constants and name not in body.values and name not in body.bound:
            raise SnnTypeError(f"'{name}' is a constant, not a value", arg.span,
                               "prev reads a value bound with `=` or an input")
        if name not in body.values and name not in body.bound:
            raise SnnNameError(f"undefined value '{name}'" + did_you_mean(name, body.values), arg.span,
                               "prev(h) reads a value bound in this body (before or after the prev)")
        body.used.add(name)
        path = body.prefix + body.fresh_label(f"prev_{name}")
        self.ir.add(Node(path, ops.Prev("", declared, name), call.span, generated=True))
        body.pending_prev.append((path, name, arg.span))
        return path

    def _resolve_prev(self, body: Body) -> None:
        """Point every ``prev(h)`` of the body at the final binding of ``h``."""
        assert self.ir is not None
        for path, name, span in body.pending_prev:
            source = body.values.get(name)
            if source is None or source == POISON:  # its error is reported where it was bound
                continue
            if source == path:
                self.report(SnnNameError(f"prev({name}) reads itself: '{name}' is bound to this prev", span,
                                         f"feed back a value computed from the prev, e.g. "
                                         f"{name} = prev({name}) -> fc: Linear(...) -> sn: LIF()"))
                continue
            if source in self.multi:
                self.report(SnnTypeError(f"'{name}' holds several values; prev takes one", span,
                                         "bind them to names first: a, b = ... and prev(a)"))
                continue
            op = self.ir.node(path).op
            assert isinstance(op, ops.Prev)
            self.ir.update(path, op=replace(op, source=source))
        body.pending_prev.clear()

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
        dim, broadcast = None, False
        allowed = MERGE_KWARGS.get(call.op, ())
        seen: set[str] = set()
        for kw in call.kwargs:
            if kw.name not in allowed:
                takes = ", ".join(f"{k}=" for k in allowed) if allowed else "only values"
                raise SnnTypeError(f"{call.op} has no argument '{kw.name}'", kw.span, f"{call.op} takes {takes}")
            if kw.name in seen:
                raise SnnTypeError(f"argument '{kw.name}' is given twice", kw.span, "give it once")
            seen.add(kw.name)
            v = body.evaluator()(kw.value)
            if kw.name == "broadcast":
                if not isinstance(v, bool):
                    raise SnnTypeError(f"broadcast must be true or false, got {shown(v)}", kw.value.span,
                                       "broadcast=true broadcasts size-1 dims between operands of equal rank")
                broadcast = v
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise SnnTypeError(f"dim must be an integer, got {shown(v)}", kw.value.span,
                                   "dims count per-sample dims from 0")
            dim = v
        kind = ops.MergeKind(call.op)
        if kind is ops.MergeKind.CAT and dim is None:
            dim = 0
        inputs = [self.value(a, body) for a in call.args]
        if POISON in inputs:
            return POISON
        path = body.prefix + body.fresh_label(call.op)
        self.ir.add(Node(path, ops.Merge(kind, dim, broadcast), call.span, generated=True))
        self.ir.connect_all(inputs, path)
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
                raise SnnTypeError(f"a repeat count must be a positive integer, got {shown(n)}", stage.repeat.span,
                                   "write e.g. `layer: Block(64) * 2`")
            if n > MAX_REPEAT:
                raise SnnTypeError(f"repeat count {n} exceeds the limit of {MAX_REPEAT}", stage.repeat.span,
                                   "split the network or use fewer repeats")
            self._scope(Scope(path, ops.ScopeKind.SEQUENCE, f"* {n}" if isinstance(stage, ast.OpStage) and stage.op in self.blocks
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
            self._scope(Scope(path, ops.ScopeKind.SEQUENCE, "group", stage.span))
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
            self._single_incoming(stage, incoming)
            return POISON if incoming == POISON else self.block(stage, incoming, body, path)
        if name.startswith("nn."):
            op: ops.Op = torch_module_op(stage, body.evaluator())
        elif name in self.neurons:
            op = self.neuron(stage, body, path)
        elif name in registry.LAYERS:
            op = layer_op(stage, body.evaluator(), body.defaults)
        elif name in self.uses:
            op = user_module_op(stage, body.evaluator(), self.uses[name])
        else:
            if name in registry.MERGES:
                raise SnnNameError(f"'{name}' is a merge operation, not a layer", stage.op_span,
                                   f"merge values with y = {name}(a, b)")
            known = [*registry.LAYERS, *self.neurons, *self.blocks, *self.uses]
            raise SnnNameError(f"unknown op '{name}'" + did_you_mean(name, known), stage.op_span,
                               "built-in layers are listed in docs/language.md; other torch.nn layers "
                               "are written nn.Name(...)")
        if incoming == POISON:  # the op was checked; there is no value to apply it to
            return POISON
        self._single_incoming(stage, incoming)
        if isinstance(op, ops.Chunk):
            return self._chunk(stage, op, incoming, path, generated)
        self.ir.add(Node(path, op, stage.span, generated=generated))
        self.ir.connect(incoming, path, 0)
        return path

    def neuron(self, stage: ast.OpStage, body: Body, path: str) -> ops.ProgramNeuron:
        """A call of a neuron definition: its program, with the header arguments bound.
        A prelude neuron sees no constant of the file; a file's neuron sees the file's."""
        decl = self.neurons[stage.op]
        self.instances.append(f"in neuron {decl.name}, used as `{path}` at {stage.span}")
        try:
            return neuron_op(decl, stage, body.evaluator(), body.defaults, {} if decl.prelude else self.constants)
        except SnnError as e:
            if not e.notes and e.span is not None and e.span != stage.span and not _within(e.span, stage.span):
                e.notes = list(reversed(self.instances))[:MAX_NOTES]
            raise with_prelude_source(e, PRELUDE_NAME, prelude_text()) from None
        finally:
            self.instances.pop()

    def _single_incoming(self, stage: ast.OpStage, incoming: str) -> None:
        if incoming in self.multi:
            paths, made = self.multi[incoming]
            raise SnnTypeError(f"{made} gives {len(paths)} values; a chain goes on from one", stage.span,
                               f"bind them to names first (a, b = ... -> {made}), then continue each")

    def _chunk(self, stage: ast.OpStage, op: ops.Chunk, incoming: str, path: str, generated: bool) -> str:
        """``Chunk(n)``: n nodes ``path.0`` ... ``path.{n-1}``, one per part."""
        assert self.ir is not None
        n = ops.as_int(registry.bound_arguments(op)["chunks"])
        if n > MAX_CHUNKS:
            raise SnnTypeError(f"Chunk({n}) makes more than {MAX_CHUNKS} values", stage.span, "use fewer chunks")
        parts = []
        for i in range(n):
            part = f"{path}.{i}"
            self.ir.add(Node(part, replace(op, index=i), stage.span, generated=generated))
            self.ir.connect(incoming, part, 0)
            parts.append(part)
        return self._several(tuple(parts), f"Chunk({n})")

    def _several(self, paths: tuple[str, ...], made: str) -> str:
        key = f"\0values{len(self.multi)}"
        self.multi[key] = (paths, made)
        return key

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
        # ints are accepted where floats are declared
        given = bind_arguments(decl.name, tuple(registry.ParamSpec(p.name, "float" if p.type == "float" else p.type,
                                                                     None, p.required) for p in params),
                               stage.args, stage.kwargs, body.evaluator(), stage.span)
        values: dict[str, ops.Value] = {}
        constants = dict(self.constants)  # grows: each default sees the parameters before it
        ev = Evaluator(constants)
        for p in decl.params:
            if p.name in given:
                v = given[p.name]
                values[p.name] = float(v) if p.type == "float" and isinstance(v, int) else v
            else:
                assert p.default is not None  # bind_arguments requires the parameters without one
                values[p.name] = self._typed(p, ev(p.default))
            constants[p.name] = values[p.name]
        args_text = ", ".join(f"{k}={ops.format_value(v)}" for k, v in values.items())
        self._scope(Scope(path, ops.ScopeKind.BLOCK, decl.name, stage.span, args_text))
        inner = Body(path + ".", {**self.constants, **values}, {k: dict(v) for k, v in self.defaults.items()})
        self.stack.append(decl.name)
        self.instances.append(f"in block {decl.name}, used as `{path}` at {stage.span}")
        try:
            result = self.elaborate(decl, inner, incoming)
        except SnnError as e:
            if not e.notes:
                e.notes = list(reversed(self.instances))[:MAX_NOTES]
            raise
        finally:
            self.stack.pop()
            self.instances.pop()
        assert result is not None
        return result
