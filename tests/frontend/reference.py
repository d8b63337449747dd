"""A second way from text to AST, for the tests to check ``parse`` against: Lark's own
tree (``grammar.get_parser()``, with ``propagate_positions``), then a tree transformer
that takes each node's span from Lark's ``meta``.

``parse.py`` builds the AST during the parse (Lark's transformer mode, no tree) and works
out each span from the tokens itself; this module lets Lark do the positions, the way
the front end did before. Only for texts that parse: it checks nothing.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer_NonRecursive, v_args

from snndsl.diagnostics import SourceSpan
from snndsl.frontend import ast
from snndsl.frontend.grammar import get_parser

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def reference_items(text: str, filename: str) -> tuple[ast.TopItem, ...]:
    """The items of ``ast.File`` for ``text``, by way of Lark's tree."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]
    return _FromTree(filename).transform(get_parser().parse(text))


def _decode(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        return chr(int(esc[1:], 16)) if esc[0] == "u" else _ESCAPES[esc]

    return re.sub(r"\\(u[0-9A-Fa-f]{4}|.)", one, body)


@v_args(meta=True)
class _FromTree(Transformer_NonRecursive):
    def __init__(self, filename: str):
        super().__init__(visit_tokens=False)
        self.filename = filename

    def _span(self, meta: Any) -> SourceSpan:
        return SourceSpan(self.filename, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tspan(self, tok: Token) -> SourceSpan:
        return SourceSpan(self.filename, tok.line, tok.column, tok.end_line, tok.end_column)  # type: ignore[arg-type]

    def _split(self, items: list[Any]) -> tuple[tuple[Any, ...], tuple[ast.Keyword, ...]]:
        return (
            tuple(i for i in items if not isinstance(i, ast.Keyword)),
            tuple(i for i in items if isinstance(i, ast.Keyword)),
        )

    def start(self, meta: Any, ch: list[Any]) -> tuple[Any, ...]:
        return tuple(ch)

    def use_decl(self, meta: Any, ch: list[Any]) -> ast.UseDecl:
        path, alias, kind = ch
        return ast.UseDecl(path[0], str(alias), kind, self._span(meta), self._tspan(alias))

    def use_kind(self, meta: Any, ch: list[Token]) -> str:
        return str(ch[0])

    def block_def(self, meta: Any, ch: list[Any]) -> ast.BlockDef:
        name, params, body = ch
        return ast.BlockDef(str(name), params, body, self._span(meta), self._tspan(name))

    def model_def(self, meta: Any, ch: list[Any]) -> ast.ModelDef:
        name, params, body = ch
        return ast.ModelDef(str(name), params, body, self._span(meta), self._tspan(name))

    def params(self, meta: Any, ch: list[Any]) -> tuple[Any, ...]:
        return tuple(ch)

    def param(self, meta: Any, ch: list[Any]) -> ast.Param:
        name, type_, qmark, default = ch
        return ast.Param(str(name), str(type_), default, self._span(meta), optional=qmark is not None)

    def neuron_def(self, meta: Any, ch: list[Any]) -> ast.NeuronDef:
        name, params, overrides, body = ch
        return ast.NeuronDef(str(name), params, body, self._span(meta), self._tspan(name), overrides is not None)

    def neuron_body(self, meta: Any, ch: list[Any]) -> tuple[Any, ...]:
        return tuple(ch)

    def state_stmt(self, meta: Any, ch: list[Any]) -> ast.StateStmt:
        name, value = ch
        return ast.StateStmt(str(name), value, self._span(meta), self._tspan(name))

    def learnable_stmt(self, meta: Any, ch: list[Any]) -> ast.LearnableStmt:
        name, value = ch
        return ast.LearnableStmt(str(name), value, self._span(meta), self._tspan(name))

    def equation(self, meta: Any, ch: list[Any]) -> ast.Equation:
        name, value = ch
        return ast.Equation(str(name), value, self._span(meta), self._tspan(name))

    def neuron_return(self, meta: Any, ch: list[Any]) -> ast.NeuronReturn:
        return ast.NeuronReturn(ch[0], self._span(meta))

    def body(self, meta: Any, ch: list[Any]) -> tuple[Any, ...]:
        return tuple(ch)

    def input_stmt(self, meta: Any, ch: list[Any]) -> ast.InputStmt:
        name, shape, static = ch
        dims = shape.items if shape is not None else None
        return ast.InputStmt(
            str(name), dims, static is not None, self._span(meta), self._tspan(name)
        )

    def let_stmt(self, meta: Any, ch: list[Any]) -> ast.LetStmt:
        name, value = ch
        return ast.LetStmt(str(name), value, self._span(meta), self._tspan(name))

    def defaults_stmt(self, meta: Any, ch: list[Any]) -> ast.DefaultsStmt:
        (op, op_span), args = ch
        positional, keywords = args or ((), ())
        return ast.DefaultsStmt(op, keywords, self._span(meta), op_span, positional)

    def assign_stmt(self, meta: Any, ch: list[Any]) -> ast.AssignStmt:
        *targets, value = ch
        more = tuple((str(t), self._tspan(t)) for t in targets[1:])
        return ast.AssignStmt(str(targets[0]), value, self._span(meta), self._tspan(targets[0]), more)

    def return_stmt(self, meta: Any, ch: list[Any]) -> ast.ReturnStmt:
        return ast.ReturnStmt(tuple(ch), self._span(meta))

    def chain(self, meta: Any, ch: list[Any]) -> Any:
        head, *stages = ch
        return ast.Chain(head, tuple(stages), self._span(meta)) if stages else head

    def name_ref(self, meta: Any, ch: list[Token]) -> ast.NameRef:
        return ast.NameRef(str(ch[0]), self._tspan(ch[0]))

    def merge_call(self, meta: Any, ch: list[Any]) -> ast.MergeCall:
        op, args = ch
        operands, keywords = args or ((), ())
        return ast.MergeCall(str(op), operands, keywords, self._span(meta), self._tspan(op))

    def merge_args(self, meta: Any, ch: list[Any]) -> Any:
        return self._split(ch)

    def stage(self, meta: Any, ch: list[Any]) -> Any:
        label, core, repeat = ch
        label_id, label_span = (
            (str(label), self._tspan(label)) if label is not None else (None, None)
        )
        kind, *rest = core
        if kind == "group":
            return ast.GroupStage(label_id, rest[0], repeat, self._span(meta), label_span)
        (op, op_span), args = rest
        positional, keywords = args or ((), ())
        return ast.OpStage(
            label_id, op, positional, keywords, repeat, self._span(meta), op_span, label_span
        )

    def label(self, meta: Any, ch: list[Token]) -> Token:
        return ch[0]

    def op_call(self, meta: Any, ch: list[Any]) -> Any:
        return ("op", ch[0], ch[1])

    def group(self, meta: Any, ch: list[Any]) -> Any:
        return ("group", tuple(ch))

    def repeat(self, meta: Any, ch: list[Any]) -> Any:
        return ch[1]

    def dotted_name(self, meta: Any, ch: list[Any]) -> tuple[str, SourceSpan]:
        if len(ch) == 1:
            return str(ch[0]), self._tspan(ch[0])
        (head, _), tok = ch
        return f"{head}.{tok}", self._span(meta)

    def args(self, meta: Any, ch: list[Any]) -> Any:
        return self._split(ch)

    def kwarg(self, meta: Any, ch: list[Any]) -> ast.Keyword:
        name, value = ch
        return ast.Keyword(str(name), value, self._span(meta))

    def binop(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        left, op, right = ch
        return ast.BinOp(str(op), left, right, self._span(meta))

    def if_expr(self, meta: Any, ch: list[Any]) -> ast.IfExpr:
        then, cond, orelse = ch
        return ast.IfExpr(then, cond, orelse, self._span(meta))

    def unop(self, meta: Any, ch: list[Any]) -> ast.UnaryOp:
        op, operand = ch
        return ast.UnaryOp(str(op), operand, self._span(meta))

    def int_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        return ast.Literal(int(ch[0]), self._span(meta))

    def float_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        return ast.Literal(float(ch[0]), self._span(meta))

    def str_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        return ast.Literal(_decode(str(ch[0])[1:-1]), self._span(meta))

    def true_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(True, self._span(meta))

    def false_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(False, self._span(meta))

    def none_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(None, self._span(meta))

    def infer(self, meta: Any, ch: list[Any]) -> ast.Infer:
        return ast.Infer(self._span(meta))

    def name(self, meta: Any, ch: list[Token]) -> ast.Name:
        return ast.Name(str(ch[0]), self._tspan(ch[0]))

    def call_expr(self, meta: Any, ch: list[Any]) -> ast.CallExpr:
        func, args = ch
        positional, keywords = args or ((), ())
        return ast.CallExpr(str(func), positional, keywords, self._span(meta))

    def tuple_expr(self, meta: Any, ch: list[Any]) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(ch), self._span(meta))

    def list_expr(self, meta: Any, ch: list[Any]) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(ch), self._span(meta), is_list=True)
