"""Elaboration, file level: what a `.snn` file declares before any body is elaborated.

``let`` constants, ``defaults``, ``use`` declarations (imported here, with permission),
neurons (the prelude's, then the file's, each checked: :mod:`.neurons`), blocks and
models, each name declared once; the model to build chosen; its parameters
bound from ``params`` (API) or ``--set`` (CLI) over the defaults in the file. Parameter
types are checked by the parser, so they are not checked again here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch.nn

from ..codegen.names import MODULE_GLOBALS, shadows_module_global
from ..diagnostics import (
    SnnNameError,
    SnnPermissionError,
    SnnTypeError,
    SourceSpan,
    UsageError,
    did_you_mean,
    shown_items,
)
from ..ir import ops, registry
from . import ast
from .evaluate import MAX_INT, Evaluator, bind_arguments, shown
from .neurons import NeuronDecl, check_definition, header_specs
from .prelude import prelude_neurons

PARAM_TYPES = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


class Declarations:
    """The declarations of one file, collected in source order."""

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
        #: the neurons callable in this file: the prelude's, and the file's (which may
        #: override a prelude one)
        self.neurons: dict[str, NeuronDecl] = dict(prelude_neurons())

    def collect(self) -> None:
        seen: dict[str, SourceSpan] = {}
        prelude = prelude_neurons()

        def declare(name: str, span: SourceSpan, what: str) -> None:
            if name in seen:
                raise SnnNameError(f"'{name}' is defined twice", span,
                                   f"the first definition is at {seen[name]}; rename one of them")
            if what in ("block", "use", "neuron") and name in registry.LAYERS:
                raise SnnNameError(f"{what} name '{name}' shadows the built-in layer {name}", span,
                                   "choose another name" + (" (built-in layers cannot be redefined as neurons yet)"
                                                            if what == "neuron" else ""))
            if what in ("block", "use") and name in prelude:
                raise SnnNameError(f"{what} name '{name}' shadows the prelude neuron {name}", span,
                                   "choose another name")
            if what == "use" and shadows_module_global(name):
                raise SnnNameError(f"`use ... as {name}`: '{name}' is a Python keyword or a name the generated "
                                   "module needs", span, "choose another alias; taken are Python keywords and "
                                   f"builtins, dunder names and {', '.join(sorted(MODULE_GLOBALS))}")
            seen[name] = span

        # neurons first: a `defaults` line may name one defined further down
        file_neurons = [item for item in self.tree.items if isinstance(item, ast.NeuronDef)]
        for nd in file_neurons:
            declare(nd.name, nd.name_span, "neuron")
            if nd.name in prelude and not nd.overrides:
                raise SnnNameError(f"neuron {nd.name} is already defined in the prelude", nd.name_span,
                                   f"to replace it in this file write `neuron {nd.name}(...) overrides {{`; "
                                   "or choose another name")
            if nd.overrides and nd.name not in prelude:
                raise SnnNameError(f"neuron {nd.name} overrides nothing: the prelude has no neuron {nd.name}",
                                   nd.name_span, "remove `overrides`; the prelude's neurons are "
                                   + ", ".join(prelude))
            self.neurons[nd.name] = NeuronDecl(nd)
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
        callables = [*registry.LAYERS, *self.neurons, *self.blocks, *self.uses]
        for nd in file_neurons:
            check_definition(nd, self.constants, callables)
        for alias, decl in self.uses.items():
            self.use_classes[alias] = self._import_use(decl)

    def _defaults(self, table: dict[str, dict[str, ops.Value]], item: ast.DefaultsStmt, ev: Evaluator) -> None:
        spec = registry.LAYERS.get(item.op)
        neuron = self.neurons.get(item.op)
        if spec is None and neuron is None:
            raise SnnNameError(
                f"defaults for unknown layer '{item.op}'" + did_you_mean(item.op, [*registry.LAYERS, *self.neurons]),
                item.op_span, "defaults apply to built-in layers such as LIF or Conv2d, and to neurons",
            )
        if item.args:
            raise SnnTypeError("defaults take keyword arguments only", item.args[0].span,
                               f"write e.g. defaults {item.op}(name=value)")
        params = spec.params if spec is not None else header_specs(neuron.node)  # type: ignore[union-attr]
        given = bind_arguments(item.op, params, (), item.kwargs, ev, item.span, require=False)
        table.setdefault(item.op, {}).update(given)

    def _import_use(self, decl: ast.UseDecl) -> type:
        top = decl.path.split(".")[0]
        if not registry.import_allowed(decl.path, self.allow_imports):
            raise SnnPermissionError(
                f"`use {decl.path}` imports Python code, which is not allowed for this file", decl.span,
                f"allow it with `--allow-import {top}` (CLI) or allow_imports={{'{top}'}} (API)",
            )
        try:
            here = os.path.dirname(os.path.abspath(self.filename)) if os.path.isfile(self.filename) else None
            cls = registry.import_use_class(decl.path, tuple(d for d in (here, os.getcwd()) if d))
        except Exception as e:  # the user allowed this import; report its failure at the declaration
            raise SnnNameError(f"cannot import {decl.path}: {e}", decl.span,
                               "check the module path and that the package is installed") from None
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise SnnTypeError(f"{decl.path} is not a torch.nn.Module class", decl.span,
                               "`use` declares module classes only")
        if decl.kind == "stateful" and not callable(getattr(cls, "reset", None)):
            raise SnnTypeError(f"`use {decl.path} ... stateful`: {cls.__name__} has no reset() method", decl.span,
                               "the compiled model resets every stateful module at the start of a sequence: "
                               "give the class a reset() that clears its state, or declare it stateless")
        return cls

    def select(self, name: str | None) -> ast.ModelDef:
        if name is not None:
            if name not in self.models:
                raise UsageError(f"no model named '{name}' in {self.filename}"
                                 + did_you_mean(name, self.models)
                                 + (f"; models: {shown_items(self.models)}" if self.models else ""))
            return self.models[name]
        if len(self.models) == 1:
            return next(iter(self.models.values()))
        if not self.models:
            raise SnnNameError(f"{self.filename} defines no model", SourceSpan.point(self.filename, 1, 1),
                               "add `model Name() { input x: [...] ... return y }`")
        raise UsageError(f"{self.filename} defines several models ({shown_items(self.models)}); "
                         "choose one with --model NAME (API: model=...)")

    def bind_params(self, decl: ast.ModelDef | ast.BlockDef, given: Mapping[str, object],
                    ev: Evaluator, from_api: bool) -> dict[str, ops.Value]:
        known = {p.name: p for p in decl.params}
        out: dict[str, ops.Value] = {}
        # one mapping that grows: each default sees the parameters before it
        constants = dict(ev.constants)
        ev = Evaluator(constants, ev.values)
        for name in given:
            if name not in known:
                raise UsageError(f"model {decl.name} has no parameter '{name}'" + did_you_mean(name, known)
                                 + f"; parameters: {shown_items(known) or 'none'}")
        for p in decl.params:
            if p.name in given:
                value = plain_value(given[p.name])
                if isinstance(value, str) and from_api is False:
                    value = parse_cli_value(value)
                if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                    raise SnnTypeError(f"parameter '{p.name}' of {decl.name} is set to an integer of "
                                       f"{len(str(abs(value)))} digits", p.span,
                                       f"integers must stay below 2**63 (about {MAX_INT:.2e})")
                if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                # parameter types are int, float, bool and str: the isinstance only narrows
                if not isinstance(value, (bool, int, float, str)) \
                        or registry.check_type(PARAM_TYPES[p.type], value) is not None:
                    raise SnnTypeError(f"parameter '{p.name}' of {decl.name} must be {p.type}, got "
                                       f"{_shown(value)}", p.span,
                                       f"give it a value of type {p.type} (--set {p.name}=... or params=...)")
                if isinstance(value, float) and not math.isfinite(value):
                    raise SnnTypeError(f"parameter '{p.name}' of {decl.name} is set to {value}, which is not "
                                       "a finite number", p.span,
                                       f"give '{p.name}' a finite value (--set {p.name}=... or params=...)")
                out[p.name] = value
            elif p.default is not None:
                out[p.name] = self._typed(p, ev(p.default))
            else:
                raise SnnTypeError(f"model {decl.name} needs a value for parameter '{p.name}', which has no "
                                   "default", p.span,
                                   f"pass --set {p.name}=... (API: params={{'{p.name}': ...}}) or give it a "
                                   "default in the file")
            constants[p.name] = out[p.name]
        return out

    def _typed(self, p: ast.Param, value: ops.Value) -> ops.Value:
        if p.type == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        expected = registry.check_type(PARAM_TYPES[p.type], value)
        if expected is not None:
            raise SnnTypeError(f"parameter '{p.name}' is declared {p.type} but gets {shown(value)}", p.span,
                               f"give it {expected}")
        return value



def plain_value(v: object) -> object:
    """An API parameter value as a plain Python literal: numpy scalars become numbers and
    subclasses of bool/int/float/str their base type, so no user ``__repr__`` ever writes
    generated code. Anything else is returned as it is, for the type check to refuse."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int.__int__(v)
    if isinstance(v, float):
        return float.__float__(v)
    if isinstance(v, str):
        return str.__str__(v)
    return v


def _shown(v: object) -> str:
    """A value in a message, without calling a user's ``__repr__``."""
    if v is None or type(v) in (bool, int, float, str):
        text = repr(v)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"a {type(v).__name__}"


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
        except (ValueError, OverflowError):  # a float too large is not a number: kept as text
            pass
    if len(t) >= 2 and t[0] == t[-1] == '"':
        return t[1:-1]
    return t


class CliParams(dict):
    """Parameters from the command line: string values are parsed as literals."""

    from_api = False
