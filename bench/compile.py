"""Compiler speed: `.snn` text to generated source and to a ready module, 50 to 5,000 layers.

The model is a generated chain of ``Linear -> LIF`` pairs (one statement per pair), so
that the number of layers is the only thing that grows. Goals: 50 layers in under 50 ms
to source, and time growing within 1.3x of linear from 500 to 5,000 layers. It also
times ``snndsl check`` of a 500-layer model (parse and check: the front end and every
pass) and Python's own parse and compile of the 500-layer generated module::

    python bench/compile.py [--quick]

``--parse`` times the parser alone instead: text to AST (``snndsl.frontend.parse``) for
500 and 5,000 layers, and the check (``lower``: parse and every pass) for both. With
``--against REV`` it also times the parser of git revision ``REV`` side by side, in the
same process and interleaved (its ``snndsl/frontend`` loaded as a separate package; the
check then runs today's passes after that parser)::

    python bench/compile.py --parse --against d776f2a --threads 1
"""

from __future__ import annotations

import argparse
import ast
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest import mock

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import ROOT, header, ms, parser, setup, time_interleaved

import snndsl
import snndsl.compiler
from snndsl.compiler import lower
from snndsl.frontend.parse import parse


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


def parser_at(rev: str) -> Callable[[str, str], object]:
    """``parse`` as it was at git revision ``rev``, loaded next to today's.

    ``snndsl/frontend/*.py`` of ``rev`` become the package ``snndsl_at_rev.frontend`` in a
    temporary directory; its ``ast`` and ``diagnostics`` are today's (re-exported), so the
    two parsers' ASTs compare equal and they raise the same error classes."""

    def git(*cmd: str) -> str:
        return subprocess.run(
            ["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout

    pkg = Path(tempfile.mkdtemp(prefix="snndsl-at-rev-")) / "snndsl_at_rev"
    (pkg / "frontend").mkdir(parents=True)
    reexport = (
        "import {} as _m\nglobals().update((k, v) for k, v in vars(_m).items() if k[:2] != '__')\n"
    )
    (pkg / "__init__.py").write_text("")
    (pkg / "diagnostics.py").write_text(reexport.format("snndsl.diagnostics"))
    (pkg / "frontend" / "__init__.py").write_text("")
    (pkg / "frontend" / "ast.py").write_text(reexport.format("snndsl.frontend.ast"))
    for path in git("ls-tree", "--name-only", rev, "snndsl/frontend/").split():
        name = Path(path).name
        if name.endswith(".py") and name not in ("__init__.py", "ast.py"):
            (pkg / "frontend" / name).write_text(git("show", f"{rev}:{path}"))
    sys.path.insert(0, str(pkg.parent))
    from snndsl_at_rev.frontend.parse import parse as at_rev  # type: ignore[import-not-found]

    return at_rev  # type: ignore[no-any-return]


def _no_gc(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` with the cyclic GC off, as ``lower`` runs the parser."""

    def run() -> object:
        gc.disable()
        try:
            return fn()
        finally:
            gc.enable()

    return run


def _line(label: str, t: dict[str, float], against: str | None) -> None:
    line = ", ".join(f"{name} {ms(v)}" for name, v in t.items())
    if against:
        line += f"; {against} is {t['parse'] / t[against]:.2f}x as fast"
    print(f"{label}: {line}", flush=True)


def parse_only(args: argparse.Namespace, device: torch.device) -> None:
    """The parser alone: text to AST, and the check, for 500 and 5,000 layers."""
    parsers: dict[str, Callable[[str, str], object]] = {"parse": parse}
    if args.against:
        parsers[args.against] = parser_at(args.against)
    for p in parsers.values():
        p(chain_model(4), "warm.snn")  # build the grammar once, outside the timings
    for n in (10, 20) if args.quick else (500, 5000):
        text = chain_model(n)
        asts = [p(text, "chain.snn").items for p in parsers.values()]  # type: ignore[attr-defined]
        assert all(a == asts[0] for a in asts), "the parsers build different ASTs"
        cases = {name: _no_gc(partial(p, text, "chain.snn")) for name, p in parsers.items()}
        _line(
            f"parse {n} layers to AST",
            time_interleaved(cases, args.repeats, args.warmup, device),
            args.against,
        )

        def check(p: Callable[[str, str], object], text: str = text) -> object:
            with mock.patch.object(snndsl.compiler, "parse", p):
                return lower(text)

        checks = {name: partial(check, p) for name, p in parsers.items()}
        _line(
            f"check {n} layers (parse and every pass)",
            time_interleaved(checks, args.repeats, args.warmup, device),
            args.against,
        )


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--parse", action="store_true", help="time the parser alone (see above)")
    p.add_argument("--against", metavar="REV", help="with --parse: also the parser at git REV")
    args = p.parse_args(argv)
    device = setup(args)
    if args.parse:
        header("compile --parse", args, device)
        parse_only(args, device)
        return
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
