"""Bounded resources at compile time.

Exponent towers, huge integers, absurd layer sizes, deeply nested brackets, deep
block chains, repeat bombs and 100,000-line files: each ends within a deadline with a
located error or a success; never a hang, a ``RecursionError`` or a ``MemoryError``.
The slow variants (``-m slow``) use the full sizes of the issue.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import snndsl
from snndsl.diagnostics import SnnError, SnnLimitError

from .support import ROOT, assert_clean, deadline, run_cli

M = "model M() {{ input x: [4]; return {r} }}"


def outcome(text: str, seconds: float, fn=snndsl.emit_python) -> SnnError | None:
    """Run ``fn(text)`` under a deadline; return the SnnError (located in this text) or None."""
    with deadline(seconds):
        try:
            fn(text, "res.snn")
        except SnnError as e:
            assert e.span.filename == "res.snn", e.span
            assert e.span.line >= 1 and e.span.column >= 1
            assert "res.snn:" in str(e)
            return e
    return None


# ---------------------------------------------------------------------------------------
# arithmetic
# ---------------------------------------------------------------------------------------

ARITH = {
    "tower": "2**2**2**2**2**2",
    "tower-9": "9**9**9",
    "float-tower": "2.0**2.0**2.0**2.0**2.0**2.0",
    "big-base": "(10**18)**(10**18)",
    "mixed-tower": "2**2.0**2**2**2",
    "negative-tower": "(-3)**(-3)**(-3)**3",
    "product": "3037000500 * 3037000500",
    "int-literal-4000": "9" * 4000,
    "int-literal-5000": "9" * 5000,
    "int-literal-1e6": "9" * 1_000_000,
    "float-literal-1e6": "9" * 1_000_000 + ".0",
    "float-exponent": "1e99999999999999999999",
    "floordiv-overflow": "10**18 // 1e-300",
    "div-overflow": "1e308 / 1e-308",
    "zero-power": "0 ** -1",
    "complex": "(-8) ** 0.5",
    "modulo-zero": "5 % 0",
    "shift-like": "2 ** 63",
}


@pytest.mark.parametrize("expr", list(ARITH.values()), ids=list(ARITH))
def test_arithmetic_is_bounded(expr: str) -> None:
    err = outcome(M.format(r=f"x -> Linear(4, {expr})"), 10)
    assert err is not None, "an absurd constant was accepted"


def test_large_but_legal_arithmetic_is_exact() -> None:
    text = M.format(r="x -> nn.Identity(2**62 + (2**62 - 1), 7 // 2, -7 // 2, 7 % -3, 2 ** -1, 1e308)")
    source = snndsl.emit_python(text)
    assert "nn.Identity(9223372036854775807, 3, -4, -2, 0.5, 1e+308)" in source


# ---------------------------------------------------------------------------------------
# absurd sizes
# ---------------------------------------------------------------------------------------

HUGE_LINEAR = "model M() {\n    input x: [16]\n    return x -> fc: Linear(16, 10**12)\n}\n"


def test_check_reports_a_huge_layer_without_allocating(tmp_path: Path) -> None:
    """64 TB of weights cannot be allocated anywhere: check succeeding proves it allocated none."""
    src = tmp_path / "huge.snn"
    src.write_text(HUGE_LINEAR)
    with deadline(30):
        status, out, err = run_cli(["check", str(src)])
    assert_clean(status, out, err, str(src), allowed=(0,))
    assert "17,000,000,000,000" in out  # the parameter count of fc (weights and bias)
    assert "note: that is more than this machine's" in out


def test_compile_source_and_run_refuse_a_huge_layer(tmp_path: Path) -> None:
    with pytest.raises(SnnLimitError) as info:
        snndsl.compile_source(HUGE_LINEAR, "huge.snn")
    assert info.value.span.line == 3 and "GiB" in info.value.message and "'fc'" in info.value.message
    src = tmp_path / "huge.snn"
    src.write_text(HUGE_LINEAR)
    status, out, err = run_cli(["run", str(src)])
    assert_clean(status, out, err, str(src), allowed=(1,))
    assert "GiB" in err and ":3:" in err.splitlines()[0]
    # `compile` refuses it as well (without allocating), unless told that it is meant for a larger machine
    status, out, err = run_cli(["compile", str(src), "-o", str(tmp_path / "huge.py")])
    assert_clean(status, out, err, str(src), allowed=(1,))
    assert "GiB" in err and "--no-memory-check" in err and not (tmp_path / "huge.py").exists()
    status, out, err = run_cli(["compile", str(src), "-o", str(tmp_path / "huge.py"), "--no-memory-check"])
    assert_clean(status, out, err, str(src), allowed=(0,))
    assert (tmp_path / "huge.py").exists()


def test_check_of_a_large_model_stays_small(tmp_path: Path) -> None:
    """1.7e9 parameters (6.5 GiB): `check` counts them on the meta device; the process stays small."""
    src = tmp_path / "large.snn"
    src.write_text("model M() { input x: [16]; return x -> fc: Linear(16, 10**8) -> LIF() }\n")
    # VmHWM is the peak of this process's own memory since its exec; ru_maxrss would start
    # from the peak of the pytest process that forked it
    code = textwrap.dedent(f"""
        import sys
        from snndsl.cli import main
        status = main(["check", {str(src)!r}])
        hwm = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
        print("MAXRSS", hwm, file=sys.stderr)
        sys.exit(status)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    maxrss_kib = int(done.stderr.split("MAXRSS")[1].split()[0])
    assert maxrss_kib < 2 * 2**20, f"check used {maxrss_kib / 2**20:.1f} GiB"


SIZES = {
    "linear-1e13": "x -> Linear(4, 10**13)",
    "conv": "y -> Conv2d(1, 10**6, 10**3, padding=10**3)",
    "conv-kernel": "y -> Conv2d(1, 1, 10**9)",
    "upsample": "y -> Upsample(scale_factor=1e300)",
    "upsample-size": "y -> Upsample(size=(10**9, 10**9))",
    "transposed": "y -> ConvTranspose2d(1, 1, 3, stride=10**9)",
    "adaptive": "y -> AdaptiveAvgPool2d(10**9)",
    "batchnorm": "x -> Flatten() -> BatchNorm1d(_) -> nn.Linear(4, 2**62)",
    "nn-embedding": "x -> nn.Embedding(10**12, 10**6)",
    "cat": "cat(" + ", ".join(["y -> Upsample(size=(2**19, 2**19))"] * 5) + ")",
    "repeat": "x -> Linear(4, 4) * 10**9",
    "repeat-float": "x -> Linear(4, 4) * 1e9",
}


@pytest.mark.parametrize("chain", list(SIZES.values()), ids=list(SIZES))
def test_absurd_sizes(chain: str) -> None:
    text = f"model M() {{ input x: [4]; input y: [1, 8, 8]; a = x -> ReLU(); b = y -> ReLU(); return {chain}, a, b }}"
    err = outcome(text, 20, snndsl.compile_source)
    assert err is not None


def test_huge_input_shape_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "input.snn"
    src.write_text("model M() { input x: [2**31, 2**31]; return x -> ReLU() }\n")
    status, out, err = run_cli(["check", str(src)])
    assert_clean(status, out, err, str(src), allowed=(1,))


def test_run_with_an_input_too_large_for_memory(tmp_path: Path) -> None:
    src = tmp_path / "input.snn"
    src.write_text("model M() { input x: [100000, 100000, 100]; return x -> ReLU() }\n")
    status, out, err = run_cli(["run", str(src), "-T", "2", "-N", "1"])
    assert_clean(status, out, err, str(src), allowed=(1,))
    assert "GiB" in err


def test_run_with_absurd_time_steps(tmp_path: Path) -> None:
    src = tmp_path / "ok.snn"
    src.write_text("model M() { input x: [4]; return x -> fc: Linear(4, 2) -> LIF() }\n")
    status, out, err = run_cli(["run", str(src), "-T", str(10**12)])
    assert_clean(status, out, err, str(src), allowed=(1,))
    assert "lower -T or -N" in err


# ---------------------------------------------------------------------------------------
# nesting
# ---------------------------------------------------------------------------------------

D = 5000
NESTED = {
    "expression": M.format(r="x -> Linear(4, " + "(" * D + "4" + ")" * D + ")"),
    "value": M.format(r="(" * D + "x" + ")" * D),
    "group": M.format(r="x -> g: " + "(" * D + "ReLU()" + ")" * D),
    "list": M.format(r="x -> nn.Identity(" + "[" * D + "]" * D + ")"),
    "tuple": M.format(r="x -> nn.Identity(" + "(1," * D + ")" * D + ")"),
    "merge": M.format(r="add(" * D + "x, x" + ")" * D),
    "surrogate": M.format(r="x -> LIF(surrogate=" + "ATan(alpha=" * D + "1" + ")" * D + ")"),
    "unary": M.format(r="x -> Linear(4, " + "-" * D + "4)"),
    "unary-100k": M.format(r="x -> Linear(4, " + "- " * 100_000 + "4)"),
    "power": M.format(r="x -> Linear(4, " + "1**" * D + "4)"),
    "unclosed": M.format(r="x -> Linear(4, " + "(" * 100_000),
    "parens-100k": M.format(r="x -> Linear(4, " + "(" * 100_000 + "4" + ")" * 100_000 + ")"),
    "braces": "model M() " + "{" * D + "}" * D,
    "blocks": "model M() { input x: [4]; return x -> " + "block B() { " * D + "}" * D,
}


@pytest.mark.parametrize("text", list(NESTED.values()), ids=list(NESTED))
def test_deep_nesting_is_a_located_error(text: str) -> None:
    err = outcome(text, 15)
    assert err is not None


@pytest.mark.parametrize("depth", [20, 120, 150])
def test_allowed_nesting_compiles_and_runs(depth: int) -> None:
    from .support import tiny_forward

    text = M.format(r="x -> g: " + "(" * depth + "ReLU() -> Linear(4, 4) -> LIF()" + ")" * depth)
    with deadline(30):
        net = snndsl.compile_source(text, "res.snn")
        tiny_forward(net)


@pytest.mark.parametrize("terms", [300, 20_000])
def test_a_long_flat_sum_is_not_deep_nesting(terms: int) -> None:
    """``1 + 1 + ...`` and ``2 * 1 * 1 ...`` are as flat as a list, whatever their length."""
    text = M.format(r="x -> Linear(4, " + " + ".join(["1"] * terms) + " - 2 * 1 * 1 * 1 // 1)")
    with deadline(30):
        ir = snndsl.compiler.lower(text, "res.snn")
    assert ir.node("linear_0").op.args == (4, terms - 2)


@pytest.mark.parametrize("depth", [50, 300, 3000])
def test_deep_block_chain(depth: int) -> None:
    """Each block calls the next: a clean error (or success) at any depth, no RecursionError."""
    blocks = "".join(f"block B{i}() {{ input x; return x -> l: B{i + 1}() }}\n" for i in range(depth))
    blocks += f"block B{depth}() {{ input x; return x -> fc: Linear(4, 4) }}\n"
    text = blocks + "model M() { input x: [4]; return x -> b: B0() }\n"
    err = outcome(text, 30, snndsl.compile_source)
    if depth <= 50:
        assert err is None
    else:
        assert err is not None and err.span.line == 100 and "nested more than 100 deep" in err.message


def test_recursion_limit_is_unchanged() -> None:
    before = sys.getrecursionlimit()
    err = outcome(M.format(r="x -> Linear(4, " + "(" * D + "4" + ")" * D + ")"), 15)
    assert err is not None and "nested too deeply" in err.message
    assert sys.getrecursionlimit() == before


# ---------------------------------------------------------------------------------------
# long files and repeat bombs
# ---------------------------------------------------------------------------------------

def test_100k_comment_and_blank_lines() -> None:
    text = ("# comment\n\n;\n" * 34_000) + M.format(r="x -> fc: Linear(4, 2)") + "\n"
    assert outcome(text, 30) is None


def test_100k_line_file_with_an_error_on_the_last_line() -> None:
    text = ("# comment\n" * 100_000) + M.format(r="x -> fc: Linear(5, 2)") + "\n"
    err = outcome(text, 30)
    assert err is not None and err.span.line == 100_001


def test_a_one_megabyte_line() -> None:
    text = M.format(r="x -> nn.Identity(" + ", ".join(["1"] * 30_000) + ")")
    assert outcome(text, 30) is None
    # strings up to MAX_STRING (65,536 characters) each, one megabyte in all
    text = M.format(r="x -> nn.Identity(" + ", ".join(['"' + "a" * 62_500 + '"'] * 16) + ")")
    assert outcome(text, 30) is None
    # one string of a megabyte is over the limit: a located error at its quote
    text = M.format(r='x -> nn.Identity("' + "a" * 1_000_000 + '")')
    err = outcome(text, 30)
    assert isinstance(err, SnnLimitError) and "string literal too long" in err.message
    assert err.span.column == text.index('"') + 1


def test_many_cat_operands() -> None:
    text = M.format(r="cat(" + ", ".join(["x"] * 3_000) + ") -> Linear(_, 2)")
    assert outcome(text, 60) is None


@pytest.mark.slow
def test_node_limit_is_reached_quickly() -> None:
    err = outcome(M.format(r="x -> e: ((Identity()) * 10000) * 10000"), 60)
    assert err is not None and "nodes" in err.message


def test_100k_let_lines() -> None:
    text = "".join(f"let a{i} = {i}\n" for i in range(100_000)) + M.format(r="x -> Linear(4, a7)") + "\n"
    assert outcome(text, 30) is None


@pytest.mark.slow
def test_100k_layer_lines() -> None:  # about 50 s here
    text = "model M() {\n input x: [4]\n h = x\n" + "h = h -> ReLU()\n" * 100_000 + " return h\n}\n"
    assert outcome(text, 120) is None


@pytest.mark.slow
def test_repeat_bomb_of_an_empty_block() -> None:
    text = ("block E() { input x; return x }\n"
            "block E2() { input x; return x -> E() * 10000 }\n"
            "model M() { input x: [4]; return x -> e: E2() * 10000 }\n")
    err = outcome(text, 60)
    assert err is not None and "block instances" in err.message


@pytest.mark.slow
@pytest.mark.parametrize("inner", ["x -> ReLU()", "add(x, x)"], ids=["layer", "merge"])
def test_repeat_bomb_with_nodes_is_stopped(inner: str) -> None:
    text = (f"block E() {{ input x; return {inner} }}\n"
            "block E2() { input x; return x -> E() * 10000 }\n"
            "model M() { input x: [4]; return x -> e: E2() * 10000 }\n")
    assert outcome(text, 60) is not None


def test_cli_never_prints_a_traceback_for_resource_errors(tmp_path: Path) -> None:
    """The same as a subprocess: stderr holds the located diagnostic and no traceback."""
    cases = {
        "chain.snn": "".join(f"block B{i}() {{ input x; return x -> l: B{i + 1}() }}\n" for i in range(400))
        + "block B400() { input x; return x -> fc: Linear(4, 4) }\nmodel M() { input x: [4]; return x -> b: B0() }\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "NO_COLOR": "1"}
    for name in cases:
        done = subprocess.run([sys.executable, "-m", "snndsl", "check", str(tmp_path / name)],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert_clean(done.returncode, done.stdout, done.stderr, str(tmp_path / name), allowed=(1,))
