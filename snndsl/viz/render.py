"""Run Graphviz on DOT text: a ``dot`` on the PATH, else the pip-installed ``graphviz-pure``.

``graphviz-pure`` (a dependency of snndsl) is a self-contained port of ``dot``, so a
plain ``pip install`` draws pictures. Programs run without a shell, with the DOT text
on stdin and a timeout; if none of them draws, the error says what was tried and that
``--format dot`` needs no renderer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Literal, overload

from ..diagnostics import UsageError
from ..fileio import write_atomic
from ..ir.graph import IR
from .dot import to_dot

PICTURE_FORMATS = ("svg", "png")
TIMEOUT_S = 120.0
_MAGIC = {"svg": (b"<?xml", b"<svg"), "png": (b"\x89PNG\r\n\x1a\n",)}


def renderers() -> list[str]:
    """Programs that can draw DOT, in the order they are tried."""
    found = []
    dot = shutil.which("dot")
    if dot:
        found.append(dot)
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    local = [str(d / exe) for d in dirs if (d / exe).is_file() and os.access(d / exe, os.X_OK)]
    pure = local[0] if local else shutil.which("graphviz-pure")
    if pure:
        found.append(pure)
    return found


def run_graphviz(dot_text: str, fmt: str, timeout: float = TIMEOUT_S) -> bytes:
    """The picture of ``dot_text`` in ``fmt`` (``svg`` or ``png``), from the first renderer that works."""
    if fmt not in PICTURE_FORMATS:
        raise UsageError(f"cannot draw format {fmt!r}: choose one of {', '.join(PICTURE_FORMATS)} (or dot)")
    programs = renderers()
    if not programs:
        raise UsageError("cannot draw pictures: neither Graphviz `dot` nor `graphviz-pure` was found; "
                         "run `pip install graphviz-pure` (or install Graphviz), or use --format dot")
    failures = []
    for program in programs:
        try:
            done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            failures.append(f"{program} took longer than {timeout:g} s")
            continue
        except OSError as e:
            failures.append(f"{program} could not be run: {e.strerror or e}")
            continue
        if done.returncode == 0 and done.stdout.startswith(_MAGIC[fmt]):
            return done.stdout
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        failures.append(f"{program} exited with status {done.returncode}" + (f": {err[-1]}" if err else ""))
    raise UsageError("cannot draw pictures: " + "; ".join(failures) + " (--format dot writes the DOT text only)")


@overload
def render(ir: object, path: str | os.PathLike | None = None, fmt: Literal["svg", "dot"] = "svg", *,
           collapse: bool = False, title: str | None = None) -> str: ...
@overload
def render(ir: object, path: str | os.PathLike | None = None, fmt: Literal["png"] = "png", *,
           collapse: bool = False, title: str | None = None) -> bytes: ...


def render(ir: object, path: str | os.PathLike | None = None, fmt: str = "svg", *, collapse: bool = False,
           title: str | None = None) -> str | bytes:
    """Draw an IR (or a compiled model, through its ``snn_ir``) as ``svg``, ``png`` or ``dot``.

    Returns the picture (text for svg and dot, bytes for png) and writes it to ``path``
    (atomically) when one is given::

        net = snndsl.compile_file("examples/csnn.snn")
        snndsl.viz.render(net, "csnn.svg")
    """
    graph = getattr(ir, "snn_ir", ir)
    if not isinstance(graph, IR):
        raise UsageError(f"render() takes an IR or a compiled model, not {type(ir).__name__}")
    dot_text = to_dot(graph, title=title, collapse=collapse)
    out: str | bytes = dot_text if fmt == "dot" else run_graphviz(dot_text, fmt)
    if fmt == "svg":
        out = out.decode("utf-8") if isinstance(out, bytes) else out
    if path is not None:
        write_atomic(path, out)
    return out
