"""Compiler speed: `.snn` text to generated source and to a ready module, 50 to 5,000 layers.

The model is a generated chain of ``Linear -> LIF`` pairs (one statement per pair), so
that the number of layers is the only thing that grows. Goals: 50 layers in under 50 ms
to source, and time growing within 1.3x of linear from 500 to 5,000 layers. It also
times ``snndsl check`` of a 500-layer model (parse and check: the front end and every
pass) and Python's own parse and compile of the 500-layer generated module::

    python bench/compile.py [--quick]
"""

from __future__ import annotations

import ast
import statistics
import time
from collections.abc import Callable
from functools import partial

import common  # noqa: F401 - puts the repository on sys.path
from common import header, parser, setup

import snndsl
from snndsl.compiler import lower


def chain_model(layers: int, width: int = 16) -> str:
    """A model of ``layers`` layers: ``layers // 2`` pairs ``fcK: Linear -> snK: LIF``."""
    lines = [
        "defaults LIF(tau=2.0, detach_reset=true)",
        "",
        f"model Chain{layers}() {{",
        f"    input x: [{width}]",
        "    h = x",
    ]
    for k in range(layers // 2):
        lines.append(f"    h = h -> fc{k}: Linear({width}, {width}) -> sn{k}: LIF()")
    lines += ["    return h", "}", ""]
    return "\n".join(lines)


def median_time(fn: Callable[[], object], repeats: int, warmup: int, budget: float = 20.0) -> float:
    """Median over ``repeats`` runs after ``warmup``; a first run slower than ``budget / 10``
    seconds counts as the only sample (a slow compiler on 5,000 layers takes a minute,
    and warm-up effects are then noise), and sampling stops once ``budget`` is spent."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    if first > budget / 10:
        return first
    for _ in range(warmup - 1):
        fn()
    times: list[float] = [first] if warmup == 0 else []
    start = time.perf_counter()
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    device = setup(args)
    sizes = (10, 20, 40) if args.quick else (50, 500, 5000)
    header("compile", args, device)
    snndsl.emit_python(chain_model(4))  # load the grammar once, outside the timings
    src_t: dict[int, float] = {}
    mod_t: dict[int, float] = {}
    for n in sizes:
        text = chain_model(n)
        src_t[n] = median_time(partial(snndsl.emit_python, text), args.repeats, args.warmup)
        mod_t[n] = median_time(partial(snndsl.compile_source, text), args.repeats, args.warmup)
        goal = f" (goal < 50 ms: {'met' if src_t[n] < 0.05 else 'NOT met'})" if n == 50 else ""
        print(
            f"compile {n} layers: to source {src_t[n] * 1e3:.1f} ms{goal}, to module "
            f"{mod_t[n] * 1e3:.1f} ms ({src_t[n] / n * 1e6:.0f} us per layer to source)",
            flush=True,
        )
    a, b = sizes[-2], sizes[-1]
    for what, t in (("to source", src_t), ("to module", mod_t)):
        growth = t[b] / t[a]
        linear = b / a
        print(
            f"compile growth {a}->{b} layers {what}: {growth:.2f}x for {linear:.0f}x layers, "
            f"{growth / linear:.2f} of linear (goal <= 1.3)",
            flush=True,
        )
    mid = sizes[1]
    text = chain_model(mid)
    check = median_time(lambda: lower(text), args.repeats, args.warmup)
    source = snndsl.emit_python(text)
    pyparse = median_time(
        lambda: compile(ast.parse(source), "<generated>", "exec"), args.repeats, args.warmup
    )
    print(
        f"compile check {mid} layers: parse and check {check * 1e3:.1f} ms, Python parse+compile of "
        f"the generated module ({len(source.splitlines())} lines) {pyparse * 1e3:.1f} ms "
        f"(goal well under 1 s)",
        flush=True,
    )


if __name__ == "__main__":
    main()
