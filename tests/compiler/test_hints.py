"""Diagnostics for a new user (issue #17): hints for Python habits, the block instance
an error happened in, and `use` of a module next to the `.snn` file."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import snndsl
from snndsl.diagnostics import SnnError

M = "model M() {{\n    input x: [4]\n    return x -> r: {layer} -> sn: IF()\n}}\n"


@pytest.mark.parametrize("layer, message, hint, col", [
    ("Linear(4, 2, bias=False)", "undefined constant 'False'", "write `false` (lower case)", 38),
    ("Linear(4, 2, bias=True)", "undefined constant 'True'", "write `true` (lower case)", 38),
    ("LIF(v_reset=None)", "undefined constant 'None'", "write `none` (lower case)", 32),
    ("LIF(surrogate=ATan)", "undefined constant 'ATan'", "a surrogate function is a call: write ATan()", 34),
    ("Linear(10)", "Linear is missing its argument 'out_features'", "write Linear(_, 10)", 17),
    ("BatchNorm1d()", "missing its argument 'num_features'", "BatchNorm1d(num_features", 17),
])
def test_hints_for_python_habits(layer, message, hint, col):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(M.format(layer=layer), "m.snn")
    e = info.value
    assert message in e.message and hint in (e.hint or "") and (e.span.line, e.span.column) == (3, col), e


BLOCKS = """block Basic(c: int) {
    input x
    return x -> conv: Conv2d(c, c, 3, padding=1) -> sn: IF()
}
block Stage(c: int) {
    input x
    return x -> b: Basic(c) * 2
}
model Net() {
    input img: [8, 8, 8]
    return img -> layer1: Stage(8) -> layer2: Stage(WRONG)
}
"""


@pytest.mark.parametrize("wrong, first, notes", [
    ("4", "in_channels=4 but the incoming value has 8 channels",  # a shape error (infer-shapes)
     ["in block Basic, used as `layer2.b.0` at net.snn:7:17", "in block Stage, used as `layer2` at net.snn:11:39"]),
    ("8, 8", "Stage takes at most 1 positional argument", []),  # at the call site itself: no note
])
def test_an_error_in_a_block_says_where_the_block_was_used(wrong, first, notes):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(BLOCKS.replace("WRONG", wrong), "net.snn")
    assert first in info.value.message and info.value.notes == notes
    rendered = info.value.render()
    assert all(f"note: {n}" in rendered for n in notes)


def test_an_elaboration_error_in_a_block_lists_the_instances():
    text = BLOCKS.replace("padding=1)", "padding=1, groups=zz)").replace("WRONG", "8")
    with pytest.raises(SnnError, match="undefined constant 'zz'") as info:
        snndsl.compile_source(text, "net.snn")
    assert info.value.notes == ["in block Basic, used as `layer1.b.0` at net.snn:7:17",
                                "in block Stage, used as `layer1` at net.snn:11:19"]


def test_use_finds_a_module_next_to_the_snn_file(tmp_path):
    (tmp_path / "sibling_layers_for_test.py").write_text(
        "from torch import nn\n\n\nclass Twice(nn.Module):\n    def forward(self, x):\n        return 2 * x\n")
    snn = tmp_path / "m.snn"
    snn.write_text("use sibling_layers_for_test.Twice as Twice stateless\n"
                   "model M() {\n    input x: [4]\n    return x -> t: Twice()\n}\n")
    code = (f"import snndsl, torch; net = snndsl.compile_file({str(snn)!r}, allow_imports={{'sibling_layers_for_test'}});"
            "x = torch.rand(2, 3, 4); assert torch.equal(net(x), 2 * x); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr
    refused = subprocess.run([sys.executable, "-m", "snndsl", "check", str(snn)], cwd="/", capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "not allowed" in refused.stderr  # still gated by --allow-import


MANY = """model M() {
    input x: [4]
    a = x -> Linear(4, 4, bias=False)
    b = a -> fc: Linaer(4, 4)
    c = x -> Conv2(1, 2, 3)
    d = add(a, c) -> LIF(surrogate=ATan)
    return add(b, d) -> nn.ReLU(inplace=true)
}
"""


def test_independent_errors_are_reported_together(tmp_path, capsys):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(MANY, "m.snn")
    errors = [info.value, *info.value.others]
    assert [(e.span.line, e.span.column) for e in errors] == [(3, 32), (4, 18), (5, 14), (6, 36), (7, 33)]
    assert "undefined constant 'False'" in errors[0].message and "Linaer" in errors[1].message
    from snndsl.cli import main

    path = tmp_path / "m.snn"
    path.write_text(MANY)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count(": error: ") == 5 and err.rstrip().endswith("5 errors") and "Traceback" not in err


def test_errors_are_capped_and_one_per_place():
    body = "\n".join(f"    h{i} = x -> Conv2(1, 2, 3)" for i in range(30))
    text = f"block B() {{\n    input x\n    return x -> Nope()\n}}\nmodel M() {{\n    input x: [4]\n{body}\n" \
           "    return x -> b: B() * 5\n}\n"
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(text, "m.snn")
    assert 1 + len(info.value.others) == 10  # MAX_ERRORS
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(text.replace("Conv2(1, 2, 3)", "ReLU()"), "m.snn")
    assert info.value.others == []  # the block's error, once for its five instances
    assert info.value.notes == ["in block B, used as `b.0` at m.snn:37:17"]


CHAIN = "model M() {{\n    input x: [4]\n{body}\n    return y\n}}\n"
_CONTINUES = "a new line does not continue a chain"

# (the body, the line and column of the error, what the message says, what the hint says)
CONTINUED_CHAINS = [
    ("    y = x -> Linear(4, 4)\n        LIF()", (4, 9), "expected `->` before `LIF`", "write `-> LIF()`"),
    ("    y = x -> Linear(4, 4)\n        sn: LIF()", (4, 9), "expected `->` before `sn`", "write `-> sn: LIF()`"),
    ("    y = x\n        nn.ReLU()", (4, 9), "expected `->` before `nn`", "write `-> nn.ReLU()`"),
    ("    y = x -> ReLU()\n        (ReLU() -> ReLU())", (4, 9), "expected `->` before `(`",
     "write `-> (ReLU() -> ReLU())`"),
    ("    y = x -> ReLU()\n    # a comment\n\n        LIF()", (6, 9), "expected `->` before `LIF`", "write `-> LIF()`"),
    ("    y = x\n        -> ReLU()\n        LIF()", (5, 9), "expected `->` before `LIF`", "write `-> LIF()`"),
    ("    y = x -> Linear(4,\n        4)\n    s: LIF()", (5, 5), "expected `->` before `s`", "write `-> s: LIF()`"),
    ("    y = x -> ReLU()\n    LIF(tau=2.0, v_threshold=1.0, surrogate=ATan(alpha=2.0), detach_reset=true)",
     (4, 5), "expected `->` before `LIF`", "write `-> LIF(...)`"),
    ("    y = x\n    return y -> ReLU()\n        LIF()", (5, 9), "expected `->` before `LIF`", "write `-> LIF()`"),
]

# Statements that are not a chain's continuation keep the hints they had, or one that fits.
NOT_CONTINUED = [
    ("    y = x -> Linear(4, 4)\n    z y", (4, 7), "expected `=` after `z`", "several: `a, b = ...`"),  # a new statement, missing `=`
    ("    y = x -> Linear(4, 4)\n    z: int", (4, 6), "expected `=`", ""),
    ("    let c = 3\n    foo(3)", (4, 8), "expected `=` after `foo`", "a layer is a stage of a chain"),
    ("    foo(3)\n    y = x", (3, 8), "expected `=` after `foo`", "a layer is a stage of a chain"),
    ("    y = x -> ReLU(); LIF()", (3, 25), "expected `=` after `LIF`", "a layer is a stage of a chain"),
    ("    let c = 3\n    (ReLU())", (4, 5), "expected a statement", "a body holds"),
    ("    let y 3", (3, 11), "expected `=` after `y`", "e.g. `let WIDTH = 128`"),
]


@pytest.mark.parametrize("body, at, message, hint", CONTINUED_CHAINS + NOT_CONTINUED)
def test_a_chain_continued_without_an_arrow(body, at, message, hint):
    with pytest.raises(SnnError) as info:
        snndsl.compile_source(CHAIN.format(body=body), "c.snn")
    e = info.value
    assert (e.span.line, e.span.column) == at and message in e.message and hint in (e.hint or ""), e
    assert (_CONTINUES in e.message) == ((body, at, message, hint) in CONTINUED_CHAINS)
    if _CONTINUES in e.message:  # the caret is under the stage's first word
        lines = CHAIN.format(body=body).split("\n")
        word = re.match(r"[A-Za-z_]\w*|\(", lines[at[0] - 1][at[1] - 1:]).group()
        assert f"before `{word}`" in e.message and e.span.end_column - e.span.column == len(word)
