"""The compiler's entry points: text → AST → IR → passes → Python source → module.

Each stage has one home; this module only strings them together and attaches the
source text to user-facing errors so that they render with the offending line.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import linecache
import os
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import torch

from .codegen.emit import GeneratedModule, emit_module
from .diagnostics import SnnError, SnnLimitError, UsageError, printable
from .frontend.elaborate import elaborate
from .frontend.parse import parse
from .ir.graph import IR
from .limits import available_memory, check_memory  # noqa: F401 - available_memory re-exported
from .options import (
    bool_option,
    choice_option,
    filename_option,
    name_option,
    names_option,
    params_option,
    plain_str,
)
from .passes.manager import OPTIMIZE, run_pipeline

if TYPE_CHECKING:
    from .runtime.model import CompiledModule


def _read(path: str | os.PathLike) -> str:
    """The text of a ``.snn`` file. At most ``4 * MAX_SOURCE`` bytes are read (UTF-8 takes
    up to 4 per character), so ``/dev/zero`` or a huge file is refused, not read whole."""
    from .frontend.grammar import MAX_SOURCE

    limit = 4 * MAX_SOURCE
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise UsageError(f"cannot read {printable(os.fspath(path))}: {e.strerror or e}") from None
    if len(data) > limit:
        raise UsageError(f"{printable(os.fspath(path))} is larger than {limit // 2**20:,} MiB: "
                         f"not a .snn file (the limit is {MAX_SOURCE:,} characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        from .diagnostics import SnnSyntaxError, SourceSpan

        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SnnSyntaxError("the file is not valid UTF-8", SourceSpan.point(os.fspath(path), line, col),
                             "save the file as UTF-8") from None


def lower(
    text: str,
    filename: str = "<string>",
    model: str | None = None,
    params: Mapping[str, object] | None = None,
    allow_imports: Iterable[str] = (),
    disable: Iterable[str] = (),
    stop_after: str | None = None,
    on_after: Callable[[str, IR], None] | None = None,
    optimize: str | None = None,
) -> IR:
    """Parse ``text`` and run the pass pipeline; returns the final IR.

    ``optimize="inference"`` (CLI ``-O inference``) adds the opt-in passes for eval-mode
    inference (fold-batchnorm)."""
    if not isinstance(text, str):
        raise TypeError(f"the source text must be a string, not {type(text).__name__}")
    text = plain_str(text, "the source text")
    filename = filename_option(filename)
    model = name_option(model, "model")
    params = params_option(params)
    allow_imports = names_option(allow_imports, "allow_imports")
    disable = names_option(disable, "disable")
    enable = optimize_passes(optimize)
    try:
        with _no_cyclic_gc():
            tree = parse(text, filename)
            ir = elaborate(tree, model, params, tuple(allow_imports))
            return run_pipeline(ir, tuple(disable), enable, stop_after=stop_after, on_after=on_after)
    except SnnError as e:
        raise e.with_source(text) from None
    except RecursionError:
        from .diagnostics import SourceSpan

        raise SnnLimitError("the program is nested too deeply", SourceSpan.point(filename, 1, 1),
                            "flatten deeply nested expressions or groups").with_source(text) from None


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while compiling.

    The compiler allocates many long-lived objects (AST, IR records, networkx dicts) and
    frees almost none; every automatic collection rescans all of them, which made 5,000
    layers take up to 1.7x as long as with the collector paused (bench/compile.py). Cycles
    made meanwhile are collected at the next collection after compilation."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def optimize_passes(optimize: str | None) -> tuple[str, ...]:
    """The opt-in passes of an ``-O`` level (``None``: none)."""
    if optimize is None:
        return ()
    return OPTIMIZE[choice_option(optimize, "optimize (the optimisation level)", sorted(OPTIMIZE))]


def trace_passes(text: str, filename: str = "<string>", model: str | None = None,
                 params: Mapping[str, object] | None = None, allow_imports: Iterable[str] = (),
                 disable: Iterable[str] = (), optimize: str | None = None) -> list[tuple[str, IR]]:
    """``[(pass_name, IR)]`` after every pass, in order."""
    out: list[tuple[str, IR]] = []
    lower(text, filename, model, params, allow_imports, disable, on_after=lambda n, ir: out.append((n, ir)),
          optimize=optimize)
    return out


def generate(text: str, filename: str = "<string>", model: str | None = None,
             params: Mapping[str, object] | None = None, allow_imports: Iterable[str] = (),
             disable: Iterable[str] = (), optimize: str | None = None) -> tuple[IR, GeneratedModule]:
    ir = lower(text, filename, model, params, allow_imports, disable, optimize=optimize)
    with _no_cyclic_gc():
        return ir, emit_module(ir)


def emit_python(text: str, filename: str = "<string>", model: str | None = None,
                params: Mapping[str, object] | None = None, allow_imports: Iterable[str] = (),
                disable: Iterable[str] = (), optimize: str | None = None) -> str:
    """The generated Python source of the model."""
    return generate(text, filename, model, params, allow_imports, disable, optimize)[1].source


def load_class(gen: GeneratedModule) -> type[CompiledModule]:
    """Execute generated source (ours, never the user's text) as a module; return the class
    (:func:`load_generated`)."""
    cls: type[CompiledModule] = load_generated(gen.source, gen.class_name)
    return cls


def load_generated(source: str, class_name: str) -> Any:
    """Execute ``source``, printed by the code generator (never a user's text), as a
    module; return its ``class_name``.

    The module is registered in ``sys.modules`` under a name derived from the source
    hash, so instances pickle within the process, ``torch.compile`` finds the functions'
    module, and tracebacks show the generated lines.
    """
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    name = f"snndsl_generated.{class_name}_{digest}"
    mod = sys.modules.get(name)
    if mod is None:
        fname = f"<snndsl {class_name} {digest}>"
        linecache.cache[fname] = (len(source), None, source.splitlines(True), fname)
        mod = types.ModuleType(name)
        mod.__file__ = fname
        exec(compile(source, fname, "exec"), mod.__dict__)  # noqa: S102 - generated by codegen
        if "snndsl_generated" not in sys.modules:
            sys.modules["snndsl_generated"] = types.ModuleType("snndsl_generated")
        sys.modules[name] = mod
    return getattr(mod, class_name)


def parameter_counts(cls: type[torch.nn.Module]) -> dict[str, int]:
    """Parameters and buffers per module path, counted on the meta device (no memory)."""
    params, buffers = parameter_and_buffer_counts(cls)
    return {k: params.get(k, 0) + buffers.get(k, 0) for k in {**params, **buffers}}


def parameter_and_buffer_counts(cls: type[torch.nn.Module]) -> tuple[dict[str, int], dict[str, int]]:
    """``(parameters, buffers)``: the values of each per module path, counted on the meta
    device (no memory)."""
    with torch.device("meta"):
        net = cls()
    out: tuple[dict[str, int], dict[str, int]] = ({}, {})
    for counts, named in zip(out, (net.named_parameters(), net.named_buffers())):
        for full, t in named:
            owner = full.rpartition(".")[0]
            counts[owner] = counts.get(owner, 0) + t.numel()
    return out


@overload
def compile_source(text: str, filename: str = ..., model: str | None = ...,
                   params: Mapping[str, object] | None = ..., step_mode: str = ...,
                   allow_imports: Iterable[str] = ..., carry_state: bool = ...,
                   disable: Iterable[str] = ..., torch_compile: Literal[False] = ...,
                   optimize: str | None = ...) -> CompiledModule: ...


@overload
def compile_source(text: str, filename: str = ..., model: str | None = ...,
                   params: Mapping[str, object] | None = ..., step_mode: str = ...,
                   allow_imports: Iterable[str] = ..., carry_state: bool = ...,
                   disable: Iterable[str] = ..., torch_compile: bool = ...,
                   optimize: str | None = ...) -> torch.nn.Module: ...


def compile_source(text: str, filename: str = "<string>", model: str | None = None,
                   params: Mapping[str, object] | None = None, step_mode: str = "m",
                   allow_imports: Iterable[str] = (), carry_state: bool = False,
                   disable: Iterable[str] = (), torch_compile: bool = False,
                   optimize: str | None = None) -> torch.nn.Module:
    """Compile ``.snn`` text into an ``nn.Module`` instance.

    ``optimize="inference"``: with the passes for eval-mode inference (the module still
    trains correctly). ``torch_compile=True``: wrapped in ``torch.compile`` (one graph,
    no break); on CPU this is currently slower than the plain module, whose neurons run
    the native C kernel (bench/README.md, "torch.compile")."""
    step_mode = choice_option(step_mode, "step_mode", ("s", "m"))
    carry_state = bool_option(carry_state, "carry_state")
    with _no_cyclic_gc():
        ir, gen = generate(text, filename, model, params, allow_imports, disable, optimize)
        cls = load_class(gen)
        try:
            check_memory(ir, parameter_counts(cls))
        except SnnError as e:
            raise e.with_source(text) from None
        net = cls(step_mode=step_mode, carry_state=carry_state)
    net.snn_ir = ir
    net.snn_source = gen.source
    if torch_compile:
        wrapped = torch.compile(net)
        assert isinstance(wrapped, torch.nn.Module)  # an OptimizedModule; typed as a callable
        return wrapped
    return net


@overload
def compile_file(path: str | os.PathLike, model: str | None = ...,
                 params: Mapping[str, object] | None = ..., step_mode: str = ...,
                 allow_imports: Iterable[str] = ..., carry_state: bool = ...,
                 disable: Iterable[str] = ..., torch_compile: Literal[False] = ...,
                 optimize: str | None = ...) -> CompiledModule: ...


@overload
def compile_file(path: str | os.PathLike, model: str | None = ...,
                 params: Mapping[str, object] | None = ..., step_mode: str = ...,
                 allow_imports: Iterable[str] = ..., carry_state: bool = ...,
                 disable: Iterable[str] = ..., torch_compile: bool = ...,
                 optimize: str | None = ...) -> torch.nn.Module: ...


def compile_file(path: str | os.PathLike, model: str | None = None,
                 params: Mapping[str, object] | None = None, step_mode: str = "m",
                 allow_imports: Iterable[str] = (), carry_state: bool = False,
                 disable: Iterable[str] = (), torch_compile: bool = False,
                 optimize: str | None = None) -> torch.nn.Module:
    """Compile a ``.snn`` file into an ``nn.Module`` instance."""
    return compile_source(_read(path), os.fspath(path), model, params, step_mode, allow_imports,
                          carry_state, disable, torch_compile, optimize)


def param_count(n: int) -> str:
    return f"{n:,}" if n < 10**6 else f"{n / 1e6:.2f}M"


__all__ = ["lower", "trace_passes", "emit_python", "compile_source", "compile_file", "load_class",
           "parameter_counts"]
