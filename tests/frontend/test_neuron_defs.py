"""`neuron` definitions: parsing, elaboration to a NeuronProgram (instructions in the
order the equations are written, sequential reads), and every mistake a located error.

Errors are checked table-driven: the message, and the source text the error points at."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snndsl.compiler import lower
from snndsl.diagnostics import SnnError, SnnNameError, SnnSyntaxError, SnnTypeError
from snndsl.frontend import ast
from snndsl.frontend.parse import parse
from snndsl.ir import ops
from snndsl.ir.neuron_program import Code, NeuronProgram

# The spec's example (shared/spec/language.md, "Neuron definitions"), verbatim.
SPEC_EXAMPLE = """\
neuron Izh(tau: float = 2.0, v_threshold: float = 1.0, v_reset: float? = 0.0,
          v_rest: float = -0.1, v_c: float = 0.8, a0: float = 1.0,
          tau_w: float = 2.0, a: float = 0.0, b: float = 0.0,
          detach_reset: bool = false) {
    input x                               # the input at this step
    state v = 0.0 if v_reset == none else v_reset    # a state variable and its value after reset
    state w = 0.0
    h = v + (x + a0 * (v - v_rest) * (v - v_c) - w) / tau
    s = spike(h - v_threshold)            # heaviside forward, surrogate gradient backward
    w = w + (a * (h - v_rest) - w) / tau_w + b * s
    r = detach(s) if detach_reset else s
    v = h - r * v_threshold if v_reset == none else r * v_reset + (1.0 - r) * h
    return s
}
model Net() {
    input x: [64]
    return x -> fc: Linear(64, 10) -> sn: Izh(a=0.2, surrogate=ATan())
}
"""

LIF_LIKE = """\
neuron N(tau: float = 2.0, v_threshold: float = 1.0) {
    input x
    state v = 0.0
    h = v + (x - v) / tau
    s = spike(h - v_threshold)
    v = h - s * v_threshold
    return s
}
"""


def build(text: str, filename: str = "t.snn"):
    return lower(text, filename, stop_after="build")


def with_model(neuron: str, call: str = "N()") -> str:
    return neuron + f"model M() {{\n    input x: [4]\n    return x -> sn: {call}\n}}\n"


def program(neuron: str, call: str = "N()") -> NeuronProgram:
    op = build(with_model(neuron, call)).node("sn").op
    assert isinstance(op, ops.ProgramNeuron)
    assert op.program.problems() == []
    return op.program


def listing(p: NeuronProgram) -> list[str]:
    """The instructions as `CODE args value` lines, for comparing with the equations."""
    out = []
    for ins in p.instrs:
        text = ins.code.name
        if ins.args:
            text += " " + " ".join(map(str, ins.args))
        if ins.value is not None:
            text += f" {ins.value}"
        out.append(text)
    return out


# --------------------------------------------------------------------------- good


def test_the_spec_example_parses_and_elaborates() -> None:
    tree = parse(SPEC_EXAMPLE, "izh.snn")
    neuron = tree.items[0]
    assert isinstance(neuron, ast.NeuronDef) and neuron.name == "Izh" and not neuron.overrides
    assert [p.name for p in neuron.params][:3] == ["tau", "v_threshold", "v_reset"]
    assert neuron.params[2].optional and neuron.params[2].type == "float"
    assert [type(s).__name__ for s in neuron.body] == [
        "InputStmt", "StateStmt", "StateStmt", "Equation", "Equation", "Equation", "Equation", "Equation",
        "NeuronReturn"]
    op = build(SPEC_EXAMPLE).node("sn").op
    assert isinstance(op, ops.ProgramNeuron)
    assert op.kind == "Izh" and op.args == () and op.kwargs == (("a", 0.2), ("surrogate", ops.SurrogateValue("ATan")))
    p = op.program
    assert p.problems() == [] and p.spiking
    assert p.states == (("v", 0.0), ("w", 0.0)) and p.params == ()
    assert p.surrogate == ops.SurrogateValue("ATan")
    # written order, operation by operation; a0 = 1.0 and 0.0 are not folded away
    assert listing(p) == [
        "STATE v", "INPUT x", "CONST -0.1", "SUB 0 2", "CONST 1.0", "MUL 4 3", "CONST 0.8", "SUB 0 6",
        "MUL 5 7", "ADD 1 8", "STATE w", "SUB 9 10", "CONST 2.0", "DIV 11 12", "ADD 0 13",  # h
        "SUB 14 4", "SPIKE 15",  # s
        "SUB 14 2", "CONST 0.2", "MUL 18 17", "SUB 19 10", "DIV 20 12", "ADD 10 21", "CONST 0.0",
        "MUL 23 16", "ADD 22 24",  # w: the new value
        "MUL 16 23", "SUB 4 16", "MUL 27 14", "ADD 26 28",  # v: the hard reset (v_reset = 0.0)
    ]
    assert p.updates == (("v", 29), ("w", 25)) and p.output == 16


def test_compile_time_conditions_pick_the_equation() -> None:
    text = SPEC_EXAMPLE.replace("Izh(a=0.2, surrogate=ATan())", "Izh(v_reset=none, detach_reset=true)")
    p = build(text).node("sn").op.program
    assert p.surrogate == ops.SurrogateValue("Sigmoid")  # the default
    codes = [i.code for i in p.instrs]
    assert Code.DETACH in codes
    v_update = p.instrs[p.updates[0][1]]
    assert v_update.code is Code.SUB  # the soft reset: h - r * v_threshold
    assert p.instrs[p.instrs[v_update.args[1]].args[0]].code is Code.DETACH


def test_reads_after_an_assignment_see_the_new_value() -> None:
    p = program("""\
neuron N() {
    input x
    state v = 0.0
    v = v + x
    y = v * 2.0
    v = y - v
    return spike(y)
}
""")
    assert listing(p) == ["STATE v", "INPUT x", "ADD 0 1", "CONST 2.0", "MUL 2 3", "SUB 4 2", "SPIKE 4"]
    assert p.updates == (("v", 5),)  # the last assignment


def test_constants_fold_only_between_compile_time_operands() -> None:
    p = program("""\
neuron N(tau: float = 2.0) {
    input x
    state v = 0.0
    let decay = 1.0 - 1.0 / tau
    v = v * decay + x * (2 ** 3) + exp(0.0)
    return spike(v - 1.0)
}
""")
    assert listing(p) == ["STATE v", "CONST 0.5", "MUL 0 1", "INPUT x", "CONST 8.0", "MUL 3 4", "ADD 2 5",
                          "CONST 1.0", "ADD 6 7", "SUB 8 7", "SPIKE 9"]


def test_arguments_bind_like_layers_with_defaults_lines() -> None:
    text = "defaults N(v_threshold=0.5)\n" + with_model(LIF_LIKE, "N(3)")
    op = build(text).node("sn").op
    assert op.args == (3.0,) and op.kwargs == (("v_threshold", 0.5),)  # ints accepted for floats
    assert "CONST 3.0" in listing(op.program) and "CONST 0.5" in listing(op.program)


def test_defaults_in_a_body_and_unlabelled_neurons() -> None:
    text = LIF_LIKE + "model M() {\n    input x: [4]\n    defaults N(tau=4.0)\n    return x -> N()\n}\n"
    ir = build(text)
    node = ir.node("n_0")
    assert node.generated and node.op.kwargs == (("tau", 4.0),)


def test_learnable_params_and_non_spiking_neurons() -> None:
    p = program("""\
neuron N() {
    input x
    param k = 1
    state v = 0.0
    v = v + k * x
    return v
}
""")
    assert p.params == (("k", 1.0),) and not p.spiking
    assert listing(p)[:3] == ["STATE v", "PARAM k", "INPUT x"]


def test_header_defaults_see_earlier_parameters_and_file_constants() -> None:
    p = program("let TH = 0.25\n" + """\
neuron N(a: float = TH, b: float = a * 2) {
    input x
    state v = b
    v = x - v
    return spike(v - a)
}
""")
    assert p.states == (("v", 0.5),) and "CONST 0.25" in listing(p)


def test_optional_and_surrogate_header_types() -> None:
    text = """\
neuron N(v_reset: float? = none, surrogate: surrogate = Rect()) {
    input x
    state v = 0.0 if v_reset == none else v_reset
    s = spike(v + x - 1.0)
    v = v + x - s
    return s
}
"""
    assert program(text).surrogate == ops.SurrogateValue("Rect")
    p = program(text, "N(v_reset=-1, surrogate=ATan(alpha=3.0))")
    assert p.states == (("v", -1.0),) and p.surrogate == ops.SurrogateValue("ATan", (("alpha", 3.0),))


def test_prelude_neurons_can_be_overridden() -> None:
    text = """\
neuron KLIF() overrides {
    input x
    state v = 0.0
    v = x
    return spike(v)
}
model M() {
    input x: [4]
    return x -> sn: KLIF()
}
"""
    p = build(text).node("sn").op.program
    assert p.params == () and listing(p) == ["INPUT x", "SPIKE 0"] and p.updates == (("v", 0),)


def test_neuron_state_param_and_overrides_stay_names_elsewhere() -> None:
    text = """\
model M() {
    input x: [4]
    state = x -> neuron: ReLU()
    param = state -> overrides: Identity()
    return param
}
"""
    assert [n.path for n in build(text).nodes()] == ["input.x", "neuron", "overrides", "return.0"]


@pytest.mark.parametrize(("expr", "value"), [
    ("8 if true else 2", 8), ("8 if 1 > 2 else 2", 2), ("3 if 2 >= 2 and not false else 4", 3),
    ("5 if false or 1 != 1 else 6", 6), ("7 if none == none else 1", 7), ("7 if 1 == true else 1", 1),
    ("1 if true else 2 if true else 3", 1), ("2 if false and 1 / 0 else 4", 4),
])
def test_conditions_work_in_every_compile_time_expression(expr: str, value: int) -> None:
    text = f"let n = {expr}\nmodel M() {{\n    input x: [4]\n    return x -> fc: Linear(4, n)\n}}\n"
    assert build(text).node("fc").op.args == (4, value)


# --------------------------------------------------------------------------- bad

ONE = """\
neuron N(tau: float = 2.0, v_threshold: float = 1.0) {{
    input x
    state v = 0.0
{body}
}}
"""


def one(body: str) -> str:
    return ONE.format(body="\n".join("    " + line for line in body.splitlines()))


# (source, call, error class, words in the message, the text the error points at)
BAD: list[tuple[str, str, type[SnnError], str, str]] = [
    (one("h = v + y\nv = h\nreturn spike(h)"), "N()", SnnNameError, "undefined name 'y'", "y\n"),
    (one("h = v + taux\nv = h\nreturn spike(h)"), "N()", SnnNameError, "did you mean 'tau'", "taux"),
    (one("h = v + w\nstate w = 0.0\nv = h\nreturn spike(h)"), "N()", SnnNameError, "undefined name 'w'", "w\n"),
    (one("state w = 0.0\nv = v + x\nreturn spike(v)"), "N()", SnnNameError, "state 'w' is never updated", "w = 0.0"),
    ("neuron N() {\n    state v = 0.0\n    v = v + 1.0\n    return v\n}\n", "N()", SnnNameError,
     "has no `input`", "N()"),
    (one("input y\nv = v + x\nreturn spike(v)"), "N()", SnnTypeError, "declares a second input", "input y"),
    (one("v = v + x"), "N()", SnnNameError, "has no `return`", "N(tau"),
    (one("v = v + x\nreturn spike(v)\nreturn v"), "N()", SnnNameError, "statement after `return`", "return v"),
    (one("return spike(v)\nv = v + x"), "N()", SnnNameError, "statement after `return`", "v = v + x"),
    (one("v = v + x\nreturn spike(1.0)"), "N()", SnnTypeError, "spike of a compile-time constant", "spike(1.0)"),
    (one("v = v + x\nreturn spike(detach(v))"), "N()", SnnTypeError, "no gradient can flow", "spike(detach"),
    (one("state c = 0.0\nc = c + 1.0\nv = v + x\nreturn spike(c - 3.0)"), "N()", SnnTypeError,
     "no gradient can flow", "spike(c"),
    (one("h = x if v else 0.0\nv = h\nreturn spike(h)"), "N()", SnnTypeError,
     "run-time value in a compile-time condition", "v else"),
    (one("h = x if x > 0.0 else 0.0\nv = h\nreturn spike(h)"), "N()", SnnTypeError,
     "the comparison `>` takes compile-time values", "x > 0.0"),
    (one("h = x if tau else 0.0\nv = h\nreturn spike(h)"), "N()", SnnTypeError,
     "needs true or false, got the float 2.0", "tau else"),
    (one("tau = 3.0\nv = v + x\nreturn spike(v)"), "N()", SnnNameError,
     "a header parameter cannot be assigned: 'tau'", "tau = 3.0"),
    (one("x = x * 2.0\nv = v + x\nreturn spike(v)"), "N()", SnnNameError, "the input cannot be assigned", "x = x"),
    (one("param k = 1.0\nk = k + x\nv = v + k\nreturn spike(v)"), "N()", SnnNameError,
     "a learnable param cannot be assigned", "k = k"),
    (one("let c = 2.0\nc = x\nv = v + c\nreturn spike(v)"), "N()", SnnNameError,
     "a `let` constant cannot be assigned", "c = x"),
    (one("state v = 1.0\nv = v + x\nreturn spike(v)"), "N()", SnnNameError, "'v' is already defined", "v = 1.0"),
    (one("v = foo(x)\nreturn spike(v)"), "N()", SnnNameError, "unknown function 'foo'", "foo(x)"),
    (one("v = expp(x)\nreturn spike(v)"), "N()", SnnNameError, "did you mean 'exp'", "expp(x)"),
    (one("v = exp(x, 1.0)\nreturn spike(v)"), "N()", SnnTypeError, "exp takes 1 argument, got 2", "exp(x"),
    (one("v = clamp(x, 0.0)\nreturn spike(v)"), "N()", SnnTypeError, "clamp takes 3 arguments, got 2", "clamp("),
    (one("v = min(x, y=1.0)\nreturn spike(v)"), "N()", SnnTypeError, "takes no keyword arguments", "y=1.0"),
    (one("v = clamp(x, 0.0, v)\nreturn spike(v)"), "N()", SnnTypeError, "clamp's bounds must be compile-time",
     "v)\n"),
    (one("v = ATan(x)\nreturn spike(v)"), "N()", SnnNameError, "is a surrogate function", "ATan(x)"),
    (one("v = Izhikevich(x)\nreturn spike(v)"), "N()", SnnNameError, "cannot call a neuron", "Izhikevich(x)"),
    (one("v = N(x)\nreturn spike(v)"), "N()", SnnNameError, "cannot call a neuron", "N(x)"),
    (one("v = v + x\nreturn spike(v)"), 'N(tau="a")', SnnTypeError, "argument 'tau' of N must be a number",
     '"a"'),
    (one("v = v + x\nreturn spike(v)"), "N(taux=2.0)", SnnTypeError, "N has no argument 'taux'", "taux=2.0"),
    (one("v = v + x\nreturn spike(v)"), "N(1.0, 2.0, 3.0, 4.0)", SnnTypeError, "at most 3 positional", "4.0"),
    (one("v = v + x\nreturn spike(v)"), "N(surrogate=2.0)", SnnTypeError, "must be a surrogate function", "2.0)"),
    (one("let c = x * 2.0\nv = v + c\nreturn spike(v)"), "N()", SnnTypeError,
     "`let c` is a compile-time constant", "x * 2.0"),
    (one("state w = x\nw = x\nv = v + x\nreturn spike(v)"), "N()", SnnTypeError,
     "reset value of state 'w' must be a compile-time number", "x\n"),
    (one("param k = true\nv = v + k * x\nreturn spike(v)"), "N()", SnnTypeError,
     "initial value of param 'k' must be a number", "true"),
    (one("v = v + x\nreturn 1.0"), "N()", SnnTypeError, "returns a compile-time constant", "1.0"),
    (one("v = v + 1.0\nreturn spike(v)"), "N()", SnnNameError, "input 'x' is never used", "x\n"),
    (one("v = v // x\nreturn spike(v)"), "N()", SnnTypeError, "`//` is compile-time only", "v // x"),
    (one("v = v + x * none\nreturn spike(v)"), "N()", SnnTypeError, "operator '*' needs numbers", "none"),
    (one("v = v + x / (tau - 2.0)\nreturn spike(v)"), "N()", SnnTypeError, "", ""),  # run time: inf, fine
    (one("let z = 1.0 / (tau - 2.0)\nv = v + x * z\nreturn spike(v)"), "N()", SnnTypeError, "division by zero",
     "1.0 / (tau"),
    (one("v = v + x + log(tau - 2.0)\nreturn spike(v)"), "N()", SnnTypeError, "cannot compute log", "log("),
    ("neuron N(t: float = \"a\") {\n    input x\n    return spike(x)\n}\n", "N()", SnnTypeError,
     "declared float but its default is the string", 't: float = "a"'),
    ("neuron N() {\n    input x: [4]\n    return spike(x)\n}\n", "N()", SnnTypeError,
     "takes its shape from the layer before it", "input x: [4]"),
    ("neuron N(a: str? = none) {\n    input x\n    return spike(x)\n}\n", "N()", SnnSyntaxError,
     "`str?` is not a type", "str?"),
    ("neuron N(s: surrogate = ATan()) {\n    input x\n    return spike(x)\n}\n", "N()", SnnSyntaxError,
     "only a neuron's `surrogate` parameter", "s: surrogate"),
    ("neuron N(surrogate: float = 1.0) {\n    input x\n    return spike(x)\n}\n", "N()", SnnSyntaxError,
     "`surrogate` parameter is a surrogate function", "surrogate: float"),
    ("neuron LIF() {\n    input x\n    return spike(x)\n}\n", "LIF()", SnnNameError,
     "shadows the built-in layer LIF", "LIF()"),
    ("neuron Conv2d() {\n    input x\n    return spike(x)\n}\n", "Conv2d(1, 1, 1)", SnnNameError,
     "shadows the built-in layer Conv2d", "Conv2d()"),
    ("neuron KLIF() {\n    input x\n    return spike(x)\n}\n", "KLIF()", SnnNameError,
     "already defined in the prelude", "KLIF()"),
    ("neuron Mine() overrides {\n    input x\n    return spike(x)\n}\n", "Mine()", SnnNameError,
     "overrides nothing", "Mine()"),
    ("block Izhikevich() {\n    input x\n    return x\n}\n", "Izhikevich()", SnnNameError,
     "shadows the prelude neuron Izhikevich", "Izhikevich()"),
    ("neuron N() {\n    input x\n    return spike(x)\n}\nblock N() {\n    input x\n    return x\n}\n", "N()",
     SnnNameError, "'N' is defined twice", "N() {\n    input x\n    return x"),
    (one("v = v + x\nreturn spike(v)") + "defaults N(tau=true)\n", "N()", SnnTypeError,
     "argument 'tau' of N must be a number", "true"),
    ("model B(p: float? = none) {\n    input x: [4]\n    return x\n}\n", "N()", SnnSyntaxError,
     "only for neuron headers", "p: float?"),
]
BAD = [case for case in BAD if case[3]]  # the table documents one fine case (no message)


@pytest.mark.parametrize(("source", "call", "cls", "message", "at"), BAD,
                         ids=[f"{i:02d}-{c[3][:30]}" for i, c in enumerate(BAD)])
def test_mistakes_are_located_errors(source: str, call: str, cls: type[SnnError], message: str, at: str) -> None:
    text = source if source.startswith("model") else with_model(source, call)
    with pytest.raises(SnnError) as info:
        build(text)
    err = info.value
    assert type(err) is cls, err.render()
    assert message in err.message, err.render()
    assert err.hint, err.render()
    assert err.span is not None and err.span.filename == "t.snn", err.render()
    line = text.split("\n")[err.span.line - 1]
    rest = "\n".join([line[err.span.column - 1 :], *text.split("\n")[err.span.line :]])
    assert rest.startswith(at), (rest[:40], err.render())


def test_the_fine_case_of_the_table_compiles() -> None:
    p = program(one("v = v + x / (tau - 2.0)\nreturn spike(v)"))  # x / 0.0: inf at run time, as in torch
    assert "CONST 0.0" in listing(p)


def test_an_error_in_a_prelude_body_shows_the_prelude_and_the_call() -> None:
    text = "model M() {\n    input x: [4]\n    return x -> sn: ALIF(tau=0.0)\n}\n"
    with pytest.raises(SnnError) as info:
        build(text)
    err = info.value
    assert err.span is not None and err.span.filename == "<prelude>"
    assert "division by zero" in err.message
    shown = err.render()
    assert "exp(-1.0 / tau)" in shown and "used as `sn` at t.snn:3" in shown


def test_model_level_conditions_are_compile_time_booleans() -> None:
    text = "model M() {\n    input x: [4]\n    return x -> fc: Linear(4, 1 and 2)\n}\n"
    with pytest.raises(SnnTypeError, match="`and` needs true or false"):
        build(text)


# --------------------------------------------------------------------------- fuzz

NAMES = ("x", "x", "v", "v", "h", "h", "tau", "c", "k")
FUNCS = {"exp": 1, "tanh": 1, "sigmoid": 1, "relu": 1, "abs": 1, "spike": 1, "detach": 1, "min": 2, "max": 2,
         "clamp": 3}
OPERATORS = ("+", "+", "-", "*", "*", "/", "**", "//", "<", "and")


def expressions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), st.sampled_from(("0.0", "1.0", "2", "-0.5", "none")))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binop = st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
        call = st.tuples(st.sampled_from(sorted(FUNCS)), inner, inner).map(
            lambda t: f"{t[0]}({', '.join([t[1], t[2], '1.0'][:FUNCS[t[0]]])})")
        cond = st.tuples(inner, st.sampled_from(("tau > 1.0", "true", "v > 0.0", "c == none")), inner).map(
            lambda t: f"({t[0]} if {t[1]} else {t[2]})")
        return st.one_of(binop, binop, binop, call, call, cond, inner.map(lambda e: f"-{e}"))

    return st.recursive(leaf, extend, max_leaves=6)


def statements() -> st.SearchStrategy[str]:
    assign = st.tuples(st.sampled_from(("h", "h", "v", "w", "c", "tau")), expressions()).map(
        lambda t: f"{t[0]} = {t[1]}")
    return st.one_of(
        assign, assign,
        st.sampled_from(("state w = 0.0", "let c = 2.0", "w = x", "state w = 0.0", "let c = 2.0", "input y",
                         "param k = 1.0")),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statements(), max_size=5), expressions(), expressions(), st.booleans())
def test_random_neuron_bodies_elaborate_to_well_formed_programs_or_fail_located(
        body: list[str], update: str, out: str, spike_out: bool) -> None:
    lines = [*body, f"v = {update}", f"return {'spike' if spike_out else ''}({out})"]
    text = with_model("neuron N(tau: float = 2.0) {\n    input x\n    state v = 0.0\n    h = x\n"
                      + "".join(f"    {line}\n" for line in lines) + "}\n")
    try:
        op = build(text).node("sn").op
    except SnnError as err:
        assert err.span is not None and err.hint, err.render()
        return
    p = op.program
    assert p.problems() == []
    assert [s for s, _ in p.updates] == [s for s, _ in p.states]
    assert any(ins.code is Code.INPUT for ins in p.instrs)
    assert p.spiking or not spike_out
