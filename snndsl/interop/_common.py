"""Helpers shared by NIR export and import: the ``nir`` import, names, hints, numbers."""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from ..diagnostics import SnnError, SourceSpan, UsageError
from ..frontend.prelude import prelude_signature
from ..ir import ops, registry

#: metadata key holding the snndsl call text of the op a NIR node came from
HINT = "snndsl"
SNN_KEYWORDS = frozenset(
    "model block input return let defaults use as static stateful stateless true false none".split())


class NirError(SnnError):
    """A model that NIR cannot express, or a NIR graph that ``.snn`` cannot express."""


def nir_module() -> ModuleType:
    """The ``nir`` package, or a usage error that says how to install it."""
    try:
        import nir
    except ImportError:  # pragma: no cover - nir is a test dependency
        raise UsageError("NIR support needs the 'nir' package: pip install 'snndsl[nir]'") from None
    return nir


def nir_span(path: str | None) -> SourceSpan:
    return SourceSpan.point(path or "<nir>", 1, 1)


# -- names --------------------------------------------------------------------------------

_BAD = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str) -> str:
    """A valid ``.snn`` label for ``name`` (deterministic; uniqueness is :class:`Namer`'s job).

    Characters outside ``[A-Za-z0-9_]`` become ``_``; a leading digit gets an ``n``
    prefix; a ``.snn`` or Python keyword gets a trailing ``_``.
    """
    out = _BAD.sub("_", name)
    if not out:
        out = "node"
    if out[0].isdigit():
        out = "n" + out
    if out in SNN_KEYWORDS or keyword.iskeyword(out):
        out += "_"
    return out


class Namer:
    """Unique sanitised names, handed out in call order (so the result is deterministic)."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken = set(taken)

    def __call__(self, raw: str) -> str:
        base = sanitize(raw)
        name, k = base, 1
        while name in self.taken:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        return name


def nir_name(path: str) -> str:
    """A NIR node name for a module path: dots address subgraph ports in NIR."""
    return path.replace(".", "_")


# -- numbers ------------------------------------------------------------------------------

def clean(x: float) -> float:
    """``x`` rounded to 12 significant digits: ``0.0005 / 1e-4`` gives ``5.0``, not ``4.999...``."""
    return float(f"{float(x):.12g}")


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def pair(v: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple."""
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v)
    return (int(v),)


# -- hints: the snndsl op text kept in a NIR node's metadata ------------------------------

def parse_hint(text: object) -> tuple[str, dict[str, ops.Value]] | None:
    """Parse a hint such as ``LIF(tau=2.0, surrogate=ATan())`` into ``(kind, given kwargs)``.

    Only literals are accepted and every argument is checked against the registry;
    anything else gives ``None`` (the hint is ignored, never executed or copied).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or len(text) > 2000:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        return None
    kind = tree.func.id
    params = signature(kind)
    if params is None or len(tree.args) > len(params):
        return None
    by_name = {p.name: p for p in params}
    try:
        given: dict[str, ops.Value] = {}
        for p, a in zip(params, tree.args, strict=False):
            given[p.name] = _literal(a)
        for kw in tree.keywords:
            if kw.arg is None or kw.arg not in by_name or kw.arg in given:
                return None
            given[kw.arg] = _literal(kw.value)
    except ValueError:
        return None
    for name, value in given.items():
        if registry.check_type(by_name[name].type, value) is not None:
            return None
    return kind, given


def signature(kind: str) -> tuple[registry.ParamSpec, ...] | None:
    """The parameters of a built-in layer or of a prelude neuron (``LI``, ``CubaLIF``, ...),
    with their defaults; None for any other name."""
    spec = registry.LAYERS.get(kind)
    return spec.params if spec is not None else prelude_signature(kind)


_NAMES: dict[str, ops.Value] = {"true": True, "false": False, "none": None}


def _literal(node: ast.expr) -> ops.Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
            and not isinstance(node.value, bool):
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise ValueError("not finite")
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _literal(node.operand)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v
        raise ValueError("bad negation")
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in registry.SURROGATES and not node.args:
        params = {p.name: p for p in registry.SURROGATES[node.func.id]}
        kwargs = []
        for kw in node.keywords:
            if kw.arg not in params:
                raise ValueError("unknown surrogate argument")
            v = _literal(kw.value)
            if registry.check_type(params[kw.arg].type, v) is not None:
                raise ValueError("bad surrogate argument")
            kwargs.append((kw.arg, v))
        return ops.SurrogateValue(node.func.id, tuple(kwargs))
    raise ValueError("not a literal")


def call_text(kind: str, values: dict[str, ops.Value], positional: int = 0,
              keep: Iterable[str] = ()) -> str:
    """``Kind(a, b, k=v)``: the first ``positional`` parameters by position, then the
    keyword arguments that differ from the defaults (:func:`signature`) or are named in ``keep``,
    in signature order."""
    keep = frozenset(keep)
    params = signature(kind)
    assert params is not None, kind
    parts = []
    for i, p in enumerate(params):
        if p.name not in values:
            continue
        v = values[p.name]
        if i < positional:
            parts.append(ops.format_value(v))
        elif p.required or p.name in keep or not _same(v, p.default):
            parts.append(f"{p.name}={ops.format_value(v)}")
    return f"{kind}({', '.join(parts)})"


def _same(a: ops.Value, b: ops.Value) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


# -- cycles -------------------------------------------------------------------------------

def closing_edges(succ: Mapping[str, Sequence[str]], roots: Sequence[str],
                  done: Iterable[str] = ()) -> tuple[list[tuple[str, str]], set[str]]:
    """The edges that close a cycle in a depth-first walk from ``roots`` (each node's
    successors and the roots taken by name, so a graph reads the same after a NIR file
    has reordered it), and the nodes reached (with ``done``, nodes an earlier walk
    finished). Without those edges the graph is acyclic; they are where the importer puts
    ``prev`` and where the exporter expects a reader to delay a cycle."""
    state: dict[str, int] = dict.fromkeys(done, 2)  # 1: on the walk's path, 2: done
    back: list[tuple[str, str]] = []
    for root in sorted(roots):
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(set(succ[root]))))]
        while stack:
            node, it = stack[-1]
            for s in it:
                seen = state.get(s)
                if seen is None:
                    state[s] = 1
                    stack.append((s, iter(sorted(set(succ[s])))))
                    break
                if seen == 1:
                    back.append((node, s))
            else:
                state[node] = 2
                stack.pop()
    return back, set(state)
