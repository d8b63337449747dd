"""Fuzzing, fast CI version: grammar-generated programs and mutated examples.

The whole front end and middle run on each program (parse, build, passes, codegen via
``emit_python``); the generated source is audited; a subset is compiled to a module and
run forward on tiny input. The only outcomes allowed are success and a located
``SnnError`` (see ``fuzzlib.check_program``). The long run (>= 100,000 cases) is
``bench/fuzz_long.py``.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings

from .fuzzlib import SEEDS, check_program, mutants, programs

#: what ``check_program`` may answer (it raises ``Crash`` for everything else)
OUTCOME = re.compile(r"ok|ran|error:\w+|known:[a-z0-9-]+")


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
