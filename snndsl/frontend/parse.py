"""Text to AST: ``parse(text, filename) -> ast.File``.

The grammar is ``grammars/snn.lark``; its LALR tables come from Lark. Two ways through:

* the fast way (``driver.py``): a lean loop over Lark's tables that calls :class:`ToAst`'s
  rule methods as rules are reduced, with each rule's span;
* on a syntax error, Lark's own parser runs on the text, and its error state is put into
  words (``syntax_errors.py``). If Lark's context-sensitive lexer accepts what the driver
  rejected (a keyword written where only a name can stand), its tree goes through the
  same :class:`ToAst`, which reports the keyword.

Nothing here recurses over the input, so no text can exhaust Python's stack: brackets
deeper than :data:`MAX_NESTING` stop the lexer, and expressions, chains and groups
nested deeper than that stop the parser, before any later pass walks them recursively.
:class:`ToAst` decodes literals and checks the few rules easier to state in words than
in the grammar: positional arguments first, keywords are not names, parameter types.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from ..diagnostics import SnnError, SnnLimitError, SnnSyntaxError, SourceSpan, closest
from . import ast
from .driver import FLAT_FIRST_CHILD, NESTING_RULES, Driver, Rejected
from .grammar import MAX_NESTING, NestingTooDeep, get_parser, lex_state, pos
from .syntax_errors import syntax_error

KEYWORDS = frozenset(
    "model block input return let defaults use as static stateful stateless true false none".split()
)
PARAM_TYPES = ("int", "float", "bool", "str")

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_TOO_DEEP_HINT = "split it up with `let` constants or intermediate values"


def parse(text: str, filename: str = "<string>") -> ast.File:
    """Parse the text of a ``.snn`` file. Raises :class:`SnnError` (with ``source`` set)."""
    try:
        return _parse(text, filename)
    except SnnError as err:
        raise err.with_source(text) from None


@lru_cache(maxsize=1)
def _driver() -> Driver | None:
    try:
        return Driver(get_parser(), ToAst)
    except (AttributeError, KeyError, TypeError):  # pragma: no cover - a changed Lark
        return None  # its internals moved: Lark's own parser is slower, but as correct


def _parse(text: str, filename: str) -> ast.File:
    source = text
    if text.startswith("\ufeff"):  # a byte-order mark: blank it, keeping every column
        text = " " + text[1:]
    driver = _driver()
    try:
        if driver is None:
            raise Rejected()
        items = driver.parse(text, filename)
    except Rejected:
        items = _parse_with_lark(text, filename)
    return ast.File(items=items, filename=filename, source=source)


def _parse_with_lark(text: str, filename: str) -> tuple[ast.TopItem, ...]:
    """Lark's parser: raises the syntax error in words, or returns what it could parse."""
    parser = get_parser()
    try:
        tree = parser.parse(text)
    except NestingTooDeep as exc:
        at = pos(exc.token)
        raise SnnLimitError(
            f"brackets nested too deeply (more than {MAX_NESTING} levels)",
            SourceSpan.point(filename, at.line, at.column),
            _TOO_DEEP_HINT,
        ) from None
    except UnexpectedInput as exc:
        raise syntax_error(exc, text, filename, lex_state(parser)) from None
    check_nesting(tree, filename)
    try:
        return ToAst(filename).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SnnError):
            raise exc.orig_exc from None
        raise


def check_nesting(tree: Tree, filename: str) -> None:
    """Raise :class:`SnnLimitError` where expressions, chains or groups nest too deeply."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in NESTING_RULES:
            depth += 1
            if depth > MAX_NESTING:
                raise SnnLimitError(
                    f"nested too deeply (more than {MAX_NESTING} levels of expressions,"
                    " chains or groups)",
                    _span(filename, node.meta),
                    _TOO_DEEP_HINT,
                )
        flat = node.data in FLAT_FIRST_CHILD  # the left operand of `a + b`: no deeper
        stack.extend((child, depth - 1 if flat and i == 0 else depth)
                     for i, child in enumerate(node.children) if isinstance(child, Tree))


def _span(filename: str, meta: Any) -> SourceSpan:
    if type(meta) is tuple:  # from the driver: (line, column, end_line, end_column)
        return SourceSpan(filename, *meta)
    return SourceSpan(filename, meta.line, meta.column, meta.end_line, meta.end_column)


class _Name(NamedTuple):
    """A (possibly dotted) name with its span, on its way into an AST node."""

    id: str
    span: SourceSpan


class _Core(NamedTuple):
    """A stage before its label and repeat are known: an op call or a group."""

    op: _Name | None
    args: tuple[ast.Expr, ...]
    kwargs: tuple[ast.Keyword, ...]
    stages: tuple[ast.Stage, ...]


_Args = tuple[tuple[Any, ...], tuple[ast.Keyword, ...]]
_NO_ARGS: _Args = ((), ())


@v_args(meta=True)
class ToAst(Transformer_NonRecursive):
    """Lark parse tree -> ``ast`` dataclasses; every node gets its span."""

    def __init__(self, filename: str):
        super().__init__(visit_tokens=False)
        self.filename = filename

    # ----------------------------------------------------------------- helpers

    def _span(self, meta: Any) -> SourceSpan:
        if type(meta) is tuple:
            return SourceSpan(self.filename, *meta)
        return _span(self.filename, meta)

    def _tspan(self, tok: Token) -> SourceSpan:
        # Lark types token positions as Optional; both lexers always set them (hot path).
        line, column, end_line, end_column = tok.line, tok.column, tok.end_line, tok.end_column
        assert line and column and end_line and end_column
        return SourceSpan(self.filename, line, column, end_line, end_column)

    def _ident(self, tok: Token, what: str = "a name") -> _Name:
        if tok in KEYWORDS:
            raise SnnSyntaxError(
                f"`{tok}` is a keyword and cannot be used as {what}",
                self._tspan(tok),
                f"choose another name, e.g. `{tok}_`",
            )
        return _Name(str(tok), self._tspan(tok))

    def _decode_string(self, tok: Token) -> str:
        """The value of a string literal: the text between the quotes, escapes decoded."""
        body = str(tok)[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            esc = body[i + 1]  # the grammar guarantees a character after a backslash
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
            elif esc == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
                out.append(chr(int(body[i + 2 : i + 6], 16)))
                i += 6
            else:
                at = pos(tok)
                column = at.column + 1 + i
                shown = esc if esc.isprintable() else f"U+{ord(esc):04X}"
                raise SnnSyntaxError(
                    f"unknown escape `\\{shown}` in a string",
                    SourceSpan(self.filename, at.line, column, at.line, column + 2),
                    'the escapes are \\\\ \\" \\n \\t \\r \\0 and \\uXXXX',
                )
        return "".join(out)

    def _split_args(self, items: list[Any]) -> _Args:
        """Positional items, then keywords; a positional item after a keyword is an error."""
        positional: list[Any] = []
        keywords: list[ast.Keyword] = []
        for item in items:
            if isinstance(item, ast.Keyword):
                keywords.append(item)
            elif keywords:
                raise SnnSyntaxError(
                    "positional argument after a keyword argument",
                    item.span,
                    f"move it before `{keywords[0].name}=`, or give it a name: `name=...`",
                )
            else:
                positional.append(item)
        return tuple(positional), tuple(keywords)

    # ----------------------------------------------------------------- file

    def start(self, meta: Any, items: list[Any]) -> tuple[ast.TopItem, ...]:
        return tuple(items)

    def use_decl(self, meta: Any, ch: list[Any]) -> ast.UseDecl:
        path, alias_tok, kind = ch
        alias = self._ident(alias_tok, "an alias")
        return ast.UseDecl(path.id, alias.id, kind, self._span(meta), alias.span)

    def use_kind(self, meta: Any, ch: list[Token]) -> str:
        return str(ch[0])

    def _definition(self, cls: Any, meta: Any, ch: list[Any]) -> Any:
        name_tok, params, body = ch
        name = self._ident(name_tok, "a name")
        return cls(name.id, params, body, self._span(meta), name.span)

    def block_def(self, meta: Any, ch: list[Any]) -> ast.BlockDef:
        return self._definition(ast.BlockDef, meta, ch)

    def model_def(self, meta: Any, ch: list[Any]) -> ast.ModelDef:
        return self._definition(ast.ModelDef, meta, ch)

    def params(self, meta: Any, ch: list[ast.Param]) -> tuple[ast.Param, ...]:
        return tuple(ch)

    def param(self, meta: Any, ch: list[Any]) -> ast.Param:
        name_tok, type_tok, default = ch
        name = self._ident(name_tok, "a parameter name")
        if name.id == "_":
            raise SnnSyntaxError(
                "`_` cannot name a parameter: in an expression it means 'infer from the input'",
                name.span,
                "choose another name",
            )
        if type_tok not in PARAM_TYPES:
            guess = closest(str(type_tok), PARAM_TYPES)
            raise SnnSyntaxError(
                f"unknown parameter type `{type_tok}`"
                + (f" (did you mean `{guess}`?)" if guess else ""),
                self._tspan(type_tok),
                "a parameter's type is one of int, float, bool, str",
            )
        return ast.Param(name.id, str(type_tok), default, self._span(meta))

    def body(self, meta: Any, ch: list[Any]) -> tuple[ast.Statement, ...]:
        return tuple(ch)

    # ----------------------------------------------------------------- statements

    def input_stmt(self, meta: Any, ch: list[Any]) -> ast.InputStmt:
        name_tok, shape, static = ch
        name = self._ident(name_tok, "an input name")
        dims = shape.items if shape is not None else None
        return ast.InputStmt(name.id, dims, static is not None, self._span(meta), name.span)

    def let_stmt(self, meta: Any, ch: list[Any]) -> ast.LetStmt:
        name_tok, value = ch
        name = self._ident(name_tok, "a constant name")
        if name.id == "_":
            raise SnnSyntaxError(
                "`_` cannot name a constant: in an expression it means 'infer from the input'",
                name.span,
                "choose another name",
            )
        return ast.LetStmt(name.id, value, self._span(meta), name.span)

    def defaults_stmt(self, meta: Any, ch: list[Any]) -> ast.DefaultsStmt:
        op, args = ch
        positional, keywords = args or _NO_ARGS
        return ast.DefaultsStmt(op.id, keywords, self._span(meta), op.span, positional)

    def assign_stmt(self, meta: Any, ch: list[Any]) -> ast.AssignStmt:
        target_tok, value = ch
        target = self._ident(target_tok, "a value name")
        return ast.AssignStmt(target.id, value, self._span(meta), target.span)

    def return_stmt(self, meta: Any, ch: list[ast.Value]) -> ast.ReturnStmt:
        return ast.ReturnStmt(tuple(ch), self._span(meta))

    # ----------------------------------------------------------------- chains

    def chain(self, meta: Any, ch: list[Any]) -> ast.Value:
        head, *stages = ch
        if not stages:
            return head
        return ast.Chain(head, tuple(stages), self._span(meta))

    def name_ref(self, meta: Any, ch: list[Token]) -> ast.NameRef:
        name = self._ident(ch[0], "a value name")
        return ast.NameRef(name.id, name.span)

    def merge_call(self, meta: Any, ch: list[Any]) -> ast.MergeCall:
        op_tok, args = ch
        op = self._ident(op_tok, "an op name")
        operands, keywords = args or _NO_ARGS
        return ast.MergeCall(op.id, operands, keywords, self._span(meta), op.span)

    def merge_args(self, meta: Any, ch: list[Any]) -> _Args:
        return self._split_args(ch)

    def stage(self, meta: Any, ch: list[Any]) -> ast.Stage:
        label, core, repeat = ch
        label_id = label.id if label is not None else None
        label_span = label.span if label is not None else None
        if core.op is None:
            return ast.GroupStage(label_id, core.stages, repeat, self._span(meta), label_span)
        return ast.OpStage(
            label_id, core.op.id, core.args, core.kwargs, repeat, self._span(meta), core.op.span,
            label_span,
        )  # fmt: skip

    def label(self, meta: Any, ch: list[Token]) -> _Name:
        return self._ident(ch[0], "a label")

    def op_call(self, meta: Any, ch: list[Any]) -> _Core:
        op, args = ch
        positional, keywords = args or _NO_ARGS
        return _Core(op, positional, keywords, ())

    def group(self, meta: Any, ch: list[ast.Stage]) -> _Core:
        return _Core(None, (), (), tuple(ch))

    def repeat(self, meta: Any, ch: list[Any]) -> ast.Expr:
        return ch[1]  # ch[0] is the `*`

    def dotted_name(self, meta: Any, ch: list[Any]) -> _Name:
        if len(ch) == 1:
            return self._ident(ch[0], "an op name")
        head, tok = ch
        part = self._ident(tok, "a name")
        return _Name(f"{head.id}.{part.id}", self._span(meta))

    # ----------------------------------------------------------------- arguments

    def args(self, meta: Any, ch: list[Any]) -> _Args:
        return self._split_args(ch)

    def kwarg(self, meta: Any, ch: list[Any]) -> ast.Keyword:
        name_tok, value = ch
        name = self._ident(name_tok, "an argument name")
        return ast.Keyword(name.id, value, self._span(meta))

    # ----------------------------------------------------------------- expressions

    def binop(self, meta: Any, ch: list[Any]) -> ast.BinOp:
        left, op, right = ch
        return ast.BinOp(str(op), left, right, self._span(meta))

    def unop(self, meta: Any, ch: list[Any]) -> ast.UnaryOp:
        op, operand = ch
        return ast.UnaryOp(str(op), operand, self._span(meta))

    def int_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        try:
            value = int(ch[0])
        except ValueError:  # longer than sys.get_int_max_str_digits()
            raise SnnLimitError(
                f"integer literal too long ({len(ch[0])} digits)",
                self._span(meta),
                "integers in a .snn file are sizes and counts: a few digits are enough",
            ) from None
        return ast.Literal(value, self._span(meta))

    def float_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        value = float(ch[0])
        if value in (float("inf"), float("-inf")):
            raise SnnLimitError(
                "float literal too large", self._span(meta), "the largest float is about 1.8e308"
            )
        return ast.Literal(value, self._span(meta))

    def str_lit(self, meta: Any, ch: list[Token]) -> ast.Literal:
        return ast.Literal(self._decode_string(ch[0]), self._span(meta))

    def true_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(True, self._span(meta))

    def false_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(False, self._span(meta))

    def none_lit(self, meta: Any, ch: list[Any]) -> ast.Literal:
        return ast.Literal(None, self._span(meta))

    def infer(self, meta: Any, ch: list[Any]) -> ast.Infer:
        return ast.Infer(self._span(meta))

    def name(self, meta: Any, ch: list[Token]) -> ast.Name:
        name = self._ident(ch[0], "a name")
        return ast.Name(name.id, name.span)

    def call_expr(self, meta: Any, ch: list[Any]) -> ast.CallExpr:
        func_tok, args = ch
        func = self._ident(func_tok, "a function name")
        positional, keywords = args or _NO_ARGS
        return ast.CallExpr(func.id, positional, keywords, self._span(meta))

    def tuple_expr(self, meta: Any, ch: list[ast.Expr]) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(ch), self._span(meta))

    def list_expr(self, meta: Any, ch: list[ast.Expr]) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(ch), self._span(meta), is_list=True)
