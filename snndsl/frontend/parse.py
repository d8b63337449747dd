"""Text to AST: ``parse(text, filename) -> ast.File``.

The grammar is ``grammars/snn.lark``; Lark's LALR parser runs it in its *transformer
mode* (``Lark(..., parser="lalr", transformer=...)``, see ``grammar.py``): as the parser
reduces each rule it calls the :class:`ToAst` method of that name, and what the start
rule's method returns is the result. No parse tree is built, and nothing walks one.

Lark gives those methods no positions in this mode, so the parser keeps every token
(``keep_all_tokens``): a method sees the keywords and brackets of its rule as tokens
and takes its span from its first and last child, as Lark's ``propagate_positions``
does for trees. A parenthesised expression or chain keeps its own span (inside the
brackets) while its parent's span takes the brackets in: the brackets' span is kept on
the side (``ToAst._paren``), as Lark keeps a node's "container" position.

On a syntax error Lark's exception (the token, the terminals it would have taken, its
interactive parser) is put into words by ``syntax_errors.py``. Where only a name fits,
Lark's contextual lexer reads a keyword as a name, and :class:`ToAst` reports it. Errors
are reported in the order the parser meets them: each in the rule that holds it, as it
is reduced.

Nothing here recurses over the input, so no text can exhaust Python's stack: brackets
deeper than :data:`MAX_NESTING` stop the lexer, and expressions, chains and groups
nested deeper than that stop the parser, before any later pass walks them recursively.
Sizes are bounded too: a text longer than :data:`MAX_SOURCE` is refused before it is
lexed, and a string literal longer than :data:`MAX_STRING` where the lexer meets it.
:class:`ToAst` decodes literals and checks the few rules easier to state in words than
in the grammar: positional arguments first, keywords are not names, parameter types.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any, NamedTuple, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from ..diagnostics import SnnError, SnnLimitError, SnnSyntaxError, SourceSpan, closest
from . import ast
from .grammar import (
    KEYWORDS,
    MAX_NESTING,
    MAX_SOURCE,
    MAX_STRING,
    NestingTooDeep,
    StringTooLong,
    build_parser,
    can_be_strict,
    get_parser,
    lex_state,
    pos,
)
from .syntax_errors import syntax_error

PARAM_TYPES = ("int", "float", "bool", "str")
#: the types that may be written with `?` (the type or `none`) in a neuron header
OPTIONAL_TYPES = ("int", "float", "bool")
#: the type of a neuron's `surrogate` parameter (neuron headers only)
SURROGATE_TYPE = "surrogate"

# Rules that add one level of nesting to the AST (the later passes walk these recursively);
# a `binop` adds none through its left operand: `a + b + c` is as flat as a list (the
# evaluator walks the left operands of a left-associative operator in a loop).
NESTING_RULES = frozenset(
    "binop unop if_expr call_expr tuple_expr list_expr chain merge_call group op_call".split()
)
FLAT_FIRST_CHILD = frozenset({"binop"})

_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_TOO_DEEP_HINT = "split it up with `let` constants or intermediate values"


def parse(text: str, filename: str = "<string>") -> ast.File:
    """Parse the text of a ``.snn`` file. Raises :class:`SnnError` (with ``source`` set)."""
    try:
        return _parse(text, filename)
    except SnnError as err:
        raise err.with_source(text) from None


@lru_cache(maxsize=1)
def ast_parser() -> tuple[Lark, ToAst]:
    """The shared Lark parser that builds the AST, and the :class:`ToAst` it calls."""
    builder = ToAst()
    return build_parser(strict=can_be_strict(), transformer=builder), builder


# One parse at a time: the callbacks are bound to one ToAst, which holds the state of the
# parse in progress. (Parsing holds the GIL throughout, so threads lose nothing by it.)
_LOCK = threading.Lock()


def _parse(text: str, filename: str) -> ast.File:
    source = text
    if len(text) > MAX_SOURCE:
        raise SnnLimitError(
            f"the file is too large ({len(text):,} characters; the limit is {MAX_SOURCE:,})",
            SourceSpan.point(filename, 1, 1),
            "a .snn file describes a network in a few KiB; generate smaller files, or use blocks and `* n`",
        )
    if text.startswith("\ufeff"):  # a byte-order mark: blank it, keeping every column
        text = " " + text[1:]
    parser, builder = ast_parser()
    with _LOCK:
        builder.begin(filename)
        try:
            items = cast("tuple[ast.TopItem, ...]", parser.parse(text))  # ToAst.start's
        except NestingTooDeep as exc:
            raise _brackets_too_deep(exc, filename) from None
        except StringTooLong as exc:
            raise _string_too_long(exc, filename) from None
        except UnexpectedInput as exc:
            raise syntax_error(exc, text, filename, lex_state(parser)) from None
        except SnnError as err:  # from a ToAst method
            state = lex_state(parser)
            if state is not None and state.keyword_name is not None:
                raise _after_a_keyword_name(text, filename, err) from None
            raise
        finally:
            builder.end()
    return ast.File(items=items, filename=filename, source=source)


def _brackets_too_deep(exc: NestingTooDeep, filename: str) -> SnnLimitError:
    at = pos(exc.token)
    return SnnLimitError(
        f"brackets nested too deeply (more than {MAX_NESTING} levels)",
        SourceSpan.point(filename, at.line, at.column),
        _TOO_DEEP_HINT,
    )


def _string_too_long(exc: StringTooLong, filename: str) -> SnnLimitError:
    at = pos(exc.token)
    return SnnLimitError(
        f"string literal too long ({len(exc.token) - 2:,} characters; the limit is {MAX_STRING:,})",
        SourceSpan.point(filename, at.line, at.column),
        "strings name modes and options; pass large data another way (a file that a `use` module reads)",
    )


def _after_a_keyword_name(text: str, filename: str, err: SnnError) -> SnnError:
    """The error to report when the AST builder stopped at ``err`` after the lexer had read
    a keyword as a name: a syntax error anywhere in the file comes first, then nesting too
    deep (counted from the top of Lark's tree), then ``err``.

    That is the order of checks that held for such files when the parser ran in two steps
    (a tree from Lark, then the AST from the tree), kept so that a file with two mistakes
    reports the same one as before. Elsewhere the first mistake is reported, as the
    parser meets it."""
    parser = get_parser()  # Lark's tree, with positions: built on first use
    try:
        tree = parser.parse(text)
    except NestingTooDeep as exc:
        return _brackets_too_deep(exc, filename)
    except StringTooLong as exc:
        return _string_too_long(exc, filename)
    except UnexpectedInput as exc:
        return syntax_error(exc, text, filename, lex_state(parser))
    return _too_deep(tree, filename) or err


def _too_deep(tree: Tree, filename: str) -> SnnLimitError | None:
    """A node of ``tree`` more than :data:`MAX_NESTING` levels down from its top, if any."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in NESTING_RULES:
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                return SnnLimitError(
                    f"nested too deeply (more than {MAX_NESTING} levels of expressions,"
                    " chains or groups)",
                    SourceSpan(filename, meta.line, meta.column, meta.end_line, meta.end_column),
                    _TOO_DEEP_HINT,
                )
        flat = node.data in FLAT_FIRST_CHILD  # the left operand of `a + b`: no deeper
        stack.extend(
            (child, depth - 1 if flat and i == 0 else depth)
            for i, child in enumerate(node.children)
            if isinstance(child, Tree)
        )
    return None


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
    span: SourceSpan
    depth: int  # nesting, as in ToAst._depth


class _Body(NamedTuple):
    """The statements of a ``{ }`` body, and its closing brace (where the body ends)."""

    items: tuple[ast.Statement, ...]
    end: Token


class _Splice:
    """The value of a ``_rule``: Lark splices its ``children`` into the parent rule's."""

    __slots__ = ("children",)

    def __init__(self, children: list[Any]):
        self.children = children


# (positional, keywords, deepest nesting among them)
_Args = tuple[tuple[Any, ...], tuple[ast.Keyword, ...], int]
_NO_ARGS: _Args = ((), (), 0)


class ToAst:
    """Lark's callbacks: a rule's children (every token kept) -> ``ast`` dataclasses.

    Lark calls ``method(children)`` as it reduces the rule (or ``-> alias``) of that name;
    children follow Lark's tree shaping (``_rule``\\ s spliced in, a ``?rule`` with one
    child replaced by it, ``None`` for each symbol of a missing ``[optional]``), with the
    keywords, brackets, commas and separators in place. The state of the parse in progress
    (file name, nesting depths, bracket spans) is set up by :meth:`begin`.
    """

    def __init__(self) -> None:
        self.filename = "<string>"
        # id(node) -> how deeply nesting rules nest in it (missing: 0). The nodes are the
        # AST's own, alive until the parse ends, so an id cannot be reused meanwhile.
        self._depth: dict[int, int] = {}
        # id(node) -> the span of the brackets around it, for a node written in ( )
        self._paren: dict[int, SourceSpan] = {}

    def begin(self, filename: str) -> None:
        self.filename = filename
        self._depth = {}
        self._paren = {}

    def end(self) -> None:
        self._depth = {}
        self._paren = {}

    def __default__(self, data: str, children: list[Any], meta: Any) -> _Splice:
        # The helper rules Lark makes for `( ... )*` (`__body_star_1`, ...): spliced too.
        return _Splice(children)

    # the grammar's own `_rule`s
    _item = _params = _stmt = _nstmt = _chains = _margs = _marg = _stage_core = _stages = _Splice
    _args = _arg = _exprs = _Splice

    # ----------------------------------------------------------------- helpers

    def _tspan(self, tok: Token) -> SourceSpan:
        # Lark types token positions as Optional; its lexer always sets them (hot path).
        line, column, end_line, end_column = tok.line, tok.column, tok.end_line, tok.end_column
        assert line and column and end_line and end_column
        return SourceSpan(self.filename, line, column, end_line, end_column)

    def _outer(self, node: Any) -> SourceSpan:
        """The span of ``node`` with the brackets it was written in, if any."""
        return self._paren.get(id(node)) or node.span

    def _tok_to(self, first: Token, last: SourceSpan) -> SourceSpan:
        """From the start of ``first`` to the end of ``last``."""
        line, column = first.line, first.column
        assert line and column  # as in _tspan
        return SourceSpan(self.filename, line, column, last.end_line, last.end_column)

    def _tok_tok(self, first: Token, last: Token) -> SourceSpan:
        line, column, end_line, end_column = first.line, first.column, last.end_line, last.end_column
        assert line and column and end_line and end_column  # as in _tspan
        return SourceSpan(self.filename, line, column, end_line, end_column)

    def _to_tok(self, first: SourceSpan, last: Token) -> SourceSpan:
        end_line, end_column = last.end_line, last.end_column
        assert end_line and end_column  # as in _tspan
        return SourceSpan(self.filename, first.line, first.column, end_line, end_column)

    def _join(self, first: SourceSpan, last: SourceSpan) -> SourceSpan:
        return SourceSpan(self.filename, first.line, first.column, last.end_line, last.end_column)

    def _nested(self, depth: int, span: SourceSpan) -> None:
        if depth > MAX_NESTING:
            raise SnnLimitError(
                f"nested too deeply (more than {MAX_NESTING} levels of expressions,"
                " chains or groups)",
                span,
                _TOO_DEEP_HINT,
            )

    def _deepest(self, nodes: Any) -> int:
        get = self._depth.get
        return max([get(id(n), 0) for n in nodes], default=0)

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
        get = self._depth.get
        depth = 0
        for item in items:
            d = get(id(item), 0)
            if d > depth:
                depth = d
            if type(item) is ast.Keyword:
                keywords.append(item)
            elif keywords:
                raise SnnSyntaxError(
                    "positional argument after a keyword argument",
                    item.span,
                    f"move it before `{keywords[0].name}=`, or give it a name: `name=...`",
                )
            else:
                positional.append(item)
        return tuple(positional), tuple(keywords), depth

    # ----------------------------------------------------------------- file

    def start(self, ch: list[Any]) -> tuple[ast.TopItem, ...]:
        return tuple([c for c in ch if not isinstance(c, Token)])  # without the _SEPs

    def use_decl(self, ch: list[Any]) -> ast.UseDecl:
        use, path, _, alias_tok, kind = ch
        alias = self._ident(alias_tok, "an alias")
        return ast.UseDecl(path.id, alias.id, str(kind), self._tok_tok(use, kind), alias.span)

    def use_kind(self, ch: list[Token]) -> Token:
        return ch[0]

    def _definition(self, cls: Any, ch: list[Any]) -> Any:
        keyword, name_tok, params, body = ch
        name = self._ident(name_tok, "a name")
        for p in params:
            if p.optional or p.type == SURROGATE_TYPE:
                written = f"{p.type}?" if p.optional else p.type
                raise SnnSyntaxError(
                    f"the parameter type `{written}` is only for neuron headers", p.span,
                    f"a {keyword} parameter's type is one of int, float, bool, str",
                )
        return cls(name.id, params, body.items, self._tok_tok(keyword, body.end), name.span)

    def neuron_def(self, ch: list[Any]) -> ast.NeuronDef:
        keyword, name_tok, params, overrides, body = ch
        name = self._ident(name_tok, "a neuron name")
        for p in params:
            if p.type == SURROGATE_TYPE and p.name != "surrogate":
                raise SnnSyntaxError(
                    f"only a neuron's `surrogate` parameter has the type `surrogate`, not '{p.name}'", p.span,
                    "`spike` uses the neuron's surrogate; declare `surrogate: surrogate = Rect()` to change "
                    "its default",
                )
            if p.name == "surrogate" and (p.type != SURROGATE_TYPE or p.optional):
                raise SnnSyntaxError(
                    "a neuron's `surrogate` parameter is a surrogate function", p.span,
                    "every neuron takes surrogate= (default Sigmoid()); to change the default, declare "
                    "`surrogate: surrogate = Rect()`",
                )
        return ast.NeuronDef(name.id, params, body.items, self._tok_tok(keyword, body.end), name.span,
                             overrides is not None)

    def neuron_body(self, ch: list[Any]) -> _Body:
        return self.body(ch)

    def block_def(self, ch: list[Any]) -> ast.BlockDef:
        return self._definition(ast.BlockDef, ch)

    def model_def(self, ch: list[Any]) -> ast.ModelDef:
        return self._definition(ast.ModelDef, ch)

    def params(self, ch: list[Any]) -> tuple[ast.Param, ...]:
        return tuple(ch[1:-1:2])  # ( param , param , ... )

    def param(self, ch: list[Any]) -> ast.Param:
        name_tok, _, type_tok, qmark, _, default = ch
        name = self._ident(name_tok, "a parameter name")
        if name.id == "_":
            raise SnnSyntaxError(
                "`_` cannot name a parameter: in an expression it means 'infer from the input'",
                name.span,
                "choose another name",
            )
        if type_tok not in PARAM_TYPES and type_tok != SURROGATE_TYPE:
            guess = closest(str(type_tok), (*PARAM_TYPES, SURROGATE_TYPE))
            raise SnnSyntaxError(
                f"unknown parameter type `{type_tok}`"
                + (f" (did you mean `{guess}`?)" if guess else ""),
                self._tspan(type_tok),
                "a parameter's type is one of int, float, bool, str",
            )
        if qmark is not None and type_tok not in OPTIONAL_TYPES:
            raise SnnSyntaxError(
                f"`{type_tok}?` is not a type", self._tok_tok(type_tok, qmark),
                "the optional types (the type or `none`) are int?, float? and bool?",
            )
        if default is not None:
            span = self._tok_to(name_tok, self._outer(default))
        else:
            span = self._tok_tok(name_tok, qmark if qmark is not None else type_tok)
        return ast.Param(name.id, str(type_tok), default, span, optional=qmark is not None)

    def body(self, ch: list[Any]) -> _Body:
        return _Body(tuple([c for c in ch[1:-1] if not isinstance(c, Token)]), ch[-1])

    # ----------------------------------------------------------------- statements

    def input_stmt(self, ch: list[Any]) -> ast.InputStmt:
        keyword, name_tok, _, shape, static = ch
        name = self._ident(name_tok, "an input name")
        if static is not None:
            span = self._tok_tok(keyword, static)
        elif shape is not None:
            span = self._tok_to(keyword, shape.span)
        else:
            span = self._tok_tok(keyword, name_tok)
        dims = shape.items if shape is not None else None
        return ast.InputStmt(name.id, dims, static is not None, span, name.span)

    def let_stmt(self, ch: list[Any]) -> ast.LetStmt:
        keyword, name_tok, _, value = ch
        name = self._ident(name_tok, "a constant name")
        if name.id == "_":
            raise SnnSyntaxError(
                "`_` cannot name a constant: in an expression it means 'infer from the input'",
                name.span,
                "choose another name",
            )
        return ast.LetStmt(name.id, value, self._tok_to(keyword, self._outer(value)), name.span)

    def defaults_stmt(self, ch: list[Any]) -> ast.DefaultsStmt:
        keyword, op, _, args, rpar = ch
        positional, keywords, _ = args or _NO_ARGS
        return ast.DefaultsStmt(op.id, keywords, self._tok_tok(keyword, rpar), op.span, positional)

    def assign_stmt(self, ch: list[Any]) -> ast.AssignStmt:
        target_tok, value = ch[0], ch[-1]
        names = [self._ident(t, "a value name") for t in ch[:-2:2]]  # NAME (, NAME)* = chain
        seen: dict[str, SourceSpan] = {}
        for n in names:
            if n.id in seen:
                raise SnnSyntaxError(f"'{n.id}' is bound twice in one assignment", n.span,
                                     "give each value its own name")
            seen[n.id] = n.span
        span = self._tok_to(target_tok, self._outer(value))
        return ast.AssignStmt(names[0].id, value, span, names[0].span, tuple((n.id, n.span) for n in names[1:]))

    def return_stmt(self, ch: list[Any]) -> ast.ReturnStmt:
        values = tuple(ch[1::2])  # return chain , chain ...
        return ast.ReturnStmt(values, self._tok_to(ch[0], self._outer(values[-1])))

    # ----------------------------------------------------------------- neuron statements

    def state_stmt(self, ch: list[Any]) -> ast.StateStmt:
        keyword, name_tok, _, value = ch
        name = self._ident(name_tok, "a state name")
        return ast.StateStmt(name.id, value, self._tok_to(keyword, self._outer(value)), name.span)

    def learnable_stmt(self, ch: list[Any]) -> ast.LearnableStmt:
        keyword, name_tok, _, value = ch
        name = self._ident(name_tok, "a param name")
        return ast.LearnableStmt(name.id, value, self._tok_to(keyword, self._outer(value)), name.span)

    def equation(self, ch: list[Any]) -> ast.Equation:
        name_tok, _, value = ch
        name = self._ident(name_tok, "a name")
        return ast.Equation(name.id, value, self._tok_to(name_tok, self._outer(value)), name.span)

    def neuron_return(self, ch: list[Any]) -> ast.NeuronReturn:
        keyword, value = ch
        return ast.NeuronReturn(value, self._tok_to(keyword, self._outer(value)))

    # ----------------------------------------------------------------- chains

    def chain(self, ch: list[Any]) -> ast.Value:
        head = ch[0]
        get = self._depth.get
        depth = get(id(head), 0)
        if len(ch) == 1:  # no stages: the chain is its head
            self._nested(depth + 1, self._outer(head))
            self._depth[id(head)] = depth + 1
            return head
        stages = tuple(ch[2::2])  # head -> stage -> stage ...
        for stage in stages:
            d = get(id(stage), 0)
            if d > depth:
                depth = d
        span = self._join(self._outer(head), stages[-1].span)
        self._nested(depth + 1, span)
        node = ast.Chain(head, stages, span)
        self._depth[id(node)] = depth + 1
        return node

    def value(self, ch: list[Any]) -> ast.Value:
        """``( chain )``: the chain, with the span of its brackets on the side."""
        return self._bracketed(ch)

    def atom(self, ch: list[Any]) -> ast.Expr:
        """``( expr )``: the expression, with the span of its brackets on the side."""
        return self._bracketed(ch)

    def _bracketed(self, ch: list[Any]) -> Any:
        lpar, node, rpar = ch
        self._paren[id(node)] = self._tok_tok(lpar, rpar)
        return node

    def name_ref(self, ch: list[Token]) -> ast.NameRef:
        name = self._ident(ch[0], "a value name")
        return ast.NameRef(name.id, name.span)

    def merge_call(self, ch: list[Any]) -> ast.MergeCall:
        op_tok, _, args, rpar = ch
        operands, keywords, depth = args or _NO_ARGS
        span = self._tok_tok(op_tok, rpar)
        self._nested(depth + 1, span)
        op = self._ident(op_tok, "an op name")
        node = ast.MergeCall(op.id, operands, keywords, span, op.span)
        self._depth[id(node)] = depth + 1
        return node

    def merge_args(self, ch: list[Any]) -> _Args:
        return self._split_args(ch[::2])  # operand , operand , ... [,]

    def stage(self, ch: list[Any]) -> ast.Stage:
        label, core, repeat = ch
        depth = core.depth
        if repeat is not None:
            d = self._depth.get(id(repeat), 0)
            if d > depth:
                depth = d
            end = self._outer(repeat)
        else:
            end = core.span
        if label is not None:
            span = self._join(label.span, end)
            label_id, label_span = label.id, label.span
        else:
            span = self._join(core.span, end)
            label_id = label_span = None
        node: ast.Stage
        if core.op is None:
            node = ast.GroupStage(label_id, core.stages, repeat, span, label_span)
        else:
            node = ast.OpStage(
                label_id, core.op.id, core.args, core.kwargs, repeat, span, core.op.span,
                label_span,
            )  # fmt: skip
        if depth:
            self._depth[id(node)] = depth
        return node

    def label(self, ch: list[Token]) -> _Name:
        # label : -- a keyword is a fine label (`block: (...)`): labels are state_dict keys,
        # and after `->` no keyword can start a stage, so nothing is ambiguous
        return _Name(str(ch[0]), self._tspan(ch[0]))

    def op_call(self, ch: list[Any]) -> _Core:
        op, _, args, rpar = ch
        positional, keywords, depth = args or _NO_ARGS
        span = self._to_tok(op.span, rpar)
        self._nested(depth + 1, span)
        return _Core(op, positional, keywords, (), span, depth + 1)

    def group(self, ch: list[Any]) -> _Core:
        stages = tuple(ch[1:-1:2])  # ( stage -> stage ... )
        depth = self._deepest(stages) + 1
        span = self._tok_tok(ch[0], ch[-1])
        self._nested(depth, span)
        return _Core(None, (), (), stages, span, depth)

    def repeat(self, ch: list[Any]) -> ast.Expr:
        return ch[1]  # ch[0] is the `*`

    def dotted_name(self, ch: list[Any]) -> _Name:
        if len(ch) == 1:
            return self._ident(ch[0], "an op name")
        head, _, tok = ch
        part = self._ident(tok, "a name")
        return _Name(f"{head.id}.{part.id}", self._to_tok(head.span, tok))

    # ----------------------------------------------------------------- arguments

    def args(self, ch: list[Any]) -> _Args:
        return self._split_args(ch[::2])  # arg , arg , ... [,]

    def kwarg(self, ch: list[Any]) -> ast.Keyword:
        name_tok, _, value = ch
        name = self._ident(name_tok, "an argument name")
        node = ast.Keyword(name.id, value, self._tok_to(name_tok, self._outer(value)))
        depth = self._depth.get(id(value), 0)
        if depth:
            self._depth[id(node)] = depth
        return node

    # ----------------------------------------------------------------- expressions

    def binop(self, ch: list[Any]) -> ast.BinOp:
        left, op, right = ch
        get = self._depth.get
        depth = get(id(right), 0) + 1
        flat = get(id(left), 0)  # no deeper through the left operand
        if flat > depth:
            depth = flat
        span = self._join(self._outer(left), self._outer(right))
        self._nested(depth, span)
        node = ast.BinOp(str(op), left, right, span)
        self._depth[id(node)] = depth
        return node

    def if_expr(self, ch: list[Any]) -> ast.IfExpr:
        then, _, cond, _, orelse = ch
        get = self._depth.get
        depth = max(get(id(then), 0), get(id(cond), 0), get(id(orelse), 0)) + 1
        span = self._join(self._outer(then), self._outer(orelse))
        self._nested(depth, span)
        node = ast.IfExpr(then, cond, orelse, span)
        self._depth[id(node)] = depth
        return node

    def unop(self, ch: list[Any]) -> ast.UnaryOp:
        op, operand = ch
        depth = self._depth.get(id(operand), 0) + 1
        span = self._tok_to(op, self._outer(operand))
        self._nested(depth, span)
        node = ast.UnaryOp(str(op), operand, span)
        self._depth[id(node)] = depth
        return node

    def int_lit(self, ch: list[Token]) -> ast.Literal:
        tok = ch[0]
        try:
            value = int(tok)
        except ValueError:  # longer than sys.get_int_max_str_digits()
            raise SnnLimitError(
                f"integer literal too long ({len(tok)} digits)",
                self._tspan(tok),
                "integers in a .snn file are sizes and counts: a few digits are enough",
            ) from None
        return ast.Literal(value, self._tspan(tok))

    def float_lit(self, ch: list[Token]) -> ast.Literal:
        value = float(ch[0])
        if value in (float("inf"), float("-inf")):
            raise SnnLimitError(
                "float literal too large", self._tspan(ch[0]), "the largest float is about 1.8e308"
            )
        return ast.Literal(value, self._tspan(ch[0]))

    def str_lit(self, ch: list[Token]) -> ast.Literal:
        return ast.Literal(self._decode_string(ch[0]), self._tspan(ch[0]))

    def true_lit(self, ch: list[Token]) -> ast.Literal:
        return ast.Literal(True, self._tspan(ch[0]))

    def false_lit(self, ch: list[Token]) -> ast.Literal:
        return ast.Literal(False, self._tspan(ch[0]))

    def none_lit(self, ch: list[Token]) -> ast.Literal:
        return ast.Literal(None, self._tspan(ch[0]))

    def infer(self, ch: list[Token]) -> ast.Infer:
        return ast.Infer(self._tspan(ch[0]))

    def name(self, ch: list[Token]) -> ast.Name:
        name = self._ident(ch[0], "a name")
        return ast.Name(name.id, name.span)

    def call_expr(self, ch: list[Any]) -> ast.CallExpr:
        func_tok, _, args, rpar = ch
        positional, keywords, depth = args or _NO_ARGS
        span = self._tok_tok(func_tok, rpar)
        self._nested(depth + 1, span)
        func = self._ident(func_tok, "a function name")
        node = ast.CallExpr(func.id, positional, keywords, span)
        self._depth[id(node)] = depth + 1
        return node

    def tuple_expr(self, ch: list[Any]) -> ast.TupleExpr:
        return self._sequence(ch, False)

    def list_expr(self, ch: list[Any]) -> ast.TupleExpr:
        return self._sequence(ch, True)

    def _sequence(self, ch: list[Any], is_list: bool) -> ast.TupleExpr:
        items = tuple(ch[1:-1:2])  # ( item , item , ... [,] )
        depth = self._deepest(items) + 1
        span = self._tok_tok(ch[0], ch[-1])
        self._nested(depth, span)
        node = ast.TupleExpr(items, span, is_list=is_list)
        self._depth[id(node)] = depth
        return node
