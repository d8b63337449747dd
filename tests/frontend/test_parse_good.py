"""Good snippets: the shape of the AST they give, and the spans of its nodes."""

from __future__ import annotations

import pytest

from snndsl.diagnostics import SourceSpan
from snndsl.frontend import ast
from snndsl.frontend.parse import parse

from .show import show
from .test_grammar import KITCHEN_SINK, SEW


def body(text: str) -> list[str]:
    """The statements of ``model M() { text }``, shown."""
    (model,) = parse("model M() {\n" + text + "\n}").items
    return [show(s) for s in model.body]


def expr(text: str) -> str:
    (let,) = parse(f"let a = {text}").items
    return show(let.value)


EXPRESSIONS = [
    ("1", "1"),
    ("2.0", "2.0"),
    ("1e-3", "0.001"),
    ("2.5E+2", "250.0"),
    (".5", "0.5"),
    ("true", "True"),
    ("false", "False"),
    ("none", "None"),
    ("_", "_"),
    ("WIDTH", "WIDTH"),
    ('"mean"', "'mean'"),
    ('"a\\"b\\\\c\\n\\t\\u00e9"', "'a\"b\\\\c\\n\\té'"),
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("(1 + 2) * 3", "((1 + 2) * 3)"),
    ("1 - 2 - 3", "((1 - 2) - 3)"),
    ("8 // 3 % 2 / 1", "(((8 // 3) % 2) / 1)"),
    ("2 ** 3 ** 2", "(2 ** (3 ** 2))"),
    ("-2 ** 2", "(-(2 ** 2))"),
    ("2 ** -1", "(2 ** (-1))"),
    ("- -c", "(-(-c))"),
    ("+c * -d", "((+c) * (-d))"),
    ("(3, 3)", "(3, 3)"),
    ("(3,)", "(3,)"),
    ("()", "()"),
    ("(3, 3,)", "(3, 3)"),
    ("[3, 3]", "[3, 3]"),
    ("[]", "[]"),
    ("[1, [2, (3,)]]", "[1, [2, (3,)]]"),
    ("((7))", "7"),
    ("ATan()", "ATan()"),
    ("ATan(alpha=2.0)", "ATan(alpha=2.0)"),
    ("Sigmoid(4.0, spiking=false,)", "Sigmoid(4.0, spiking=False)"),
    ("(\n 1,\n 2\n)", "(1, 2)"),
    ("[1,\n\n 2]  # comment", "[1, 2]"),
]


@pytest.mark.parametrize("text, shape", EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expressions(text: str, shape: str) -> None:
    assert expr(text) == shape


STATEMENTS = [
    ("input x", ["input x"]),
    ("input x: [1, 28, 28]", ["input x: [1, 28, 28]"]),
    ("input x: [1, 28, 28] static", ["input x: [1, 28, 28] static"]),
    ("input x: [c, h * 2]", ["input x: [c, (h * 2)]"]),
    ("let c2 = c * 2", ["let c2 = (c * 2)"]),
    ("defaults IF(v_threshold=0.5)", ["defaults IF(v_threshold=0.5)"]),
    ("defaults IF()", ["defaults IF()"]),
    ("h = x", ["h = x"]),
    ("h = x -> ReLU()", ["h = {x -> ReLU()}"]),
    ("h = x -> a: ReLU() -> b: Sigmoid()", ["h = {x -> a: ReLU() -> b: Sigmoid()}"]),
    ("h = x -> nn.PixelShuffle(2)", ["h = {x -> nn.PixelShuffle(2)}"]),
    ("h = x -> p: nn.a.B()", ["h = {x -> p: nn.a.B()}"]),
    ("h = x -> fc: Linear(10, 10) * 3", ["h = {x -> fc: Linear(10, 10) * 3}"]),
    ("h = x -> layer1: Basic(c) * (n + 1)", ["h = {x -> layer1: Basic(c) * (n + 1)}"]),
    (
        "h = x -> downsample: (Conv2d(64, 128, 1, stride=2) -> BatchNorm2d(128))",
        ["h = {x -> downsample: (Conv2d(64, 128, 1, stride=2) -> BatchNorm2d(128))}"],
    ),
    ("h = x -> (A() -> (B() -> C())) * 2", ["h = {x -> (A() -> (B() -> C())) * 2}"]),
    ("h = x -> g: (a: A())", ["h = {x -> g: (a: A())}"]),  # the build pass reports the label
    ("y = add(a, b)", ["y = add(a, b)"]),
    ("y = add(a, b, c)", ["y = add(a, b, c)"]),
    (
        "y = cat(a, b -> conv: Conv2d(8, 8, 1), dim=0); return y",
        ["y = cat(a, {b -> conv: Conv2d(8, 8, 1)}, dim=0)", "return y"],
    ),
    ("y = (x -> A()) -> B()", ["y = {{x -> A()} -> B()}"]),
    ("y = ((x))", ["y = x"]),
    ("y = add(x, y) -> ReLU()", ["y = {add(x, y) -> ReLU()}"]),
    ("return a, b", ["return a, b"]),
    (
        "return h -> Flatten() -> fc: Linear(_, 10)",
        ["return {h -> Flatten() -> fc: Linear(_, 10)}"],
    ),
    ("h = x\n    -> a: ReLU()", ["h = {x -> a: ReLU()}"]),
    ("h = x ->\n    a: ReLU()", ["h = {x -> a: ReLU()}"]),
    ("h = x  # c\n\n  # more\n  -> a: ReLU() # end", ["h = {x -> a: ReLU()}"]),
    ("h = x ->  # c\n\n  a: ReLU()", ["h = {x -> a: ReLU()}"]),
    (
        "h = x -> conv: Conv2d(\n    1,\n    8,   # out\n    3,\n    padding=1,\n)",
        ["h = {x -> conv: Conv2d(1, 8, 3, padding=1)}"],
    ),
    ("input x;;; return x;", ["input x", "return x"]),
    ("\n\n  input x  \n\n\n  return x\n\n", ["input x", "return x"]),
]


@pytest.mark.parametrize("text, shapes", STATEMENTS, ids=[t for t, _ in STATEMENTS])
def test_statements(text: str, shapes: list[str]) -> None:
    assert body(text) == shapes


FILES = [
    ("", []),
    ("\n\n# only a comment", []),
    ("let WIDTH = 128", ["let WIDTH = 128"]),
    ("let a = 1\nlet b = 2\n", ["let a = 1", "let b = 2"]),
    ("let a = 1;let b = 2;", ["let a = 1", "let b = 2"]),
    (
        "use mypkg.neurons.MyNeuron as MyNeuron stateful",
        ["use mypkg.neurons.MyNeuron as MyNeuron stateful"],
    ),
    ("use m.Mixer as Mixer stateless", ["use m.Mixer as Mixer stateless"]),
    (
        "defaults IF(surrogate=ATan(), detach_reset=true)",
        ["defaults IF(surrogate=ATan(), detach_reset=True)"],
    ),
    ('defaults nn.GELU(approximate="tanh")', ["defaults nn.GELU(approximate='tanh')"]),
    (
        'block B(c: int, p: float = 0.5, s: str = "x", f: bool = true) { input x; return x }',
        ["block B(c: int, p: float = 0.5, s: str = 'x', f: bool = True) {input x; return x}"],
    ),
    ("model M() {\ninput x\nreturn x\n}", ["model M() {input x; return x}"]),
    (
        "model M(\n  a: int = 1,\n  b: int = 2,\n) {\n return x }",
        ["model M(a: int = 1, b: int = 2) {return x}"],
    ),
    ("let a = 1\r\nmodel M() {\r\n  return a\r\n}\r\n", ["let a = 1", "model M() {return a}"]),
    ("let\ta =\t1\t# tabs", ["let a = 1"]),
    ("\ufefflet a = 1", ["let a = 1"]),
]


@pytest.mark.parametrize("text, shapes", FILES, ids=[repr(t)[:40] for t, _ in FILES])
def test_files(text: str, shapes: list[str]) -> None:
    parsed = parse(text, "f.snn")
    assert [show(i) for i in parsed.items] == shapes
    assert parsed.filename == "f.snn" and parsed.source == text


def test_example_program_shape() -> None:
    items = parse(SEW, "sew.snn").items
    assert [type(i).__name__ for i in items] == ["DefaultsStmt", "BlockDef", "ModelDef"]
    assert show(items[1].body[1]) == (
        "h = {x -> conv1: Conv2d(c, c, 3, padding=1, bias=False) -> bn1: BatchNorm2d(c)"
        " -> sn1: IF() -> conv2: Conv2d(c, c, 3, padding=1, bias=False)"
        " -> bn2: BatchNorm2d(c) -> sn2: IF()}"
    )
    assert show(items[2].body[2]) == "h = {h -> layer1: Basic(c) * 2}"


def test_kitchen_sink_parses() -> None:
    items = parse(KITCHEN_SINK, "k.snn").items
    assert len(items) == 7
    model = items[-1]
    assert isinstance(model, ast.ModelDef)
    assert show(model.body[1]) == "let c2 = ((((-(c ** 2)) // 3) + (c % 2)) - (4 / 2))"


# ------------------------------------------------------------------------- spans


def span(line: int, column: int, end_line: int, end_column: int) -> SourceSpan:
    return SourceSpan("s.snn", line, column, end_line, end_column)


def test_spans_of_a_chain() -> None:
    text = "model Net(c: int = 64) {\n    input x: [1, 28, 28] static\n    h = x -> conv1: Conv2d(1, c, 3)\n        -> sn1: LIF() * 2\n    return h\n}"
    (model,) = parse(text, "s.snn").items
    assert model.span == span(1, 1, 6, 2)
    assert model.name_span == span(1, 7, 1, 10)
    assert model.params[0].span == span(1, 11, 1, 22)
    inp, assign, ret = model.body
    assert inp.span == span(2, 5, 2, 32) and inp.name_span == span(2, 11, 2, 12)
    assert inp.shape[1].span == span(2, 18, 2, 20)
    assert assign.span == span(3, 5, 4, 26) and assign.target_span == span(3, 5, 3, 6)
    chain = assign.value
    assert chain.span == span(3, 9, 4, 26)
    assert chain.head.span == span(3, 9, 3, 10)
    conv, sn = chain.stages
    assert conv.span == span(3, 14, 3, 36)
    assert conv.label_span == span(3, 14, 3, 19) and conv.op_span == span(3, 21, 3, 27)
    assert [a.span for a in conv.args] == [
        span(3, 28, 3, 29),
        span(3, 31, 3, 32),
        span(3, 34, 3, 35),
    ]
    assert sn.span == span(4, 12, 4, 26) and sn.repeat.span == span(4, 25, 4, 26)
    assert ret.span == span(5, 5, 5, 13)


def test_spans_of_expressions() -> None:
    (let,) = parse("let a = (1 + 2) * -x", "s.snn").items
    assert let.span == span(1, 1, 1, 21) and let.name_span == span(1, 5, 1, 6)
    product = let.value
    assert product.span == span(1, 9, 1, 21)
    assert product.left.span == span(1, 10, 1, 15)  # a node's span is inside its parentheses
    assert product.right.span == span(1, 19, 1, 21)


def test_spans_of_dotted_names_groups_and_merges() -> None:
    text = (
        "model M() {\n  y = add(a, b -> nn.PixelShuffle(2)) -> g: (A() -> B()) * 2\n  return y\n}"
    )
    (model,) = parse(text, "s.snn").items
    chain = model.body[0].value
    merge = chain.head
    assert merge.span == span(2, 7, 2, 38) and merge.op_span == span(2, 7, 2, 10)
    shuffle = merge.args[1].stages[0]
    assert shuffle.op == "nn.PixelShuffle" and shuffle.op_span == span(2, 19, 2, 34)
    group = chain.stages[0]
    assert isinstance(group, ast.GroupStage)
    assert group.span == span(2, 42, 2, 61) and group.label_span == span(2, 42, 2, 43)
    assert [s.span for s in group.stages] == [span(2, 46, 2, 49), span(2, 53, 2, 56)]


def test_spans_with_tabs_and_crlf() -> None:
    (let,) = parse("\r\n\tlet a =\t7\r\n", "s.snn").items
    assert let.span == span(2, 2, 2, 11)  # a tab is one column, as in the caret rendering
    assert let.value.span == span(2, 10, 2, 11)
