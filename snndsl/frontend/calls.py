"""Elaboration of one layer call: the op record of a built-in layer, an ``nn.*`` module or
a ``use`` module, with its arguments evaluated, bound and checked where they are written."""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Mapping

import torch.nn
from torch.nn.modules.lazy import LazyModuleMixin

from ..diagnostics import SnnNameError, SnnTypeError, did_you_mean
from ..ir import ops, registry
from . import ast
from .evaluate import Evaluator, bind_arguments


def layer_op(stage: ast.OpStage, ev: Evaluator, defaults: Mapping[str, Mapping[str, ops.Value]]) -> ops.Layer:
    """The op of a built-in layer call: arguments bound and checked, ``defaults`` applied."""
    spec = registry.LAYERS[stage.op]
    if spec.kind in registry.VARIADIC:
        return _variadic_op(stage, spec, ev)
    given = bind_arguments(stage.op, spec.params, stage.args, stage.kwargs, ev, stage.span,
                           inferable=spec.inferable)
    npos = len(stage.args)
    names = [p.name for p in spec.params]
    args = tuple(given[n] for n in names[:npos])
    kwargs: list[tuple[str, ops.ArgValue]] = [(k.name, given[k.name]) for k in stage.kwargs]
    for k, v in defaults.get(stage.op, {}).items():
        if k not in given:
            kwargs.append((k, v))
    _check_relations(stage, spec, args, dict(kwargs))
    if issubclass(spec.op_class, ops.AdaptiveAvgPool):  # `none` keeps every size: torch wants (None, None)
        n = spec.op_class.dims
        args = tuple((None,) * n if a is None else a for a in args)
        kwargs = [(k, (None,) * n if k == "output_size" and v is None else v) for k, v in kwargs]
    return spec.op_class(stage.op, args, tuple(kwargs))


def _variadic_op(stage: ast.OpStage, spec: registry.LayerSpec, ev: Evaluator) -> ops.Layer:
    """``Reshape(d0, d1, ...)``/``Permute(d0, d1, ...)``: the positional arguments are the
    sizes or dims (one tuple is accepted too); no keywords."""
    what = spec.params[0].name
    if stage.kwargs:
        raise SnnTypeError(f"{spec.kind} takes its {what} as positional arguments only", stage.kwargs[0].span,
                           f"write {spec.kind}(4, -1)")
    values = [ev(a) for a in stage.args]
    if len(values) == 1 and isinstance(values[0], tuple):
        values = list(values[0])
    if not values:
        raise SnnTypeError(f"{spec.kind} needs the {what}", stage.span, f"e.g. {spec.kind}(4, -1)"
                           if spec.kind == "Reshape" else f"e.g. {spec.kind}(1, 0)")
    for i, v in enumerate(values):
        if not (isinstance(v, int) and not isinstance(v, bool)):
            where = stage.args[i].span if len(stage.args) == len(values) else stage.args[0].span
            raise SnnTypeError(f"{spec.kind}: each of its {what} must be an integer, got {ops.format_value(v)}",
                               where, f"{spec.kind}({spec.doc})")
    return spec.op_class(stage.op, tuple(values), ())


def _check_relations(stage: ast.OpStage, spec: registry.LayerSpec, args: tuple[ops.ArgValue, ...],
                     kwargs: dict[str, ops.ArgValue]) -> None:
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


def torch_module_op(stage: ast.OpStage, ev: Evaluator) -> ops.TorchModule:
    """The op of ``nn.Name(...)``: the class must exist; what a meta run cannot check is checked here."""
    cls_name = stage.op[3:]
    cls = getattr(torch.nn, cls_name, None) if re.fullmatch(r"[A-Z][A-Za-z0-9]*", cls_name) else None
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        mods = [n for n in dir(torch.nn) if n[:1].isupper() and isinstance(getattr(torch.nn, n), type)
                and issubclass(getattr(torch.nn, n), torch.nn.Module)]
        raise SnnNameError(f"torch.nn has no module class '{cls_name}'" + did_you_mean(cls_name, mods),
                           stage.op_span, "nn.Name must name a torch.nn.Module class, e.g. nn.PixelShuffle")
    args = tuple(ev(a) for a in stage.args)
    seen: set[str] = set()
    kwargs: list[tuple[str, ops.Value]] = []
    for kw in _python_keywords(stage):
        if kw.name in seen:
            raise SnnTypeError(f"argument '{kw.name}' is given twice", kw.span, "give each argument once")
        seen.add(kw.name)
        kwargs.append((kw.name, ev(kw.value)))
    for v in (*args, *(v for _, v in kwargs)):
        if isinstance(v, ops.SurrogateValue):
            raise SnnTypeError("surrogate functions can only be passed to neurons", stage.span,
                               "remove the surrogate argument")
    _check_argument_sizes(stage, args, tuple(kwargs))
    _check_torch_module(stage, cls, args, dict(kwargs))
    return ops.TorchModule(cls_name, args, tuple(kwargs))


#: the most numbers, strings and tuples an argument of an ``nn.*`` or ``use`` layer may
#: hold (a tuple built from shared tuples can describe 10**30 items in 30 lines)
MAX_ARGUMENT_ITEMS = 100_000


def _check_argument_sizes(stage: ast.OpStage, args: tuple[ops.Value, ...],
                          kwargs: tuple[tuple[str, ops.Value], ...]) -> None:
    """Refuse an argument value too large to pass to Python code (counted with sharing,
    stopping at the limit)."""
    spans = [a.span for a in stage.args] + [kw.span for kw in stage.kwargs]
    for value, span in zip([*args, *(v for _, v in kwargs)], spans):
        count, todo = 0, [value]
        while todo:
            v = todo.pop()
            count += 1
            if count > MAX_ARGUMENT_ITEMS:
                raise SnnTypeError(f"{stage.op}: this argument holds more than {MAX_ARGUMENT_ITEMS:,} values",
                                   span, "pass a smaller value; sizes and shapes are short tuples")
            if isinstance(v, tuple):
                todo.extend(v)


def _check_torch_module(stage: ast.OpStage, cls: type, args: tuple[ops.Value, ...],
                        kwargs: dict[str, ops.Value]) -> None:
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
        if name == "inplace" and value is True:
            raise SnnTypeError(f"{stage.op}: inplace=true is not allowed", spans.get(name, stage.span),
                               "a value may have several users (a fan-out, a residual add): a layer that "
                               "overwrites its input would change it for them; remove inplace=true")
        if name in ("device", "dtype"):
            raise SnnTypeError(f"{stage.op}: the argument '{name}' is not allowed", spans.get(name, stage.span),
                               "a compiled model is moved and cast as a whole: net.to(device, dtype)")
        if name in ("dim", "start_dim", "end_dim") and value == 0 and not isinstance(value, bool):
            raise SnnTypeError(f"{stage.op}: {name}=0 is the batch dimension", spans.get(name, stage.span),
                               "T and N are implicit: an nn.* layer sees [batch, *per-sample], so its "
                               "dims count per-sample dims from 1 (or from the end: -1 is the last)")


def _python_keywords(stage: ast.OpStage) -> tuple[ast.Keyword, ...]:
    """The keyword arguments of a call that Python code receives: each must be a name
    Python can pass (``lambda=1`` cannot be)."""
    for kw in stage.kwargs:
        if keyword.iskeyword(kw.name):
            raise SnnTypeError(f"{stage.op}: '{kw.name}' is a Python keyword and cannot name an argument",
                               kw.span, f"no Python callable takes an argument named '{kw.name}'; remove it")
    return stage.kwargs


def user_module_op(stage: ast.OpStage, ev: Evaluator, decl: ast.UseDecl) -> ops.UserModule:
    args = tuple(ev(a) for a in stage.args)
    kwargs = tuple((kw.name, ev(kw.value)) for kw in _python_keywords(stage))
    _check_argument_sizes(stage, args, kwargs)
    return ops.UserModule(stage.op, args, kwargs, path=decl.path, declared_stateful=decl.kind == "stateful")
