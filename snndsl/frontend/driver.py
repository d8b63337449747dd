"""A lean LALR driver: Lark's tables and rules, a tight loop, the AST built on the fly.

Lark's own ``parse`` builds a full parse tree with positions, which a transformer then
walks again; in CPython that costs tens of microseconds per token, too slow for the
100,000-line files the compiler must take in a few seconds. This module runs the same
LALR(1) automaton (the tables Lark built from ``snn.lark``) over tokens from one compiled
regular expression (made from the grammar's own terminals), and calls the AST builder's
rule methods as each rule is reduced, with the span of the rule's text.

It follows Lark's tree-shaping conventions exactly (anonymous and ``_`` tokens dropped,
``_rule`` spliced into its parent, ``?rule`` replaced by a lone child, ``None`` for a
missing ``[optional]``), so ``ToAst`` serves both this driver and Lark's trees; the
tests check that the two agree. On any syntax error the driver gives up
(:class:`Rejected`) and the caller re-parses with Lark, whose error state is what
``syntax_errors.py`` puts into words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import chain
from typing import Any

from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift

from ..diagnostics import SnnLimitError, SourceSpan
from .grammar import MAX_NESTING

# Rules that add one level of nesting to the AST (the later passes walk these recursively).
NESTING_RULES = frozenset(
    "binop unop call_expr tuple_expr list_expr chain merge_call group op_call".split()
)
# ... except through their first child: `a + b + c` is as flat as a list (the evaluator
# walks the left operands of a left-associative operator in a loop)
FLAT_FIRST_CHILD = frozenset({"binop"})
_VALUE, _SPLICE, _TOKEN = 0, 1, 2
_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = frozenset(_OPENERS.values())


class Rejected(Exception):
    """The driver cannot parse the text; Lark will say why."""


class _Plan:
    """How to turn the stack entries of one rule's right-hand side into a value."""

    __slots__ = (
        "size", "include", "trailing_nones", "origin", "splice", "expand1", "method", "nests",
        "passthrough", "flat_first",
    )  # fmt: skip

    def __init__(self, rule: Any, builder_cls: type):
        options = rule.options
        expansion = rule.expansion
        self.size = len(expansion)
        self.origin = str(rule.origin.name)  # a plain str: Lark's Token compares slowly
        name = rule.alias or options.template_source or self.origin
        self.splice = self.origin.startswith("_")  # `_rule`: its children go to the parent
        self.expand1 = bool(options.expand1) and not rule.alias
        method = getattr(builder_cls, str(name), None)
        # the plain function under Lark's @v_args wrapper: one call less per rule
        self.method: Callable[[Any, Any, list[Any]], Any] | None = getattr(
            method, "base_func", method
        )
        self.nests = 1 if name in NESTING_RULES else 0
        self.flat_first = name in FLAT_FIRST_CHILD
        # Lark's maybe_placeholders: how many Nones go before each symbol (and after the last)
        empty = options.empty_indices or ()
        if empty:
            runs = [len(ones) for ones in "".join(str(int(b)) for b in empty).split("0")]
        else:
            runs = [0] * (self.size + 1)
        include: list[tuple[int, int, int]] = []
        nones = 0
        for i, sym in enumerate(expansion):
            nones += runs[i]
            if options.keep_all_tokens or not (sym.is_term and sym.filter_out):
                kind = _TOKEN if sym.is_term else _SPLICE if sym.name.startswith("_") else _VALUE
                include.append((i, kind, nones))
                nones = 0
        self.include = tuple(include)
        self.trailing_nones = nones + runs[self.size]
        # a lone child passed up unchanged (`?sum: product`): the driver skips the rebuild
        self.passthrough = (
            self.expand1 and self.include == ((0, _VALUE, 0),) and not self.trailing_nones
            and not self.splice and not self.nests
        )  # fmt: skip


class Driver:
    """Parses text with the tables of ``lark`` and builds values with ``builder_cls``.

    ``builder_cls(filename)`` has one method per rule (or alias) named as in the grammar,
    called as ``method(span, children)`` where ``span`` is
    ``(line, column, end_line, end_column)`` and ``children`` follows Lark's conventions.
    """

    def __init__(self, lark: Lark, builder_cls: type):
        table = lark.parser.parser._parse_table  # the LALR(1) automaton Lark built
        plans = {rule: _Plan(rule, builder_cls) for rule in lark.rules}
        # state -> symbol -> next state (a shift or a goto) or the _Plan of a reduction
        self.table: dict[int, dict[str, int | _Plan]] = {
            state: {
                str(sym): (arg if action is Shift else plans[arg])
                for sym, (action, arg) in row.items()
            }
            for state, row in table.states.items()
        }
        self.start_state: int = table.start_states["start"]
        self.end_state: int = table.end_states["start"]
        self.builder_cls = builder_cls
        self.passthrough: dict[tuple[int, int, str], int] = {}  # see _passthrough
        self.regex, self.keywords = self._lexer(lark)
        self.ignore = frozenset(lark.lexer_conf.ignore)
        # the terminals that reach the tree (names, numbers, operators): made into Tokens
        self.kept = frozenset(
            rule.expansion[i].name
            for rule, plan in plans.items()
            for i, how, _ in plan.include
            if how == _TOKEN
        )

    @staticmethod
    def _lexer(lark: Lark) -> tuple[re.Pattern[str], dict[str, str]]:
        """One regex for all terminals, in Lark's order; keywords are found by name."""
        name_re = re.compile(
            next(t.pattern.to_regexp() for t in lark.terminals if t.name == "NAME")
        )
        keywords: dict[str, str] = {}
        terminals = []
        for term in lark.terminals:
            if term.pattern.type == "str" and name_re.fullmatch(term.pattern.value):
                keywords[term.pattern.value] = term.name  # lexed as NAME, then renamed
            else:
                terminals.append(term)
        # Lark's own order: priority, then the longest possible match first.
        terminals.sort(
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name)
        )
        alternatives = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in terminals)
        # Spaces before a token are skipped by the same match (half as many matches).
        return re.compile(f"[ \\t\\f]*(?:{alternatives}|(?P<_BAD>.))", re.DOTALL), keywords

    def parse(self, text: str, filename: str) -> Any:
        """The value of the start rule for ``text``; :class:`Rejected` on a syntax error.

        The lexer is inlined into the parser loop: this function runs once per token.
        """
        builder = self.builder_cls(filename)
        table, end_state = self.table, self.end_state
        keywords, kept, ignore, passthrough = (
            self.keywords,
            self.kept,
            self.ignore,
            self.passthrough,
        )
        states = [self.start_state]
        # one entry per symbol on the stack: (value, line, column, end_line, end_column, nesting)
        values: list[tuple[Any, int, int, int, int, int]] = []
        line, line_start = 1, 0
        brackets: list[str] = []  # the closing kinds of the open brackets
        entry: tuple[Any, int, int, int, int, int]
        for m in chain(self.regex.finditer(text), (None,)):
            # ---- the next token
            if m is None:
                kind = "$END"
                entry = (None, line, 1, line, 1, 0)
            else:
                kind = m.lastgroup  # type: ignore[assignment]
                if kind in ignore:
                    continue
                start = m.start(kind)
                value = m.group(kind)
                if (kind == "_SEP" or kind == "_ARROW") and "\n" in value:
                    column = start - line_start + 1
                    line_start = start + value.rindex("\n") + 1
                    end_line = line + value.count("\n")
                    entry = (None, line, column, end_line, m.end() - line_start + 1, 0)
                    line = end_line
                    if (
                        kind == "_SEP"
                        and brackets
                        and brackets[-1] != "RBRACE"
                        and ";" not in value
                    ):
                        continue  # a line break inside ( ) or [ ]
                else:
                    if kind == "NAME":
                        kind = keywords.get(value, kind)
                    elif kind in _OPENERS:
                        brackets.append(_OPENERS[kind])
                        if len(brackets) > MAX_NESTING:
                            raise Rejected()  # Lark's post-lexer reports it at this bracket
                    elif kind in _CLOSERS:
                        if brackets and brackets[-1] == kind:
                            brackets.pop()
                    elif kind == "_BAD":
                        raise Rejected()
                    column = start - line_start + 1
                    end_column = column + len(value)
                    tok = (
                        Token(kind, value, start, line, column, line, end_column, m.end())
                        if kind in kept
                        else None
                    )
                    entry = (tok, line, column, line, end_column, 0)
            # ---- LALR(1): reduce while the table says so, then shift the token
            while True:
                try:
                    act = table[states[-1]][kind]
                except KeyError:
                    raise Rejected() from None
                if isinstance(act, int):
                    states.append(act)
                    values.append(entry)
                    break
                if act.passthrough:  # `?expr: product` and the like: same value, new state
                    key = (states[-2], states[-1], kind)
                    try:
                        states[-1] = passthrough[key]
                    except KeyError:
                        states[-1] = passthrough[key] = self._passthrough(states, kind)
                    continue
                new = self._reduce(act, values, states, builder)
                goto: int = table[states[-1]][act.origin]  # type: ignore[assignment]
                states.append(goto)
                values.append(new)
                if goto == end_state and kind == "$END":
                    return new[0]
        raise Rejected()  # pragma: no cover - `$END` always ends the loop

    def _passthrough(self, states: list[int], kind: str) -> int:
        """The state after a run of lone-child reductions (``atom`` -> ``power`` -> ...),
        which depends only on the two top states and the lookahead: memoised by ``parse``."""
        below, top = states[-2], states[-1]
        act = self.table[top][kind]
        while isinstance(act, _Plan) and act.passthrough:
            top = self.table[below][act.origin]  # type: ignore[assignment]
            act = self.table[top].get(kind)  # type: ignore[assignment]
        return top

    @staticmethod
    def _reduce(plan: _Plan, values: list[Any], states: list[int], builder: Any) -> tuple[Any, ...]:
        """Pop the rule's symbols, build its value; returns the new stack entry."""
        size = plan.size
        if size:
            entries = values[-size:]
            del values[-size:]
            del states[-size:]
            first, final = entries[0], entries[-1]
            span = (first[1], first[2], final[3], final[4])
            nesting = 0
            for e in entries[1:] if plan.flat_first else entries:
                if e[5] > nesting:
                    nesting = e[5]
            nesting += plan.nests
            if plan.flat_first and first[5] > nesting:
                nesting = first[5]
        else:
            entries = []
            span = (1, 1, 1, 1)
            nesting = 0
        children: list[Any] = []
        for i, how, nones in plan.include:
            if nones:
                children.extend([None] * nones)
            if how != _SPLICE:
                children.append(entries[i][0])
            elif children:
                children.extend(entries[i][0])
            else:  # reuse the spliced list: left-recursive lists grow in O(1) per item
                children = entries[i][0]
        if plan.trailing_nones:
            children.extend([None] * plan.trailing_nones)
        if plan.splice:
            value: Any = children
        elif plan.expand1 and len(children) == 1:
            value = children[0]
        else:
            if nesting > MAX_NESTING:
                raise SnnLimitError(
                    f"nested too deeply (more than {MAX_NESTING} levels of expressions,"
                    " chains or groups)",
                    SourceSpan(builder.filename, *span),
                    "split it up with `let` constants or intermediate values",
                )
            value = plan.method(builder, span, children) if plan.method else children
        return (value, *span, nesting)
