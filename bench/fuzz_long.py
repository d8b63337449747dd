"""The long fuzz run: generated and mutated programs, crafted NIR files and API values.

    python bench/fuzz_long.py                 # 100,000 cases (about 30 minutes on one core)
    python bench/fuzz_long.py -n 5000 --run-every 10 --report fuzz-report.txt
    python bench/fuzz_long.py -n 2000 --mix nir=1,api-wide=1 --mutant-share 0   # only these

The cases come from eight generators (``tests/robustness/fuzzlib.py``):

    mutant     the examples and seed programs with bytes and tokens flipped, cut, swapped
    grammar    programs from the grammar, with a little chaos (--chaos)
    wide       add/cat of 2 to 3,000 operands
    deep       groups, repeats, blocks, expressions and tuples nested up to past the limit
    literal    long strings, numbers, names, comments and blank runs (up to 1 MB)
    nir        crafted NIR files (import_nir, `snndsl import`) and in-memory NIR graphs
    api        `params` values of odd types through emit_python / compile_source
    api-wide   the same with odd keys and odd values of the other keyword arguments

``--mutant-share`` is the share of mutants (default 0.4); the rest is split by the
weights of ``--mix`` (default grammar=40,wide=3,deep=4,literal=4,nir=5,api=2,api-wide=2;
a weight of 0 leaves a generator out, names not given keep their default).

Each program goes through parse, build, every pass and codegen (``snndsl.emit_python``);
the generated source is audited (imports, names, one class) and regenerated to check
determinism; every ``--run-every``-th case that compiles and is small is also compiled
to a module and run forward once in each step mode. The only acceptable outcomes are
success and a located ``SnnError``; for NIR files, a located error (exit 1) or a usage
error (exit 2) with nothing written, and an imported model that compiles with its
weights; for API values, an ``SnnError``, a ``UsageError`` or a ``TypeError`` with a
message, and no method of a value called. Anything else is a crash. Crashes that match
bugs already reported (``fuzzlib.KNOWN``) are tallied as ``known:<id>``. The run never
stops at a crash: it prints the tally of outcomes, per generator the cases, time,
outcomes and slowest case, and one example per distinct crash signature, and exits 1
if there was any unknown crash.

The CI version of this run is ``tests/robustness/test_fuzz.py``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: generator -> default weight among the cases that are not mutants
WEIGHTS = {"grammar": 40.0, "wide": 3.0, "deep": 4.0, "literal": 4.0, "nir": 5.0, "api": 2.0, "api-wide": 2.0}
SOURCES = ("mutant", *WEIGHTS)


def parse_mix(text: str | None) -> dict[str, float]:
    weights = dict(WEIGHTS)
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in WEIGHTS:
            raise argparse.ArgumentTypeError(f"--mix takes NAME=WEIGHT,... with NAME one of {', '.join(WEIGHTS)}; "
                                             f"got {item!r}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--mix: {value!r} is not a number") from None
        if not weights[name] >= 0:
            raise argparse.ArgumentTypeError(f"--mix: the weight of {name} must be >= 0")
    return weights


def plan_counts(cases: int, mutant_share: float, weights: dict[str, float]) -> dict[str, int]:
    """Cases per generator: ``mutant_share`` of them mutants, the rest split by ``weights``."""
    counts = {"mutant": int(cases * mutant_share)}
    rest = cases - counts["mutant"]
    total = sum(weights.values())
    if total <= 0:
        counts["mutant"] += rest
        return counts
    for name, w in weights.items():
        counts[name] = int(rest * w / total)
    leftover = rest - sum(counts[n] for n in weights)
    largest = max(weights, key=lambda n: weights[n])
    counts[largest] += leftover
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="number of cases (default 100000)")
    parser.add_argument("--mutant-share", type=float, default=0.4,
                        help="share of cases that mutate the examples (default 0.4)")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(None),
                        help="weights of the other generators, NAME=WEIGHT,... (see above)")
    parser.add_argument("--run-every", type=int, default=25,
                        help="compile and run forward every Nth case that compiles (default 25)")
    parser.add_argument("--chaos", type=float, default=0.02, help="probability of odd choices in generated programs")
    parser.add_argument("--report", help="also write the report to this file")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    args = parser.parse_args(argv)
    if not 0 <= args.mutant_share <= 1:
        parser.error("--mutant-share must be between 0 and 1")

    import torch
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from tests.robustness import fuzzlib
    from tests.robustness.fuzzlib import Crash, check_api, check_nir, check_program

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    strategies = {
        "mutant": (fuzzlib.mutants, check_program),
        "grammar": (lambda: fuzzlib.programs(chaos=args.chaos), check_program),
        "wide": (lambda: fuzzlib.wide_merges(max_width=3000), check_program),
        "deep": (lambda: fuzzlib.deep_groups(max_depth=150), check_program),
        "literal": (lambda: fuzzlib.long_literals(max_len=1_000_000), check_program),
        "nir": (lambda: fuzzlib.nir_cases(max_depth=700, max_nodes=300), check_nir),
        "api": (lambda: fuzzlib.api_cases(), check_api),
        "api-wide": (lambda: fuzzlib.api_cases(wide=True), check_api),
    }
    tally: collections.Counter[str] = collections.Counter()
    per_source: dict[str, collections.Counter[str]] = {s: collections.Counter() for s in SOURCES}
    seconds: collections.Counter[str] = collections.Counter()
    slowest: dict[str, tuple[float, str]] = {}
    crashes: dict[str, tuple[str, Crash]] = {}
    crash_counts: collections.Counter[str] = collections.Counter()
    compiled = 0
    start = time.time()
    last = [start]

    counts = plan_counts(args.cases, args.mutant_share, args.mix)

    def make_case(source: str, count: int):
        make, check = strategies[source]

        @seed(args.seed)
        @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(make())
        def case(program) -> None:
            nonlocal compiled
            run = args.run_every > 0 and compiled % args.run_every == args.run_every - 1
            t0 = time.perf_counter()
            try:
                outcome = check(program, run=run)
            except Crash as c:
                outcome = "crash"
                crash_counts[c.signature] += 1
                crashes.setdefault(c.signature, (source, c))
            took = time.perf_counter() - t0
            seconds[source] += took
            if took > slowest.get(source, (-1.0, ""))[0]:
                slowest[source] = (took, program if isinstance(program, str) else repr(program))
            if outcome in ("ok", "ran"):
                compiled += 1
            tally[outcome] += 1
            per_source[source][outcome] += 1
            if time.time() - last[0] > 30:
                last[0] = time.time()
                print(f"  {sum(tally.values()):,} cases, {time.time() - start:,.0f} s, "
                      f"crashes {sum(crash_counts.values())} ({source})", file=sys.stderr, flush=True)

        return case

    for source in SOURCES:
        if counts.get(source, 0) > 0:
            make_case(source, counts[source])()

    total = sum(tally.values())
    lines = [f"fuzz_long: {total:,} cases in {time.time() - start:,.0f} s "
             f"(seed {args.seed}, run every {args.run_every}th compiling case, pid {os.getpid()})",
             "outcome tally:"]
    lines += [f"  {k:32s} {v:8,}" for k, v in tally.most_common()]
    lines.append("per generator (cases, seconds, outcomes):")
    for source in SOURCES:
        counter = per_source[source]
        n = sum(counter.values())
        if not n:
            continue
        lines.append(f"  {source:9s} {n:7,} cases {seconds[source]:8,.1f} s  "
                     + ", ".join(f"{k} {v:,}" for k, v in counter.most_common()))
        took, text = slowest[source]
        lines.append(f"  {'':9s} slowest {took:.2f} s: {text[:160]!r}")
    lines.append(f"distinct unknown crashes: {len(crashes)}")
    for sig, (source, c) in crashes.items():
        lines += [f"--- {sig}  (x{crash_counts[sig]}, {source})", f"case: {c.text!r}"[:2000],
                  c.detail.strip().splitlines()[-1][:500] if c.detail.strip() else ""]
    report = "\n".join(lines)
    print(report)
    if args.report:
        Path(args.report).write_text(report + "\n", encoding="utf-8")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
