"""Bad snippets: each error's class, message (in words), line and column; rendering;
limits on nesting, literal sizes and file length."""

from __future__ import annotations

import time

import pytest

from snndsl.diagnostics import SnnError, SnnLimitError, SnnSyntaxError
from snndsl.frontend.parse import parse


def M(body: str) -> str:
    """``body`` inside a model whose body starts on line 3 (after ``input x``)."""
    return "model M() {\n    input x\n" + body + "\n}\n"


S, L = SnnSyntaxError, SnnLimitError

# (source, error class, part of the message, line, column)
BAD = [
    # ---- file level
    ("h = x -> ReLU()", S, "expected `model`, `block`, `neuron`, `let`, `defaults` or `use`", 1, 1),
    ("input x: [1, 28, 28]", S, "expected `model`, `block`", 1, 1),
    ("model", S, "expected the model's name after `model`", 1, 6),
    ("block\n", S, "expected the block's name after `block`", 1, 6),
    ("model M", S, "expected `(` after `M`", 1, 8),
    ("model M(", S, "missing `)`: this `(` is never closed", 1, 8),
    ("model M(c)", S, "expected `:` and a type after the parameter name", 1, 10),
    (
        "model M(c: integer) {\n return x\n}",
        S,
        "unknown parameter type `integer` (did you mean `int`?)",
        1,
        12,
    ),
    ("model M(c: int 3) {", S, "expected `=`, `,` or `)` after the parameter type", 1, 16),
    ("model M(c: int {\n", S, "missing `)` before `{`", 1, 16),
    ("model M(a: int, a b) {", S, "expected `:` and a type", 1, 19),
    ("model M()\n{\n return x\n}", S, "expected `{` after the parameter list", 1, 10),
    ("model M() {}", S, "unexpected `}`: a body needs statements", 1, 12),
    ("model M() {\n}", S, "unexpected `}`: a body needs statements", 2, 1),
    ("model M() {\n    input x\n    return x\n", S, "missing `}`: this `{` is never closed", 1, 11),
    (
        "model M() {\n return x\n} model N() {\n return x\n}",
        S,
        "expected a newline or `;` after `}`",
        3,
        3,
    ),
    ("model M() {\n return x\n}\nfoo = 1", S, "expected `model`, `block`", 4, 1),
    ("model M() {\n return x\n}\n}", S, "unmatched `}`", 4, 1),
    ("}", S, "unmatched `}`", 1, 1),
    # ---- use, defaults, let
    ("use", S, "expected a module path after `use`", 1, 4),
    ("use a.b", S, "expected `as` and an alias after the module path", 1, 8),
    ("use a.b as", S, "expected an alias after `as`", 1, 11),
    ("use a.b as C", S, "expected `stateful` or `stateless` after the alias", 1, 13),
    ("use a.b as C stateful stateful", S, "expected a newline or `;`", 1, 23),
    ("defaults", S, "expected an op name after `defaults`", 1, 9),
    ("defaults LIF tau=2.0", S, "expected `(` after the op name", 1, 14),
    ("let = 3", S, "expected a name after `let`", 1, 5),
    ("let a 3", S, "expected `=` after `a`", 1, 7),
    ("let model = 3", S, "`model` is a keyword and cannot be used as a constant name", 1, 5),
    ("let _ = 3", S, "`_` cannot name a constant", 1, 5),
    # ---- statements
    (M("    3"), S, "expected a statement or `}`", 3, 5),
    (
        M("    input y return y"),
        S,
        "expected `:` and a shape, a newline or `;` after the input name",
        3,
        13,
    ),
    (M("    input y:\n    return y"), S, "expected a shape after `:`", 3, 13),
    (M("    input y: [1] foo"), S, "expected `static`, a newline or `;` after the shape", 3, 18),
    (M("    input y static"), S, "expected `:` and a shape", 3, 13),
    (M("    input = 3"), S, "`input` is a keyword and cannot be used as a name", 3, 5),
    (M("    h =\n    return h"), S, "expected a value after `=`", 3, 8),
    (M("    let a =\n    return h"), S, "expected an expression after `=`", 3, 12),
    (M("    return"), S, "expected a value after `return`", 3, 11),
    (M("    return x,"), S, "expected a value after `,`", 3, 14),
    (M("    h = x; -> A()"), S, "expected a statement or `}`", 3, 12),
    # ---- chains and stages
    (M("    h = x ReLU()"), S, "expected `->`, a newline or `;` after `x`", 3, 11),
    (
        M("    h = x -> ReLU() Sigmoid()"),
        S,
        "expected `->`, a newline or `;` after the stage",
        3,
        21,
    ),
    (M("    h = x -> ReLU\n    return h"), S, "expected `(` after the op name", 3, 18),
    (M("    h = x -> ReLU -> Sigmoid()"), S, "expected `(` after the op name", 3, 19),
    (M("    h = x -> a: b: Op()"), S, "expected `(` after the op name", 3, 18),
    (
        M("    h = x -> a:\n    return h"),
        S,
        "expected a layer call or a `(` group after the label",
        3,
        16,
    ),
    (M("    h = x ->\n    return h"), S, "expected a layer call or a `(` group after `->`", 4, 5),
    (
        M("    h = x -> Conv2d(1, 2) -> "),
        S,
        "expected a layer call or a `(` group after `->`",
        4,
        1,
    ),
    (M("    h = x -> 3"), S, "expected a layer call or a `(` group after `->`", 3, 14),
    (M("    h = x -> ()"), S, "expected a layer call or `(` in the group", 3, 15),
    (M("    h = x -> (a: A() -> )"), S, "expected a layer call or a `(` group after `->`", 3, 25),
    (M("    h = x -> Conv2d(1, 2) *"), S, "expected a repeat count after `*`", 3, 28),
    (M("    h = x -> Conv2d(1, 2) * 2 x"), S, "expected an operator, a newline or `;`", 3, 31),
    (M("    h = add(x,, y)"), S, "expected a value or `)` after `,`", 3, 15),
    # ---- arguments and brackets
    (M("    h = x -> Conv2d(1 2)"), S, "expected `,` or `)` after the argument", 3, 23),
    (M("    h = x -> Conv2d(1,\n        2 3)"), S, "expected `,` or `)` after the argument", 4, 11),
    (M("    h = x -> Conv2d(1, 2,, 3)"), S, "expected an argument or `)` after `,`", 3, 26),
    (
        M("    h = x -> Conv2d(padding: 1)"),
        S,
        "expected `=`, `,` or `)` after the argument name",
        3,
        28,
    ),
    (
        M("    h = x -> Conv2d(padding=1, 8)"),
        S,
        "positional argument after a keyword argument",
        3,
        32,
    ),
    (M("    h = cat(x, y, dim=0, z)"), S, "positional argument after a keyword argument", 3, 26),
    (
        M("    h = x -> Conv2d(1, 2\n    return h"),
        S,
        "missing `)`: this `(` is never closed",
        3,
        20,
    ),
    (M("    h = add(x, y\n    return h"), S, "missing `)`: this `(` is never closed", 3, 12),
    (M("    h = x -> ReLU())"), S, "unmatched `)`", 3, 20),
    (M("    h = x -> )"), S, "unmatched `)`", 3, 14),
    ("let a = (1, 2", S, "missing `)`: this `(` is never closed", 1, 9),
    ("let a = [1, 2\nlet b = 3", S, "missing `]`: this `[` is never closed", 1, 9),
    ("let a = f(1]", S, "`]` does not close the `(` at line 1, column 10", 1, 12),
    # ---- expressions and literals
    ("let a = 2 **", S, "expected an expression after `**`", 1, 13),
    ("let a = 1 +\nlet b = 2", S, "expected an expression after `+`", 1, 12),
    ("let a = 1 2", S, "expected an operator, a newline or `;` after the expression", 1, 11),
    ("let a = 3x", S, "expected an operator, a newline or `;`", 1, 10),
    ('let s = "abc\nlet t = 1', S, "unterminated string", 1, 9),
    ("let s = 'abc'", S, "unexpected `'`", 1, 9),
    ('let a = "bad \\q escape"', S, "unknown escape `\\q` in a string", 1, 14),
    # ---- characters
    ("let a = 1 @ 2", S, "unexpected character `@`", 1, 11),
    ("let a = 1 \x00 2", S, "unexpected character U+0000", 1, 11),
    ("let a = 1 \ud800 2", S, "unexpected character U+D800", 1, 11),
    ("let a = 1 \u2192 2", S, "unexpected character `\u2192` (U+2192)", 1, 11),
    ("let a = 1\rlet b = 2", S, "carriage return without a line feed", 1, 10),
    # ---- limits
    ("let a = " + "9" * 5000, L, "integer literal too long (5000 digits)", 1, 9),
    ("let a = 1e400", L, "float literal too large", 1, 9),
    (
        "let a = " + "(" * 300 + "1" + ")" * 300,
        L,
        "brackets nested too deeply (more than 200 levels)",
        1,
        209,
    ),
    ("let a = " + "-" * 300 + "1", L, "nested too deeply (more than 200 levels", 1, 108),
    ("let a = " + "2**" * 300 + "1", L, "nested too deeply", 1, 306),
]


@pytest.mark.parametrize(
    "text, cls, message, line, column",
    BAD,
    ids=[f"{i:02d}-{t[:30]!r}" for i, (t, *_) in enumerate(BAD)],
)
def test_bad_snippet(text: str, cls: type, message: str, line: int, column: int) -> None:
    with pytest.raises(SnnError) as info:
        parse(text, "bad.snn")
    err = info.value
    assert type(err) is cls, err.render()
    assert message in err.message, err.render()
    assert (err.span.filename, err.span.line, err.span.column) == ("bad.snn", line, column), (
        err.render()
    )
    assert err.hint, "every syntax error has a hint"
    assert err.source == text


def test_at_least_forty_bad_snippets() -> None:
    assert len(BAD) >= 40


def test_rendering_shows_file_line_caret_and_hint() -> None:
    text = "model M() {\n    input x\n    h = x -> Conv2d(1 2)\n    return h\n}\n"
    with pytest.raises(SnnSyntaxError) as info:
        parse(text, "examples/bad.snn")
    assert str(info.value) == (
        "examples/bad.snn:3:23: error: expected `,` or `)` after the argument\n"
        "        h = x -> Conv2d(1 2)\n"
        "                          ^\n"
        "hint: separate arguments with `,`"
    )


def test_rendering_underlines_the_whole_token() -> None:
    with pytest.raises(SnnSyntaxError) as info:
        parse("model M(c: integer) {\n return x\n}", "m.snn")
    lines = str(info.value).splitlines()
    assert lines[0] == "m.snn:1:12: error: unknown parameter type `integer` (did you mean `int`?)"
    assert lines[2] == "               ^~~~~~~"


def test_deep_nesting_ends_quickly_in_a_limit_error() -> None:
    deep = [
        "let a = " + "(" * 5000 + "1" + ")" * 5000,
        "model M() {\n h = x -> " + "g: (" * 5000 + "A()" + ")" * 5000 + "\n}",
        "model M() {\n h = " + "(" * 5000 + "x" + ")" * 5000 + "\n}",
        "let a = " + "[" * 5000 + "]" * 5000,
        "let a = " + "-" * 5000 + "1",
        "let a = " + "2 ** " * 5000 + "1",
    ]
    for text in deep:
        start = time.perf_counter()
        with pytest.raises(SnnLimitError):
            parse(text)
        assert time.perf_counter() - start < 5


def test_nesting_up_to_the_limit_is_fine() -> None:
    parse("let a = " + "(" * 150 + "1" + ")" * 150)
    parse("model M() {\n h = x -> " + "(" * 60 + "A()" + ")" * 60 + "\n return h\n}")


def test_a_long_file_parses_in_seconds() -> None:
    """A hang guard, not a benchmark (bench/compile.py measures): 20,000 lines take about
    2 s of CPU; anything quadratic would take minutes."""
    lines = ["model Big(c: int = 8) {", "    input x: [1, 28, 28]", "    h = x"]
    lines += ["    h = h -> ReLU()", "    let k = c * 2"] * 10_000
    lines += ["    return h", "}"]
    start = time.process_time()  # CPU time: other jobs on the machine do not count
    (model,) = parse("\n".join(lines), "big.snn").items
    elapsed = time.process_time() - start
    assert len(model.body) == 20_003
    assert model.body[-1].span.line == 20_004
    assert elapsed < 30, f"20,000 lines took {elapsed:.1f} s"


# Two mistakes in one file: which one is reported. (source, part of the message, line, column)
FIRST_OF_TWO = [
    # as a rule, the first one the parser meets
    ('let a = "\\q"\nlet b = (1', "unknown escape", 1, 10),
    ("let a = f(x=1, 2)\nlet b = (1", "positional argument after a keyword argument", 1, 16),
    ("let a = " + "-" * 300 + "1\nlet model = 1", "nested too deeply", 1, 108),
    # after a keyword read as a name: a syntax error anywhere first, then nesting counted
    # from the top, then the first mistake in the AST
    ("let model = 3\nlet b = (1", "missing `)`: this `(` is never closed", 2, 9),
    ("model M(c: model) {\n return x\n}\nlet b = (", "missing `)`", 4, 9),
    ("let model = 1\nlet a = " + "-" * 300 + "1", "nested too deeply", 2, 209),
    ("let model = f(x=1, 2)\nlet b = 1", "positional argument after a keyword argument", 1, 20),
]


@pytest.mark.parametrize(
    "text, message, line, column",
    FIRST_OF_TWO,
    ids=[f"{i:02d}-{t[:24]!r}" for i, (t, *_) in enumerate(FIRST_OF_TWO)],
)
def test_which_of_two_mistakes_is_reported(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(SnnError) as info:
        parse(text, "two.snn")
    err = info.value
    assert message in err.message, err.render()
    assert (err.span.line, err.span.column) == (line, column), err.render()


def test_an_error_in_the_ast_builder_is_not_wrapped() -> None:
    """Lark calls ToAst during the parse; its errors arrive as they were raised."""
    with pytest.raises(SnnSyntaxError) as info:
        parse("let a = f(x=1, 2)")
    assert type(info.value) is SnnSyntaxError
    assert info.value.span.column == 16
