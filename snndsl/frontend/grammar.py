"""The Lark parser for ``grammars/snn.lark``: found once, built once, shared.

The grammar ships in the wheel as the package ``snndsl.grammars`` (see pyproject.toml);
in a source checkout it is ``<repo>/grammars/snn.lark``. :func:`build_parser` builds an
LALR parser (strict, i.e. refusing conflicts and colliding terminals, when ``interegular``
is installed): ``parse.py`` builds one in Lark's transformer mode, which makes the AST as
it parses; :func:`get_parser` memoises one that makes Lark's tree, with positions (for
tools and tests, and for one rare order of error reports).

The post-lexer :class:`BracketPostLexer` does what a context-free grammar cannot do
cheaply: it drops line breaks inside ``( )`` and ``[ ]`` (as Python does), it counts
bracket nesting so that absurdly deep input stops early with a clear error, it moves
each ``->`` token's position from the line breaks it swallowed onto the arrow itself,
it notes the first keyword that the lexer read as a name, and it refuses a string literal
longer than :data:`MAX_STRING`.

On Python 3.11 and later, :func:`build_parser` runs the three terminals whose regexes
repeat a group (``STRING``, ``_ARROW``, ``_SEP``) with possessive quantifiers
(:data:`POSSESSIVE`): the same language, matched in linear time and constant memory.
Python's ``re`` keeps a backtracking frame per repetition of a group, so the plain forms
took 12 s and 4.8 GB for a 20 MB string literal, and as much for a few million blank or
comment lines. The grammar file keeps the plain forms, which strict mode's collision
check (``interegular``) can read; the swap happens after that check.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from lark import Lark, Token
from lark.lark import PostLex
from lark.lexer import PatternRE

GRAMMAR_FILE = "snn.lark"

#: The deepest nesting of brackets (and of the syntax tree) that the front end accepts.
#: Real models nest a handful of levels; the bound keeps every later recursive walk of
#: the AST far from Python's recursion limit.
MAX_NESTING = 200

#: The longest string literal, in characters between its quotes (as written: an escape
#: counts its two characters). Strings name modes and options (``padding_mode="zeros"``);
#: the bound stops a generated or hostile file early, at the literal.
MAX_STRING = 65_536

#: The longest source text, in characters (64 MiB), refused before it is parsed. A model
#: at the compiler's node limit (200,000 nodes) takes about 10 MiB.
MAX_SOURCE = 64 * 2**20

_OPEN = {"LPAR": "(", "LSQB": "[", "LBRACE": "{"}
_CLOSE = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}


class NestingTooDeep(Exception):
    """Raised by the post-lexer at the bracket that exceeds :data:`MAX_NESTING`."""

    def __init__(self, token: Token):
        super().__init__(token)
        self.token = token


class StringTooLong(Exception):
    """Raised by the post-lexer at a string literal longer than :data:`MAX_STRING`."""

    def __init__(self, token: Token):
        super().__init__(token.type)  # not the token's text: it is long
        self.token = token


#: The reserved words. Where only a name fits, Lark's contextual lexer reads one as a
#: ``NAME`` (the parser then says it is a keyword); elsewhere it is its own terminal.
KEYWORDS = frozenset(
    "model block input return let defaults use as static stateful stateless true false none"
    " if else and or not".split()
)
#: Words that are keywords only where they start a neuron definition (``neuron``, and
#: ``overrides`` after its header) or a statement of its body (``state``, ``param``), so
#: they stay usable as names, labels and values everywhere else.
SOFT_KEYWORDS = frozenset("neuron overrides state param".split())


@dataclass
class LexState:
    """What the post-lexer saw in one parse, kept for the error messages."""

    open: list[Token] = field(default_factory=list)  # unclosed ( [ {, innermost last
    # the last three tokens handed to the parser, most recent last
    recent: deque[Token] = field(default_factory=lambda: deque(maxlen=3))
    keyword_name: Token | None = None  # the first keyword the lexer read as a NAME
    # the statement separators handed to the parser, the latest and the one before it
    # (what the statement before the latest separator was, for the error messages)
    sep: Token | None = None
    sep_before: Token | None = None

    @property
    def current(self) -> Token | None:
        return self.recent[-1] if self.recent else None


class BracketPostLexer(PostLex):
    """Drops line breaks inside brackets, bounds nesting, fixes ``->`` positions."""

    always_accept = ("_SEP",)  # the lexer must produce line breaks even inside brackets

    def __init__(self) -> None:
        self._local = threading.local()

    @property
    def state(self) -> LexState | None:
        """The state of the latest parse on this thread."""
        return getattr(self._local, "state", None)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        state = LexState()
        self._local.state = state
        opened = state.open
        push = state.recent.append
        for tok in stream:
            kind = tok.type
            if kind == "NAME":
                if tok in KEYWORDS and state.keyword_name is None:
                    state.keyword_name = tok
            elif kind == "_SEP":
                if opened and opened[-1].type != "LBRACE" and ";" not in tok:
                    continue  # a line break inside ( ) or [ ]
                state.sep_before, state.sep = state.sep, tok
            elif kind == "_ARROW":
                tok = arrow_at_arrow(tok)
            elif kind == "STRING" and len(tok) > MAX_STRING + 2:
                raise StringTooLong(tok)
            push(tok)
            yield tok
            # The parser asks for the next token only once it has accepted this one, so
            # when it fails, `opened` holds the brackets before the token it failed on.
            if kind in _OPEN:
                opened.append(tok)
                if len(opened) > MAX_NESTING:
                    raise NestingTooDeep(tok)
            elif kind in _CLOSE and opened:
                opened.pop()  # an accepted closing bracket always matches the innermost one


class Pos(NamedTuple):
    """A token's position as plain ints (Lark types them Optional; its lexer sets them)."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


def pos(tok: Token) -> Pos:
    line, column = tok.line or 1, tok.column or 1
    start = tok.start_pos or 0
    return Pos(
        line,
        column,
        tok.end_line or line,
        tok.end_column or column + len(tok),
        start,
        tok.end_pos if tok.end_pos is not None else start + len(tok),
    )


def arrow_at_arrow(tok: Token) -> Token:
    """Move an ``_ARROW`` token, which may start with line breaks, onto its ``->``."""
    text = str(tok)
    at = text.index("->")
    if at == 0:
        return tok
    p = pos(tok)
    breaks = text.count("\n", 0, at)
    line = p.line + breaks
    column = (at - text.rindex("\n", 0, at)) if breaks else p.column + at
    return Token("_ARROW", "->", p.start + at, line, column, line, column + 2, p.start + at + 2)


#: ``terminal: (its regex in grammars/snn.lark, the same with possessive quantifiers)``. A
#: possessive quantifier never gives back what it matched; in each of these regexes what
#: follows a group cannot start with what the group matched, so the language is the same
#: (tests/robustness/test_frontend_limits.py checks both forms on a corpus).
POSSESSIVE: dict[str, tuple[str, str]] = {
    "STRING": (r'"(?:[^"\\\n\r]|\\[^\n\r])*"', r'"(?:[^"\\\n\r]++|\\[^\n\r])*+"'),
    "_ARROW": (
        r"(?:[ \t\f]*(?:#[^\n]*)?\r?\n)*[ \t\f]*->(?:[ \t\f]*(?:#[^\n]*)?\r?\n)*",
        r"(?:[ \t\f]*+(?:#[^\n]*+)?+\r?\n)*+[ \t\f]*+->(?:[ \t\f]*+(?:#[^\n]*+)?+\r?\n)*+",
    ),
    "_SEP": (
        r"(?:[ \t\f]*(?:;|(?:#[^\n]*)?\r?\n))+",
        r"(?:[ \t\f]*+(?:;|(?:#[^\n]*+)?+\r?\n))++",
    ),
}


def use_possessive(parser: Lark) -> list[str]:
    """Swap in the :data:`POSSESSIVE` forms of ``parser``'s terminals (Python 3.11+, where
    ``re`` has possessive quantifiers), before its lexers compile their scanners. Returns
    the names of the terminals swapped; a terminal whose text in the grammar is not the
    plain form here is left alone (a test fails then)."""
    if sys.version_info < (3, 11):  # pragma: no cover - the plain forms: correct, slower
        return []
    swapped = []
    for term in parser.terminals:
        forms = POSSESSIVE.get(term.name)
        if forms is not None and isinstance(term.pattern, PatternRE) and term.pattern.raw == f"/{forms[0]}/":
            term.pattern = PatternRE(forms[1], term.pattern.flags, term.pattern.raw)
            swapped.append(term.name)
    return swapped


def lex_state(parser: Lark) -> LexState | None:
    """What the post-lexer saw in ``parser``'s latest parse on this thread."""
    postlex = parser.options.postlex
    return postlex.state if isinstance(postlex, BracketPostLexer) else None


def grammar_text() -> str:
    """The text of ``snn.lark``, from the installed package or from the source tree."""
    try:
        resource = importlib.resources.files("snndsl.grammars").joinpath(GRAMMAR_FILE)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    repo_copy = Path(__file__).resolve().parents[2] / "grammars" / GRAMMAR_FILE
    return repo_copy.read_text(encoding="utf-8")


def can_be_strict() -> bool:
    # Lark's strict mode checks terminals for collisions with `interegular`; without it,
    # strict=True refuses to load. The tests check the grammar for LALR conflicts either
    # way (tests/frontend/test_grammar.py), and a non-strict load builds the same tables.
    return importlib.util.find_spec("interegular") is not None


def build_parser(strict: bool, transformer: object | None = None) -> Lark:
    """A new LALR parser for the grammar (use :func:`get_parser` for the shared one).

    Without ``transformer``, ``parse`` returns Lark's tree, with positions on every node.
    With one, Lark calls its methods as it reduces each rule and returns what the start
    rule's method returns: no tree is built. Lark passes no positions to those methods,
    so this parser keeps every token (``keep_all_tokens``) for them to take their spans
    from; the LALR tables, the lexer and the errors are the same either way.
    """
    parser = Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        strict=strict,
        propagate_positions=transformer is None,
        keep_all_tokens=transformer is not None,
        maybe_placeholders=True,
        postlex=BracketPostLexer(),
        transformer=transformer,
    )
    use_possessive(parser)
    return parser


@lru_cache(maxsize=1)
def get_parser() -> Lark:
    """The shared tree-building parser, built on first use (``parse.py`` has its own)."""
    return build_parser(strict=can_be_strict())
