"""A compact, span-free rendering of AST nodes, so that tests can state a tree's shape
in one readable line: ``(1 + (2 * 3))``, ``x -> a: Conv2d(1, 8) -> ReLU()``."""

from __future__ import annotations

from typing import Any

from snndsl.frontend import ast


def _args(args: tuple[Any, ...], kwargs: tuple[ast.Keyword, ...]) -> str:
    return ", ".join([show(a) for a in args] + [show(k) for k in kwargs])


def show(node: Any) -> str:
    """The shape of ``node`` without spans; binary and unary operations in parentheses."""
    match node:
        case ast.Literal(value=v):
            return repr(v)
        case ast.Name(id=i) | ast.NameRef(id=i):
            return i
        case ast.Infer():
            return "_"
        case ast.BinOp(op=op, left=left, right=right):
            return f"({show(left)} {op} {show(right)})"
        case ast.UnaryOp(op=op, operand=operand):
            return f"({op}{show(operand)})"
        case ast.TupleExpr(items=items, is_list=True):
            return "[" + ", ".join(show(i) for i in items) + "]"
        case ast.TupleExpr(items=items):
            return "(" + ", ".join(show(i) for i in items) + (",)" if len(items) == 1 else ")")
        case ast.Keyword(name=n, value=v):
            return f"{n}={show(v)}"
        case ast.CallExpr(func=f, args=a, kwargs=k) | ast.MergeCall(op=f, args=a, kwargs=k):
            return f"{f}({_args(a, k)})"
        case ast.Chain(head=head, stages=stages):
            inner = " -> ".join([show(head), *(show(s) for s in stages)])
            return "{" + inner + "}"
        case ast.OpStage(label=label, op=op, args=a, kwargs=k, repeat=r):
            text = f"{op}({_args(a, k)})"
        case ast.GroupStage(label=label, stages=stages, repeat=r):
            text = "(" + " -> ".join(show(s) for s in stages) + ")"
        case ast.InputStmt(name=n, shape=shape, static=static):
            dims = "" if shape is None else ": [" + ", ".join(show(d) for d in shape) + "]"
            return f"input {n}{dims}" + (" static" if static else "")
        case ast.LetStmt(name=n, value=v):
            return f"let {n} = {show(v)}"
        case ast.DefaultsStmt(op=op, args=a, kwargs=k):
            return f"defaults {op}({_args(a, k)})"
        case ast.AssignStmt(target=t, value=v):
            return f"{t} = {show(v)}"
        case ast.ReturnStmt(values=vs):
            return "return " + ", ".join(show(v) for v in vs)
        case ast.UseDecl(path=p, alias=a, kind=k):
            return f"use {p} as {a} {k}"
        case ast.Param(name=n, type=t, default=d):
            return f"{n}: {t}" + ("" if d is None else f" = {show(d)}")
        case ast.BlockDef() | ast.ModelDef():
            kind = "block" if isinstance(node, ast.BlockDef) else "model"
            params = ", ".join(show(p) for p in node.params)
            return f"{kind} {node.name}({params}) {{" + "; ".join(show(s) for s in node.body) + "}"
        case _:
            raise TypeError(f"not an AST node: {node!r}")
    # stages: label and repeat around the core
    if label is not None:
        text = f"{label}: {text}"
    return text if r is None else f"{text} * {show(r)}"
