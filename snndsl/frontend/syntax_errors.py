"""Syntax errors in words: Lark's parser state -> an :class:`SnnSyntaxError`.

When the LALR parser stops, Lark tells us the token it could not take and the set of
terminals it would have taken (``accepts``). Together with the token before it and the
brackets still open (both kept by the post-lexer), that says which construct was being
written, and so what to tell the user::

    accepts {LPAR, NAME} after `->`      expected a layer call or a `(` group after `->`
    accepts {_ARROW, STAR, _SEP, ...}    expected `->`, a newline or `;` after the stage
    end of file with an open `{`         missing `}`: this `{` is never closed
    `LIF()` alone on the line after a chain   a chain continues with `->`: write `-> LIF()`

Unknown situations fall back to "unexpected X; expected A, B or C" with the terminals
named in words. Every message has a location and a one-line hint.
"""

from __future__ import annotations

import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..diagnostics import SnnSyntaxError, SourceSpan
from .grammar import KEYWORDS, LexState, arrow_at_arrow, pos

KEYWORD_TERMINALS = {
    "MODEL", "BLOCK", "INPUT", "RETURN", "LET", "DEFAULTS", "USE", "AS", "STATIC",
    "STATEFUL", "STATELESS", "TRUE", "FALSE", "NONE", "IF", "ELSE", "AND", "OR", "NOT",
}  # fmt: skip
#: keywords only where a neuron definition or one of its statements starts
SOFT_KEYWORD_TERMINALS = {"NEURON", "OVERRIDES", "STATE", "PARAM"}
_KEYWORD_TEXTS = frozenset(t.lower() for t in KEYWORD_TERMINALS)
# Keywords that a user may mistake for a name when `=` or `:` follows them.
_KEYWORDS_AS_NAMES = KEYWORD_TERMINALS - {"LET", "DEFAULTS", "USE", "MODEL", "BLOCK"}
_STATEMENT_STARTS = {"INPUT", "RETURN", "LET", "DEFAULTS", "MODEL", "BLOCK", "USE", "RBRACE"}
_CLOSER = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB", "RBRACE": "LBRACE"}

_WORDS = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "LBRACE": "`{`",
    "RBRACE": "`}`", "COMMA": "`,`", "COLON": "`:`", "EQUAL": "`=`", "DOT": "`.`",
    "_ARROW": "`->`", "_SEP": "a newline or `;`", "UNDERSCORE": "`_`", "$END": "the end of the file",
    "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`", "DSLASH": "`//`",
    "PERCENT": "`%`", "POW": "`**`", "COMPARE": "a comparison", "QMARK": "`?`",
}  # fmt: skip
_ORDER = [
    "NEURON", "MODEL", "BLOCK", "LET", "DEFAULTS", "USE", "INPUT", "RETURN", "NAME", "_ARROW", "STAR",
    "COLON", "EQUAL", "COMMA", "DOT", "LPAR", "RPAR", "LSQB", "RSQB", "LBRACE", "RBRACE",
    "_SEP", "$END",
]  # fmt: skip


def syntax_error(
    exc: UnexpectedInput, text: str, filename: str, state: LexState | None
) -> SnnSyntaxError:
    """The :class:`SnnSyntaxError` for a Lark parse failure on ``text``."""
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc, text, filename)
    if isinstance(exc, UnexpectedToken):
        return _Diagnose(exc, text, filename, state or LexState()).error()
    line, column = getattr(exc, "line", 1), getattr(exc, "column", 1)  # pragma: no cover
    return SnnSyntaxError("invalid syntax", SourceSpan.point(filename, line, column))


def words(terminal: str) -> str:
    """A terminal's name in words: ``RPAR`` -> "`)`", ``NAME`` -> "a name"."""
    if terminal in KEYWORD_TERMINALS or terminal in SOFT_KEYWORD_TERMINALS:
        return f"`{terminal.lower()}`"
    return _WORDS.get(terminal, terminal.lower())


def join(items: list[str]) -> str:
    """ "a", "a or b", "a, b or c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _describe(tok: Token) -> str:
    """The token the parser stopped at, in words."""
    kind = tok.type
    if kind == "_SEP":
        return "`;`" if str(tok).lstrip(" \t\f").startswith(";") else "the end of the line"
    if kind == "NAME":
        return f"name `{tok}`"
    if kind in ("INT", "FLOAT"):
        return f"number `{tok}`" if len(tok) < 30 else "a number"
    if kind == "STRING":
        return "a string"
    return words(kind)


_CHARACTERS = {
    '"': ("unterminated string", 'a string ends with `"` on the line where it starts'),
    "'": ("unexpected `'`", 'strings are written in double quotes: "text"'),
    "\r": ("carriage return without a line feed", "save the file with LF or CRLF line ends"),
}


def _bad_character(exc: UnexpectedCharacters, text: str, filename: str) -> SnnSyntaxError:
    at = exc.pos_in_stream or 0
    char = text[at] if at < len(text) else " "
    span = SourceSpan.point(filename, exc.line or 1, exc.column or 1)
    code = f"U+{ord(char):04X}"
    if char in _CHARACTERS:
        message, hint = _CHARACTERS[char]
    elif not char.isprintable() or 0xD800 <= ord(char) <= 0xDFFF:
        message, hint = f"unexpected character {code}", "remove it: .snn files are plain text"
    elif not char.isascii():
        message = f"unexpected character `{char}` ({code})"
        hint = "names and operators are ASCII: letters, digits, `_`, `->`, `-`, `*`"
    else:
        message = f"unexpected character `{char}`"
        hint = "the operators are + - * / // % **; `#` starts a comment"
    return SnnSyntaxError(message, span, hint)


# ---------------------------------------------------------------------- the situations

_TOP_HINTS = (
    "a file holds `let`, `defaults`, `use`, `neuron`, `block` and `model` definitions",
    "statements such as `h = ...`, `input` and `return` go inside a `model` or `block` body",
)
_STATEMENT_HINT = "a body holds `input`, `let`, `defaults`, `name = chain` and `return` lines"
_NEURON_STATEMENT_HINT = ("a neuron body holds `input x`, `state v = ...`, `param k = ...`, `let`, "
                          "`name = expr` and `return expr` lines")
_USE_KIND = (
    "expected `stateful` or `stateless` after the alias",
    "say whether the module keeps state between time steps: `use a.b.C as C stateful`",
)
_CALL_HINTS = (
    "layers are called with parentheses, even without arguments: `ReLU()`",
    "a stage has one label: `label: Op(args)`",
)
_VALUE_HINT = "a value is a name, a merge call such as `add(a, b)`, or a chain in `( )`"
# The start of a statement: its first word, and `=` after it if there is one.
_STATEMENT_HEAD = re.compile(r"[ \t\f]*([A-Za-z_][A-Za-z0-9_]*)[ \t\f]*(=(?!=))?")
# A stage that starts with a name: `Op(`, `nn.Op(`, `label: Op(`, `label: (`.
_NAMED_STAGE = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:[ \t\f]*:[ \t\f]*(?:\(|[A-Za-z_][A-Za-z0-9_.]*[ \t\f]*\()"
    r"|(?:[ \t\f]*\.[ \t\f]*[A-Za-z_][A-Za-z0-9_]*)+[ \t\f]*\()"
)
_KWARG_HINT = "keyword arguments are written `name=value`"

# When the parser accepts exactly these terminals; "{after}" is " after `<last token>`".
_BY_ACCEPTS: dict[frozenset[str], tuple[str, str]] = {
    frozenset({"AS", "DOT"}): (
        "expected `as` and an alias after the module path",
        "e.g. `use mypkg.mod.Mixer as Mixer stateless`",
    ),
    frozenset({"LPAR"}): ("expected `(`{after}", "write `model Net() {` even without parameters"),
    frozenset({"EQUAL"}): ("expected `=`{after}", "e.g. `let WIDTH = 128`"),
    # after the first name of a statement: `y = ...` or `q, k = ...`
    frozenset({"EQUAL", "COMMA"}): ("expected `=`{after}", "bind a value with `y = x -> ...` (several: `a, b = ...`), "
                                    "or a constant with `let WIDTH = 128`"),
    frozenset({"COLON"}): (
        "expected `:` and a type after the parameter name",
        "parameters are typed: `c: int = 64`",
    ),
    frozenset({"COMMA", "EQUAL", "RPAR"}): (
        "expected `=`, `,` or `)` after the parameter type",
        "e.g. `model Net(c: int = 64, p: float = 0.5) {`",
    ),
    frozenset({"COMMA", "EQUAL", "RPAR", "QMARK"}): (
        "expected `=`, `,` or `)` after the parameter type",
        "e.g. `model Net(c: int = 64, p: float = 0.5) {`",
    ),
    frozenset({"NAME", "RPAR"}): (
        "expected a parameter or `)`{after}",
        "parameters are written `name: type = default`",
    ),
    frozenset({"LSQB"}): (
        "expected a shape after `:`",
        "e.g. `input x: [1, 28, 28]`; a block input has no shape: `input x`",
    ),
    frozenset({"LPAR", "NAME", "RPAR"}): (
        "expected a value or `)`{after}",
        "merge operands are values: `add(a, b)`, `cat(a, b -> Op(), dim=0)`",
    ),
    frozenset({"COMMA", "RSQB"}): ("expected `,` or `]` after the item", "e.g. `[1, 28, 28]`"),
}

# When only a name fits: what it names, by the token before it.
_NAME_AFTER = {
    "MODEL": ("expected the model's name after `model`", "e.g. `model Net(c: int = 64) {`"),
    "BLOCK": ("expected the block's name after `block`", "e.g. `block Basic(c: int) {`"),
    "LET": ("expected a name after `let`", "e.g. `let WIDTH = 128`"),
    "USE": (
        "expected a module path after `use`",
        "e.g. `use mypkg.neurons.MyNeuron as MyNeuron stateful`",
    ),
    "AS": ("expected an alias after `as`", "the alias names the module in chains: `as MyNeuron`"),
    "DEFAULTS": ("expected an op name after `defaults`", "e.g. `defaults LIF(tau=2.0)`"),
    "INPUT": ("expected the input's name after `input`", "e.g. `input x: [1, 28, 28]`"),
    "DOT": ("expected a name after `.`", "dotted names look like `nn.PixelShuffle`"),
    "COLON": ("expected a parameter type after `:`", "the types are int, float, bool and str"),
}

# When a stage or a value fits (a name or `(`), by the token before.
_STAGE_AFTER = {
    "_ARROW": (
        "expected a layer call or a `(` group after `->`",
        "e.g. `-> conv1: Conv2d(1, 8, 3)`; a chain does not end with `->`",
    ),
    "COLON": (
        "expected a layer call or a `(` group after the label",
        "e.g. `conv1: Conv2d(1, 8, 3)`",
    ),
    "LPAR": (
        "expected a layer call or `(` in the group",
        "a group holds stages joined by `->`: `(Conv2d(8, 8, 1) -> BatchNorm2d(8))`",
    ),
}


class _Diagnose:
    """Works out what the parser expected at an :class:`UnexpectedToken`."""

    def __init__(self, exc: UnexpectedToken, text: str, filename: str, state: LexState):
        self.text = text
        self.filename = filename
        found = exc.token
        self.found: Token = arrow_at_arrow(found) if found.type == "_ARROW" else found
        # The tokens the parser accepted, most recent last (the post-lexer saw the failing
        # token too, unless the lexer could not make it in the parser's state).
        accepted = list(state.recent)
        if state.current is found:
            del accepted[-1]
        self.last: Token | None = accepted[-1] if accepted else None
        self.before_last: Token | None = accepted[-2] if len(accepted) > 1 else None
        self.opener: Token | None = state.open[-1] if state.open else None
        self.state = state
        accepts = exc.accepts if exc.accepts is not None else exc.expected
        self.acc: set[str] = set(accepts or ())

    # ----------------------------------------------------------------- locations

    def at_found(self) -> SourceSpan:
        tok = self.found
        if tok.type == "$END":
            if self.last is None:
                return SourceSpan.point(self.filename, 1, 1)
            end = pos(self.last)
            return SourceSpan.point(self.filename, end.end_line, end.end_column)
        at = pos(tok)
        if tok.type == "_SEP" or at.end_line != at.line:
            return SourceSpan.point(self.filename, at.line, at.column)
        return SourceSpan(self.filename, at.line, at.column, at.line, at.end_column)

    def at(self, tok: Token) -> SourceSpan:
        at = pos(tok)
        return SourceSpan(self.filename, at.line, at.column, at.line, at.column + len(tok))

    def starts_line(self, tok: Token) -> bool:
        at = pos(tok).start
        start = self.text.rfind("\n", 0, at) + 1
        return self.text[start:at].strip(" \t\f") == ""

    # ----------------------------------------------------------------- messages

    def error(self) -> SnnSyntaxError:
        found, last = self.found, self.last
        if (
            found.type in ("EQUAL", "COLON")
            and last is not None
            and last.type in _KEYWORDS_AS_NAMES
        ):
            return SnnSyntaxError(
                f"`{last}` is a keyword and cannot be used as a name",
                self.at(last),
                f"choose another name, e.g. `{last}_`",
            )
        if last is not None and last.type == "NAME" and last in _KEYWORD_TEXTS:
            # Lark's lexer read a keyword as a name where only a name fits: say so.
            after_arrow = self.before_last is not None and self.before_last.type == "_ARROW"
            return SnnSyntaxError(
                "expected a layer call or a `(` group after `->`"
                if after_arrow
                else f"`{last}` is a keyword and cannot be used as a name",
                self.at(last),
                f"a chain does not end with `->`; `{last}` is a keyword"
                if after_arrow
                else f"choose another name, e.g. `{last}_`",
            )
        continued = self.continued_chain()
        if continued is not None:
            return continued
        if (
            found.type == "LPAR"
            and self.starts_statement()
            and last is not None
            and last.type == "NAME"
            and self.before_last is not None
            and self.before_last.type in ("_SEP", "LBRACE")
        ):  # `Op(...)` as a statement of its own
            return SnnSyntaxError(
                f"expected `=` after `{last}`",
                self.at_found(),
                f"a layer is a stage of a chain: `y = x -> {last}(...)`",
            )
        message, hint = self.brackets() or self.situation() or self.generic()
        return SnnSyntaxError(message, self.at_found(), hint)

    def continued_chain(self) -> SnnSyntaxError | None:
        """A stage written at the start of the line after a chain, without `->`::

            y = x -> Linear(4, 4)
                LIF()                 (or `sn: LIF()`, `nn.ReLU()`, `(A() -> B())`)

        The line break ended the chain's statement, so the parser read a new one: the
        name of a value to assign (it wanted `=`), or a `(` where no statement starts."""
        found, last, sep = self.found, self.last, self.state.sep
        if sep is None or ";" in sep:  # `;` ends a statement on purpose
            return None
        if found.type == "LPAR" and last is sep and "NAME" in self.acc:
            stage = self.stage_text(found)
        elif (
            found.type in ("LPAR", "COLON", "DOT")
            and self.starts_statement()
            and last is not None
            and last.type == "NAME"
            and self.before_last is sep
            and (found.type == "LPAR" or _NAMED_STAGE.match(self.text, pos(last).start) is not None)
        ):
            stage = self.stage_text(last)
        else:
            return None
        first = found if last is sep else last
        if not (self.starts_line(first) and self.previous_statement_is_chain()):
            return None
        return SnnSyntaxError(
            f"expected `->` before {'`(`' if first is found else f'`{first}`'}: "
            "a new line does not continue a chain",
            self.at(first),
            f"a chain continues with `->`: write `-> {stage}` (at the end of the line above "
            "or at the start of this one)",
        )

    def starts_statement(self) -> bool:
        """Whether the parser wanted what follows the name a statement starts with: `=`
        (or `,` for one of several names)."""
        return "EQUAL" in self.acc and self.acc <= {"EQUAL", "COMMA"}

    def stage_text(self, first: Token) -> str:
        """The stage that starts at ``first``, as written if short, else up to its first
        `(` and then `(...)`."""
        start = pos(first).start
        end = self.text.find("\n", start, start + 200)
        rest = self.text[start : end if end >= 0 else start + 200].rstrip(" \t\f\r")
        if len(rest) > 60 or "#" in rest or ";" in rest or '"' in rest or not rest.isprintable():
            return rest[: rest.index("(")].rstrip() + "(...)" if "(" in rest[:60] else "..."
        return rest

    def previous_statement_is_chain(self) -> bool:
        """Whether the statement before the latest separator is ``name = ...`` or
        ``return ...`` (it starts after the separator before that one)."""
        before = self.state.sep_before
        start = pos(before).end if before is not None else 0
        m = _STATEMENT_HEAD.match(self.text, start, start + 200)
        if m is None:
            return False
        word, equal = m.group(1), m.group(2)
        return word == "return" or (equal is not None and word not in KEYWORDS)

    def brackets(self) -> tuple[str, str] | None:
        """Unclosed, unmatched and mismatched brackets."""
        found, opener = self.found, self.opener
        kind = found.type
        inside_body = opener is not None and opener.type == "LBRACE" and kind != "RBRACE"
        if kind in _CLOSERS and (opener is None or inside_body):
            return f"unmatched {words(kind)}", "there is nothing for it to close: remove it"
        if opener is None:
            return None
        closer = _CLOSER[opener.type]
        where = f"line {opener.line}, column {opener.column}"
        if kind == "RBRACE" and opener.type == "LBRACE" and "RBRACE" not in self.acc:
            if "INPUT" in self.acc:
                return (
                    "unexpected `}`: a body needs statements",
                    "declare an input and return a value: `input x` ... `return x -> Op()`",
                )
            return None
        missing = kind == "$END" or (
            opener.type != "LBRACE"
            and pos(found).line > pos(opener).line
            and self.starts_line(found)
            and (kind in _STATEMENT_STARTS or self.is_assignment(found))
        )
        if missing:
            self.found = opener  # point at the bracket that is never closed
            before = "the end of the file" if kind == "$END" else f"line {pos(found).line}"
            return (
                f"missing {words(closer)}: this {words(opener.type)} is never closed",
                f"close it with {words(closer)} before {before}",
            )
        if kind == "LBRACE" and opener.type == "LPAR" and "RPAR" in self.acc:
            return "missing `)` before `{`", f"close the `(` at {where} with `)`"
        if kind in _CLOSERS and kind != closer:
            return (
                f"{words(kind)} does not close the {words(opener.type)} at {where}",
                f"close {words(opener.type)} with {words(closer)} first",
            )
        return None

    def is_assignment(self, tok: Token) -> bool:
        if tok.type != "NAME":
            return False
        end = pos(tok).end
        rest = self.text[end : end + 80].lstrip(" \t\f")
        return rest.startswith("=") and not rest.startswith("==")

    def situation(self) -> tuple[str, str] | None:
        acc, found, last = self.acc, self.found.type, self.last
        prev = last.type if last is not None else ""
        after = f" after `{last}`" if last is not None and len(last) <= 30 else ""
        if {"MODEL", "BLOCK"} <= acc:
            inside = found in ("NAME", "INPUT", "RETURN")
            return "expected `model`, `block`, `neuron`, `let`, `defaults` or `use`", _TOP_HINTS[inside]
        if {"INPUT", "RETURN"} <= acc:
            closing = " or `}`" if "RBRACE" in acc else ""
            return f"expected a statement{closing}", _NEURON_STATEMENT_HINT if "STATE" in acc else _STATEMENT_HINT
        if "STATEFUL" in acc:
            return _USE_KIND
        exact = _BY_ACCEPTS.get(frozenset(acc))
        if exact is not None:
            return exact[0].replace("{after}", after), exact[1]
        if acc == {"NAME"}:
            return _NAME_AFTER.get(prev, ("expected a name", "names are letters, digits and `_`"))
        if acc == {"LBRACE"}:
            where = "on the same line as the header" if found == "_SEP" else "after `)`"
            return "expected `{` after the parameter list", f"put `{{` {where}"
        if {"DOT", "LPAR"} <= acc <= {"DOT", "LPAR", "COLON"}:
            return "expected `(` after the op name", _CALL_HINTS[found == "COLON"]
        if acc == {"LPAR", "NAME"}:
            default = (f"expected a value{after}", _VALUE_HINT)
            return _STAGE_AFTER.get(prev, default)
        if {"INT", "STRING"} <= acc:
            return self.expected_expression(prev, after)
        if "_SEP" in acc:
            return self.expected_end(prev)
        if {"COMMA", "RPAR", "_ARROW"} <= acc:
            return "expected `->`, `,` or `)` after the operand", "separate operands with `,`"
        if {"COMMA", "RPAR"} <= acc:
            if found == "COLON" and "EQUAL" in acc:
                return "expected `=`, `,` or `)` after the argument name", _KWARG_HINT
            return "expected `,` or `)` after the argument", "separate arguments with `,`"
        return None

    def expected_expression(self, prev: str | None, after: str) -> tuple[str, str]:
        if "RPAR" in self.acc and prev in ("LPAR", "COMMA"):
            return (
                f"expected an argument or `)`{after}",
                "arguments are expressions or `name=value`",
            )
        if "RSQB" in self.acc:
            return f"expected an item or `]`{after}", "e.g. `[1, 28, 28]`"
        if prev == "STAR" and self.last is not None and self.is_repeat_star(self.last):
            return "expected a repeat count after `*`", "e.g. `layer1: Basic(64) * 2`"
        return f"expected an expression{after}", 'e.g. `64`, `c * 2`, `(3, 3)`, `true`, `"mean"`'

    def is_repeat_star(self, star: Token) -> bool:
        start = pos(star).start
        before = self.text[max(0, start - 200) : start].rstrip(" \t\f")
        return before.endswith(")")

    def expected_end(self, prev: str | None) -> tuple[str, str]:
        acc, found = self.acc, self.found.type
        join_hint = (
            "join stages with `->`" if found in ("NAME", "LPAR") else "end the statement here"
        )
        if "_ARROW" in acc and "STAR" in acc and "INT" not in acc and "SLASH" not in acc:
            return "expected `->`, a newline or `;` after the stage", join_hint
        if "_ARROW" in acc and "LPAR" in acc:
            after = f" after `{self.last}`" if self.last is not None else ""
            return f"expected `->`, a newline or `;`{after}", join_hint
        if "_ARROW" in acc and "SLASH" not in acc:
            return "expected `->`, a newline or `;` after the value", join_hint
        if "COLON" in acc:
            hint = (
                "a static input needs a shape: `input x: [1, 28, 28] static`"
                if found == "STATIC"
                else "e.g. `input x: [1, 28, 28]`"
            )
            return "expected `:` and a shape, a newline or `;` after the input name", hint
        if "STATIC" in acc:
            return (
                "expected `static`, a newline or `;` after the shape",
                "e.g. `input x: [1, 28, 28] static`",
            )
        if "SLASH" in acc:
            return (
                "expected an operator, a newline or `;` after the expression",
                "put one statement on each line, or separate them with `;`",
            )
        if prev == "RBRACE":
            return "expected a newline or `;` after `}`", "put each definition on its own line"
        return (
            "expected a newline or `;`",
            "put one statement on each line, or separate them with `;`",
        )

    def generic(self) -> tuple[str, str]:
        acc = sorted(self.acc, key=lambda t: (_ORDER.index(t) if t in _ORDER else len(_ORDER), t))
        names: list[str] = []
        for t in acc:
            w = words(t)
            if w not in names:
                names.append(w)
        expected = f"; expected {join(names)}" if names else ""
        return (
            f"unexpected {_describe(self.found)}{expected}",
            "check the syntax in docs/language.md",
        )
