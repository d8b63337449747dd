"""Fuzzing, fast CI version: grammar-generated programs and mutated examples, and the
shapes of input of issue #17: wide merges, deep nesting, long literals, crafted NIR
files and API values of odd types.

The whole front end and middle run on each program (parse, build, passes, codegen via
``emit_python``); the generated source is audited; a subset is compiled to a module and
run forward on tiny input. The only outcomes allowed are success and a located
``SnnError`` (see ``fuzzlib.check_program``); for NIR files, a located error or a usage
error and nothing written (``fuzzlib.check_nir``); for API values, an ``SnnError``, a
``UsageError`` or a ``TypeError`` with a message, and no method of a value ever called
(``fuzzlib.check_api``). The long run (>= 100,000 cases) is ``bench/fuzz_long.py``.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from hypothesis import HealthCheck, given, settings

from .fuzzlib import (
    SEEDS,
    ApiCase,
    NirCase,
    api_cases,
    check_api,
    check_nir,
    check_program,
    deep_groups,
    long_literals,
    mutants,
    nir_cases,
    programs,
    wide_merges,
)

#: what ``check_program`` may answer (it raises ``Crash`` for everything else)
OUTCOME = re.compile(r"ok|ran|error:\w+|known:[a-z0-9-]+")
#: what ``check_nir`` and ``check_api`` may answer (``skip``: the case could not be made)
CASE_OUTCOME = re.compile(r"ok|ran|error:\w+|skip")
HAVE_NIR = all(importlib.util.find_spec(m) is not None for m in ("nir", "h5py"))


def checked(program: str | bytes, run: bool) -> str:
    """``check_program``'s outcome, which must be one of the documented ones."""
    outcome = check_program(program, run=run)
    assert OUTCOME.fullmatch(outcome), outcome
    assert run or outcome != "ran", "a program ran although run=False"
    return outcome


def fast(n: int) -> settings:
    """CI settings: ``n`` examples, no deadline (the first example builds the parser), no database."""
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_seeds_compile_and_run(index: int) -> None:
    """The unmutated seeds are valid programs: the oracle compiles them (and runs the small ones)."""
    assert check_program(SEEDS[index], run=True) in ("ok", "ran")


@fast(250)
@given(programs())
def test_grammar_programs_through_codegen(program: str) -> None:
    checked(program, run=False)


@fast(50)
@given(programs())
def test_grammar_programs_compile_and_run(program: str) -> None:
    checked(program, run=True)


@fast(40)
@given(programs(chaos=0.3))
def test_chaotic_programs(program: str) -> None:
    checked(program, run=True)


@fast(400)
@given(mutants())
def test_mutated_examples_through_codegen(program: bytes) -> None:
    checked(program, run=False)


@fast(30)
@given(mutants())
def test_mutated_examples_compile_and_run(program: bytes) -> None:
    checked(program, run=True)


# -- the shapes of input of issue #17 (about 10 s together) ----------------------------------

@fast(20)
@given(wide_merges(max_width=600))
def test_wide_merges_compile_and_run(program: str) -> None:
    checked(program, run=True)


@fast(40)
@given(deep_groups())
def test_deep_nesting_compiles_and_runs(program: str) -> None:
    checked(program, run=True)


@fast(60)
@given(long_literals(max_len=50_000))
def test_long_literals_compile_and_run(program: str) -> None:
    checked(program, run=True)


@pytest.mark.skipif(not HAVE_NIR, reason="needs the nir extra (nir, h5py)")
@fast(80)
@given(nir_cases(max_depth=700, max_nodes=200))
def test_crafted_nir_files_import_cleanly(case: NirCase) -> None:
    assert CASE_OUTCOME.fullmatch(check_nir(case, run=True))


@fast(150)
@given(api_cases())
def test_api_values_of_odd_types_are_data(case: ApiCase) -> None:
    assert CASE_OUTCOME.fullmatch(check_api(case, run=True))


#: found by ``api_cases(wide=True)`` (odd keys and keyword arguments), fixed by
#: :mod:`snndsl.options`; kept as regression rows.
API_FINDINGS = [
    ("params-key-int", ApiCase("emit", "typed", "dict", (("int", "n", "3"),), ())),
    ("params-key-none", ApiCase("emit", "typed", "dict", (("None", "n", "3"),), ())),
    ("disable-required-pass", ApiCase("emit", "typed", "dict", (), (("disable", "['fuse-stateless']"),))),
    ("disable-unknown-pass", ApiCase("emit", "typed", "dict", (), (("disable", "['nope']"),))),
    ("disable-a-string", ApiCase("emit", "typed", "dict", (), (("disable", "'fuse-stateless'"),))),
    ("optimize-repr-runs", ApiCase("emit", "typed", "dict", (), (("optimize", "EvilStr"),))),
    ("step-mode-repr-runs", ApiCase("compile", "typed", "dict", (), (("step_mode", "EvilStr"),))),
    ("key-format-runs", ApiCase("emit", "typed", "dict", (("EqKey", "s", "3"),), ())),
]


@pytest.mark.parametrize("case", [c for _, c in API_FINDINGS], ids=[i for i, _ in API_FINDINGS])
def test_api_findings(case: ApiCase) -> None:
    assert CASE_OUTCOME.fullmatch(check_api(case, run=False))
