"""Shared helpers of the robustness tests (also used by ``bench/fuzz_long.py``).

* :func:`run_cli` runs ``snndsl`` in-process and returns ``(status, stdout, stderr)``;
  an exception that escapes ``cli.main`` is a bug and propagates to the test.
* :func:`assert_clean` checks the CLI contract: status 0, or status 1 with a located
  diagnostic ``FILE:LINE:COL: error: ...`` on stderr, and never a traceback.
* :func:`unsafe_constructs` audits generated Python source: it may import only
  ``torch`` and ``snndsl.runtime``, define one class, and call nothing that reaches
  the interpreter (``eval``, ``exec``, ``__import__``, ``open``, ...).
* :func:`tiny_forward` runs a compiled model once in each step mode on tiny input.
* :func:`deadline` turns a hang into a test failure (``SIGALRM``, main thread only).
"""

from __future__ import annotations

import ast
import contextlib
import io
import math
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from snndsl import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.snn"))

#: ``FILE:LINE:COL: error: message`` as the first line of a diagnostic
LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?:error|warning): \S")

#: modules that generated code may import (besides what ``use`` declares, when allowed)
ALLOWED_IMPORTS = {"torch", "snndsl.runtime", "snndsl.runtime.model"}
#: builtins and names that generated code must never call or mention
FORBIDDEN_NAMES = {
    "eval", "exec", "compile", "__import__", "open", "input", "breakpoint", "getattr",
    "setattr", "delattr", "globals", "locals", "vars", "os", "sys", "subprocess",
    "importlib", "builtins", "__builtins__", "exit", "quit", "memoryview",
}


def run_cli(argv: Sequence[str]) -> tuple[int, str, str]:
    """Run ``snndsl ARGV`` in this process; returns ``(status, stdout, stderr)``.

    stdout and stderr are swapped for in-memory streams (not a tty, so no colour).
    ``SystemExit`` (argparse's ``--help`` and usage errors) becomes the status.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(argv))
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return int(status), out.getvalue(), err.getvalue()


def assert_clean(status: int, out: str, err: str, file: str | None = None,
                 allowed: Sequence[int] = (0, 1)) -> None:
    """The CLI ended cleanly: an allowed status; on 1, a located diagnostic for ``file``."""
    assert "Traceback" not in err and "Traceback" not in out, err
    assert status in allowed, f"status {status}; stderr:\n{err}"
    if status == 1:
        first = err.lstrip("\n").split("\n")[0] if err.strip() else ""
        m = LOCATED.match(first)
        assert m, f"status 1 without a located diagnostic; stderr:\n{err}"
        if file is not None:
            assert m["file"] == file, f"diagnostic names {m['file']!r}, not {file!r}:\n{err}"
        assert int(m["line"]) >= 1 and int(m["col"]) >= 1, err
        assert out == "" or "error" not in out, "the diagnostic went to stdout"


def unsafe_constructs(source: str, allowed_imports: set[str] | None = None) -> list[str]:
    """What in generated ``source`` could not have come from a faithful code generator.

    Returns a list of findings (empty when the source is clean): imports of modules
    other than torch and snndsl.runtime, more than one top-level class, top-level code,
    forbidden names, dunder attributes other than ``__init__``. Classes of neurons defined
    in the language (``program.ProgramNode`` subclasses) may precede the model's.
    """
    allowed = ALLOWED_IMPORTS | set(allowed_imports or ())
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return [f"generated source does not parse: {e}"]
    found: list[str] = []
    classes = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            found += [f"import {a.name}" for a in stmt.names if a.name not in allowed]
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.module not in allowed or stmt.level:
                found.append(f"from {stmt.module} import ...")
        elif isinstance(stmt, ast.ClassDef):
            neuron = [ast.unparse(b) for b in stmt.bases] == ["program.ProgramNode"]
            classes += not neuron  # the neurons defined in the language precede the model class
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring
        else:
            found.append(f"top-level statement {type(stmt).__name__} at line {stmt.lineno}")
    if classes != 1:
        found.append(f"{classes} classes instead of one")
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    stored |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES and node.id not in stored:
            found.append(f"name {node.id} at line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr != "__init__":
            found.append(f"attribute .{node.attr} at line {node.lineno}")
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.Lambda,
                               ast.Delete, ast.Try, ast.With, ast.While, ast.AsyncFunctionDef)):
            if node not in tree.body:
                found.append(f"{type(node).__name__} inside the class at line {node.lineno}")
    return found


def input_shapes(net: torch.nn.Module, T: int = 2, N: int = 1, step: str = "m") -> list[tuple[int, ...]]:
    shapes = []
    for n in net.snn_ir.input_nodes():  # type: ignore[attr-defined]
        lead = (N,) if (n.op.static or step == "s") else (T, N)
        shapes.append((*lead, *n.op.shape))
    return shapes


def tiny_forward(net: torch.nn.Module, T: int = 2, N: int = 2) -> None:
    """One multi-step call and two single-step calls on random input; outputs are finite-shaped."""
    from snndsl.runtime import functional

    with torch.no_grad():
        xs = [torch.rand(s) for s in input_shapes(net, T, N, "m")]
        out = net(*xs, T=T)
        for o in out if isinstance(out, tuple) else (out,):
            assert o.shape[:2] == (T, N), o.shape
        functional.set_step_mode(net, "s")
        functional.reset_net(net)
        xs = [torch.rand(s) for s in input_shapes(net, T, N, "s")]
        for _ in range(2):
            out = net(*xs)
        for o in out if isinstance(out, tuple) else (out,):
            assert o.shape[0] == N, o.shape
        functional.detach_net(net)
        functional.set_step_mode(net, "m")


def elements(net: torch.nn.Module) -> int:
    """The largest per-sample size of any value of the model's IR."""
    return max((math.prod(n.shape) for n in net.snn_ir.nodes() if n.shape is not None), default=0)  # type: ignore[attr-defined]


class Timeout(Exception):
    """Raised by :func:`deadline` when the block runs too long."""


@contextlib.contextmanager
def deadline(seconds: float, what: str = "the compiler") -> Iterator[None]:
    """Fail with :class:`Timeout` if the block runs longer than ``seconds`` (POSIX, main thread)."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows
        yield
        return

    def expire(signum, frame):  # noqa: ARG001
        raise Timeout(f"{what} ran longer than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Timeout as e:
        # a fresh exception: the interrupted frames can carry tb_lineno None (Python 3.11),
        # which breaks pytest's traceback rendering
        raise Timeout(str(e)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_generated(path: Path, module_name: str) -> type[torch.nn.Module]:
    """Import a generated ``.py`` file as a module and return its one class."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    names = [s.name for s in ast.parse(path.read_text(encoding="utf-8")).body if isinstance(s, ast.ClassDef)]
    assert len(names) == 1, names
    return getattr(module, names[0])
