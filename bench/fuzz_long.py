"""The long fuzz run: grammar-generated programs and mutated examples through the compiler.

    python bench/fuzz_long.py                 # 100,000 cases (about 20 minutes on one core)
    python bench/fuzz_long.py -n 5000 --run-every 10 --report fuzz-report.txt

Each case goes through parse, build, every pass and codegen (``snndsl.emit_python``);
the generated source is audited (imports, names, one class) and regenerated to check
determinism; every ``--run-every``-th case that compiles and is small is also compiled
to a module and run forward once in each step mode. The only acceptable outcomes are
success and a located ``SnnError``; anything else is a crash. Crashes that match bugs
already reported (``tests/robustness/fuzzlib.py``, ``KNOWN``) are tallied as
``known:<id>``. The run never stops at a crash: it prints the count, the tally of
outcomes and one example program per distinct crash signature, and exits 1 if there
was any unknown crash.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="number of cases (default 100000)")
    parser.add_argument("--mutant-share", type=float, default=0.5,
                        help="share of cases that mutate the examples (default 0.5)")
    parser.add_argument("--run-every", type=int, default=25,
                        help="compile and run forward every Nth program that compiles (default 25)")
    parser.add_argument("--chaos", type=float, default=0.02, help="probability of odd choices in generated programs")
    parser.add_argument("--report", help="also write the report to this file")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    args = parser.parse_args(argv)

    import torch
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from tests.robustness.fuzzlib import Crash, check_program, mutants, programs

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    tally: collections.Counter[str] = collections.Counter()
    per_source: dict[str, collections.Counter[str]] = {"grammar": collections.Counter(),
                                                       "mutant": collections.Counter()}
    crashes: dict[str, Crash] = {}
    crash_counts: collections.Counter[str] = collections.Counter()
    compiled = 0
    start = time.time()
    last = [start]

    n_mutants = int(args.cases * args.mutant_share)
    plan = [("mutant", n_mutants), ("grammar", args.cases - n_mutants)]

    def make_case(source: str, count: int):
        strategy = mutants() if source == "mutant" else programs(chaos=args.chaos)

        @seed(args.seed)
        @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def case(program) -> None:
            nonlocal compiled
            run = args.run_every > 0 and compiled % args.run_every == args.run_every - 1
            try:
                outcome = check_program(program, run=run)
            except Crash as c:
                outcome = "crash"
                crash_counts[c.signature] += 1
                crashes.setdefault(c.signature, c)
            if outcome in ("ok", "ran"):
                compiled += 1
            tally[outcome] += 1
            per_source[source][outcome] += 1
            if time.time() - last[0] > 30:
                last[0] = time.time()
                print(f"  {sum(tally.values()):,} cases, {time.time() - start:,.0f} s, "
                      f"crashes {sum(crash_counts.values())}", file=sys.stderr, flush=True)

        return case

    for source, count in plan:
        if count > 0:
            make_case(source, count)()

    total = sum(tally.values())
    lines = [f"fuzz_long: {total:,} cases in {time.time() - start:,.0f} s "
             f"(seed {args.seed}, run every {args.run_every}th compiling program, pid {os.getpid()})",
             "outcome tally:"]
    lines += [f"  {k:32s} {v:8,}" for k, v in tally.most_common()]
    for source, counter in per_source.items():
        lines.append(f"{source}: " + ", ".join(f"{k} {v:,}" for k, v in counter.most_common()))
    lines.append(f"distinct unknown crashes: {len(crashes)}")
    for sig, c in crashes.items():
        lines += [f"--- {sig}  (x{crash_counts[sig]})", f"program: {c.text!r}"[:2000],
                  c.detail.strip().splitlines()[-1][:500] if c.detail.strip() else ""]
    report = "\n".join(lines)
    print(report)
    if args.report:
        Path(args.report).write_text(report + "\n", encoding="utf-8")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
