"""The grammar itself: it loads strictly (LALR, no conflicts, no colliding terminals), it
is found from the source tree, and the AST built during the parse (Lark's transformer
mode) is the one built from Lark's tree, spans included."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lark import Lark
from lark.common import ParserConf
from lark.parsers.lalr_analysis import LALR_Analyzer

from snndsl.frontend import ast, grammar
from snndsl.frontend.parse import ToAst, ast_parser, parse

from .reference import reference_items

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.snn"))

SEW = """\
# SEW-ResNet-style network for 32x32 RGB images
defaults IF(surrogate=ATan(), detach_reset=true)

block Basic(c: int) {
    input x
    h = x -> conv1: Conv2d(c, c, 3, padding=1, bias=false) -> bn1: BatchNorm2d(c) -> sn1: IF()
          -> conv2: Conv2d(c, c, 3, padding=1, bias=false) -> bn2: BatchNorm2d(c) -> sn2: IF()
    return add(h, x)
}

model TinySEW(num_classes: int = 10, c: int = 64) {
    input img: [3, 32, 32]
    h = img -> conv1: Conv2d(3, c, 3, padding=1, bias=false) -> bn1: BatchNorm2d(c) -> sn1: IF()
    h = h -> layer1: Basic(c) * 2
    return h -> avgpool: AdaptiveAvgPool2d(1) -> Flatten() -> fc: Linear(_, num_classes)
}
"""

# Every construct of the language at least once, in one file.
KITCHEN_SINK = """\
let WIDTH = 128; let EPS = 1e-3   # two statements, one line
use mypkg.neurons.MyNeuron as MyNeuron stateful
use mypkg.blocks.Mixer as Mixer stateless
defaults LIF(tau=2.0, surrogate=ATan(alpha=2.0), v_reset=none)

block Down(cin: int, cout: int, s: float = 0.5, name: str = "down", flag: bool = true,) {
    input x
    y = x -> downsample: (Conv2d(cin, cout, 1, stride=2) -> BatchNorm2d(cout)) * 1
    return y
}

model Net(c: int = 8, n: int = 2) {
    input img: [1, 28, 28,] static
    let c2 = -c ** 2 // 3 + (c % 2) - 4 / 2
    defaults IF(v_threshold=0.5)
    h = img -> conv1: Conv2d(1, c, (3, 3), padding=[1, 1]) -> nn.PixelShuffle(1)
    h = h
        -> a: ReLU()   # continued by a leading arrow
    h = h ->
        b: Sigmoid() -> fc: Linear(10, 10) * 3
    y = cat(h, h -> conv: Conv2d(8, 8, 1), dim=0); z = add((y), (y -> Identity()))
    w = x -> g: (Conv2d(
            8, 8, 1,
        ) -> BatchNorm2d(8)) * n -> layer1: Down(c, c2) * 2 -> MyNeuron() -> Mixer("a\\"b\\n")
    return z, w -> VotingLayer(voting_size=10)
}
"""


def test_grammar_loads_strictly() -> None:
    pytest.importorskip("interegular")  # Lark's strict mode needs it to check terminals
    parser = grammar.build_parser(strict=True)
    assert isinstance(parser, Lark)
    assert parser.options.parser == "lalr"


def test_grammar_is_lalr1_without_conflicts() -> None:
    """The same check as strict mode's, without needing `interegular` for the terminals."""
    rules = grammar.get_parser().rules
    LALR_Analyzer(ParserConf(rules, {}, ["start"]), strict=True).compute_lalr()


def test_grammar_is_found_and_memoised() -> None:
    text = grammar.grammar_text()
    assert text == (ROOT / "grammars" / "snn.lark").read_text(encoding="utf-8")
    assert grammar.get_parser() is grammar.get_parser()


def test_the_parser_builds_the_ast_in_lark_transformer_mode() -> None:
    parser, builder = ast_parser()
    assert parser.options.parser == "lalr"
    assert parser.options.transformer is builder
    assert isinstance(parser.parse("let a = 1")[0], ast.LetStmt)  # no tree in between


@pytest.mark.parametrize("text", [SEW, KITCHEN_SINK], ids=["sew", "kitchen-sink"])
def test_the_ast_is_the_one_from_larks_tree(text: str) -> None:
    assert parse(text, "f.snn").items == reference_items(text, "f.snn")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_parse_the_same_both_ways(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse(text, str(path)).items == reference_items(text, str(path))


def test_brackets_widen_the_parents_span_only() -> None:
    """As in Lark's trees: `((1 + 2))` keeps its own span; its parent's takes the brackets."""
    text = "let a = ((1 + 2)) * (3)\nmodel M() {\n input x\n h = (x -> A()) -> (B()) * (2)\n return (h)\n}"
    assert parse(text, "f.snn").items == reference_items(text, "f.snn")
    let = parse(text).items[0]
    assert isinstance(let, ast.LetStmt) and isinstance(let.value, ast.BinOp)
    assert (let.value.span.column, let.value.span.end_column) == (9, 24)
    assert (let.value.left.span.column, let.value.left.span.end_column) == (11, 16)


def test_parses_on_several_threads_keep_their_own_file_names() -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(20):
                items = parse(SEW, f"t{i}.snn").items
                assert items == reference_items(SEW, f"t{i}.snn")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_the_parse_state_is_released() -> None:
    _, builder = ast_parser()
    parse(SEW)
    assert builder._depth == {} and builder._paren == {}


def test_every_rule_has_a_builder_method() -> None:
    """A rule that reaches the tree without a ToAst method would leak a Lark Tree."""
    parser = grammar.get_parser()
    names = {str(r.alias or r.origin.name) for r in parser.rules}
    tree_rules = {n for n in names if not n.startswith("_")}
    inlined = {r.origin.name for r in parser.rules if r.options.expand1 and not r.alias}
    missing = {n for n in tree_rules - set(inlined) if not hasattr(ToAst, n)}
    assert missing == set()
