"""Table-driven tests of semantic errors: message, line and column of each."""

from __future__ import annotations

import pytest

import snndsl
from snndsl.diagnostics import SnnError, SnnTypeError, UsageError

HEAD = "model M() {\n    input x: [4]\n"  # line 1-2; snippets start on line 3

CASES = [
    # (id, body lines after the input, message fragment, line, column)
    ("unknown-op", "    return x -> Linar(4, 2)", "unknown op 'Linar' (did you mean 'Linear'?)", 3, 17),
    ("unknown-nn", "    return x -> nn.Linearr(4, 2)", "torch.nn has no module class 'Linearr'", 3, 17),
    ("nn-chain", "    return x -> nn.modules.Linear(4, 2)", "torch.nn has no module class", 3, 17),
    ("unknown-kwarg", "    return x -> Linear(4, 2, bias=true, biass=false)", "has no argument 'biass'", 3, 41),
    ("dup-kwarg", "    return x -> Linear(4, 2, bias=true, bias=false)", "given twice", 3, 41),
    ("pos-and-kw", "    return x -> Linear(4, 2, in_features=4)", "given twice", 3, 30),
    ("too-many-pos", "    return x -> Linear(4, 2, true, 5)", "at most 3 positional", 3, 36),
    ("missing-arg", "    return x -> Linear(4)", "missing its argument 'out_features'", 3, 17),
    ("wrong-type", "    return x -> Linear(4, 2.5)", "must be an integer, got the float 2.5", 3, 27),
    ("wrong-type-bool", "    return x -> Linear(4, 2, bias=1)", "must be true or false", 3, 35),
    ("wrong-type-str", '    return x -> LIF(tau="two")', "must be a number", 3, 25),
    ("infer-not-allowed", "    return x -> Linear(4, _)", "'_' is not allowed here", 3, 27),
    ("infer-in-expr", "    return x -> Linear(_ + 1, 2)", "'_' is not allowed", 3, 24),
    ("undefined-value", "    return y", "undefined value 'y'", 3, 12),
    ("undefined-const", "    return x -> Linear(4, WIDTH)", "undefined constant 'WIDTH'", 3, 27),
    ("const-as-value", "    let c = 3\n    return c", "'c' is a constant, not a value", 4, 12),
    ("value-as-const", "    h = x -> Linear(4, 4)\n    return h -> Linear(h, 2)", "is a value (a tensor)", 4, 24),
    ("dup-label", "    h = x -> a: Linear(4, 4)\n    return h -> a: Linear(4, 2)", "label 'a' is used twice", 4, 17),
    ("label-in-group", "    return x -> g: (a: Linear(4, 4) -> ReLU())", "label 'a' inside a group", 3, 21),
    ("shape-mismatch", "    return x -> Linear(5, 2)", "in_features=5 but the incoming value is [4]", 3, 17),
    ("add-mismatch", "    h = x -> Linear(4, 3)\n    return add(h, x)", "different shapes [3] and [4]", 4, 12),
    ("cat-dim-range", "    return cat(x, x, dim=1)", "dim=1 is out of range", 3, 12),
    ("cat-mismatch", "    h = x -> Linear(4, 3) -> Flatten()\n    y = h -> Linear(3, 2, bias=false)\n    return cat(add(h, h), y, dim=-1)", None, None, None),
    ("merge-unknown", "    return addd(x, x)", "unknown merge operation 'addd' (did you mean 'add'?)", 3, 12),
    ("merge-arity", "    return sub(x, x, x)", "sub takes exactly 2 values", 3, 12),
    ("layer-as-merge", "    return Linear(x)", "unknown merge operation 'Linear'", 3, 12),
    ("merge-as-layer", "    return x -> add()", "is a merge operation, not a layer", 3, 17),
    ("unused-input", "    input y: [4]\n    return x", "input 'y' is never used", 3, 11),
    ("no-return", "    h = x -> ReLU()", "has no `return`", 1, 7),
    ("after-return", "    return x\n    h = x -> ReLU()", "statement after `return`", 4, 5),
    ("repeat-zero", "    return x -> Linear(4, 4) * 0", "repeat count must be a positive integer", 3, 32),
    ("huge-power", "    return x -> Linear(4, 9 ** 9 ** 9)", "too large", 3, 27),
    ("int-overflow", "    return x -> Linear(4, 99999999999 * 99999999999)", "integer result is too large", 3, 27),
    ("div-zero", "    return x -> Linear(4, 4 // 0)", "division by zero", 3, 27),
    ("pool-empty", "    return x -> MaxPool1d(2)", "expects a per-sample shape [C, L]", 3, 17),
    ("conv-channels", "    return x -> Flatten() -> Conv1d(3, 2, 1)", "expects a per-sample shape", 3, 30),
    ("surrogate-unknown", "    return x -> LIF(surrogate=Atan())", "unknown surrogate function 'Atan' (did you mean 'ATan'?)", 3, 31),
    ("surrogate-kwarg", "    return x -> LIF(surrogate=ATan(beta=1.0))", "has no argument 'beta'", 3, 36),
    ("defaults-unknown", "    defaults LIFF(tau=2.0)\n    return x", "defaults for unknown layer 'LIFF'", 3, 14),
    ("defaults-kwarg", "    defaults LIF(tau2=2.0)\n    return x", "has no argument 'tau2'", 3, 18),
    ("dropout-p", "    return x -> Dropout(1.5)", "p must be in [0, 1)", 3, 17),
    ("shape-dim", "    input y: [0]\n    return add(x, y)", "positive integer, got 0", 3, 15),
    ("block-undefined", "    return x -> b: Blok(3)", "unknown op 'Blok'", 3, 20),
    ("use-denied", None, "imports Python code, which is not allowed", 1, 1),
    ("static-block", None, "`static` is only allowed on model inputs", 2, 5),
    ("recursive", None, "block A uses itself (A -> B -> A)", 7, 17),
    ("block-two-inputs", None, "declares more than one input", 3, 5),
]

FULL = {
    "use-denied": "use os.path.join as J stateless\nmodel M() {\n    input x: [4]\n    return x -> J()\n}\n",
    "static-block": "block B() {\n    input x: [4] static\n    return x\n}\nmodel M() {\n    input x: [4]\n    return x -> B()\n}\n",
    "recursive": "block A() {\n    input x\n    return x -> B()\n}\nblock B() {\n    input x\n    return x -> A()\n}\n"
    "model M() {\n    input x: [4]\n    return x -> A()\n}\n",
    "block-two-inputs": "block B() {\n    input x\n    input y\n    return add(x, y)\n}\nmodel M() {\n    input x: [4]\n    return x -> B()\n}\n",
}


@pytest.mark.parametrize("case", [c for c in CASES if c[2] is not None], ids=lambda c: c[0])
def test_semantic_error(case):
    name, body, fragment, line, col = case
    text = FULL[name] if body is None else HEAD + body + "\n}\n"
    with pytest.raises(SnnError) as info:
        snndsl.emit_python(text, "t.snn")
    err = info.value
    assert fragment in err.message, err.render()
    assert (err.span.line, err.span.column) == (line, col), err.render()
    assert err.hint, "every error has a hint"
    rendered = str(err)
    assert rendered.startswith(f"t.snn:{line}:{col}: error: ")
    assert "^" in rendered


def test_cat_mismatch_reports_both_shapes():
    text = HEAD + "    h = x -> Linear(4, 3)\n    return cat(h, x -> Linear(4, 2) -> Flatten(), dim=-1) -> Linear(5, 1) -> cat2: Flatten()\n}\n"
    net = snndsl.compile_source(text)
    assert net is not None  # [3] ++ [2] along the last dim is fine


def test_unknown_param_is_usage_error():
    with pytest.raises(UsageError, match="no parameter 'widht'.*did you mean 'width'"):
        snndsl.emit_python("model M(width: int = 4) {\n input x: [width]\n return x\n}\n", params={"widht": 3})


def test_param_type_is_checked():
    with pytest.raises(SnnTypeError, match="must be int") as info:
        snndsl.emit_python("model M(width: int = 4) {\n input x: [width]\n return x\n}\n", params={"width": "a"})
    assert (info.value.span.line, info.value.span.column) == (1, 9)  # at the parameter
