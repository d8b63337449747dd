"""The pass pipeline: order, prerequisites, a private copy per pass, verification.

Each pass is a plain function ``IR -> IR`` with a module docstring stating its
invariant. The manager, not the pass, copies the IR before the pass runs (a pass may
rewrite what it is given) and records the pass's name in ``IR.passes``. Each pass
declares the passes it ``requires`` before it; :func:`plan` checks them when the
pipeline for a compilation is built, so disabling a pass that another needs is an error
before anything runs. After each pass the verifier checks every invariant established
so far (``verify_each``, on by default) and names the pass that broke one;
``on_after(name, ir)`` lets ``trace_passes`` and ``snndsl viz`` show the IR after every
pass. Elaboration (AST → IR, :mod:`snndsl.frontend.elaborate`) is not a pass: it makes
the IR the passes start from, recorded as ``build``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..diagnostics import UsageError
from ..ir.graph import IR
from ..ir.verify import verify
from .channels_last import channels_last
from .fold_batchnorm import fold_batchnorm
from .fuse_recurrent import fuse_recurrent
from .fuse_stateless import fuse_stateless
from .hoist_static import hoist_static
from .infer_shapes import infer_shapes
from .insert_containers import insert_containers
from .mark_state import mark_state
from .schedule_recurrence import schedule_recurrence


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[IR], IR]
    #: passes that must have run before this one ("build" is always first)
    requires: tuple[str, ...] = ()
    optional: bool = False
    doc: str = ""
    #: runs unless disabled (``False``: opt-in, runs only when enabled, e.g. by ``-O``)
    default: bool = True


PIPELINE: tuple[Pass, ...] = (
    Pass("infer-shapes", infer_shapes, doc="per-sample shape of every node; `_` filled in"),
    Pass("mark-state", mark_state, ("infer-shapes",), doc="which nodes keep state across time steps"),
    Pass("schedule-recurrence", schedule_recurrence, ("mark-state",),
         doc="the cycles through prev become recurrent regions, stepped once per time step"),
    Pass("fuse-recurrent", fuse_recurrent, ("schedule-recurrence",), optional=True,
         doc="a recurrent region of one recurrent Linear and a neuron runs as one fused operation"),
    Pass("fuse-stateless", fuse_stateless, ("schedule-recurrence",),
         doc="stateless runs and branches become regions batched over T*N"),
    Pass("insert-containers", insert_containers, ("fuse-stateless",),
         doc="how each node runs in multi-step mode; time flatten/unflatten at region borders"),
    Pass("hoist-static", hoist_static, ("insert-containers",), optional=True,
         doc="regions fed only by static inputs run once, then broadcast over T"),
    Pass("channels-last", channels_last, ("insert-containers",), optional=True,
         doc="regions of 2-d convolutions and pools run in NHWC memory"),
    Pass("fold-batchnorm", fold_batchnorm, ("insert-containers",), optional=True, default=False,
         doc="BatchNorm after Conv/Linear folded into it for eval-mode inference (-O inference)"),
)
BUILD = "build"
BUILD_DOC = "AST to IR: blocks inlined, repeats and groups expanded, constants evaluated"
PASS_NAMES = (BUILD, *(p.name for p in PIPELINE))
#: the passes a default compilation runs, in order
DEFAULT_PASS_NAMES = (BUILD, *(p.name for p in PIPELINE if p.default))
OPTIONAL = tuple(p.name for p in PIPELINE if p.optional)
OPT_IN = tuple(p.name for p in PIPELINE if not p.default)
#: ``-O`` levels: the opt-in passes each enables
OPTIMIZE = {"inference": ("fold-batchnorm",)}


class PipelineError(UsageError, ValueError):
    """The requested pipeline is not valid (unknown pass, missing prerequisite)."""


def plan(disable: Sequence[str] = (), enable: Sequence[str] = ()) -> tuple[Pass, ...]:
    """The passes to run, in order; every pass's ``requires`` runs before it."""
    unknown = [d for d in disable if d not in OPTIONAL]
    if unknown:
        raise PipelineError(f"cannot disable {unknown}: optional passes are {list(OPTIONAL)}")
    unknown = [e for e in enable if e not in OPT_IN]
    if unknown:
        raise PipelineError(f"cannot enable {unknown}: opt-in passes are {list(OPT_IN)}")
    chosen = tuple(p for p in PIPELINE if p.name not in disable and (p.default or p.name in enable))
    done = {BUILD}
    for p in chosen:
        missing = [r for r in p.requires if r not in done]
        if missing:
            raise PipelineError(f"pass {p.name} requires {', '.join(missing)} before it")
        done.add(p.name)
    return chosen


def run_pipeline(
    ir: IR,
    disable: Sequence[str] = (),
    enable: Sequence[str] = (),
    stop_after: str | None = None,
    verify_each: bool = True,
    on_after: Callable[[str, IR], None] | None = None,
) -> IR:
    """Run the passes on the elaborated ``ir`` (which is not modified)."""
    passes = plan(disable, enable)
    if verify_each:
        verify(ir, BUILD)
    if on_after:
        on_after(BUILD, ir)
    if stop_after == BUILD:
        return ir
    for p in passes:
        ir = p.run(ir.copy())
        ir.passes.append(p.name)
        if verify_each:
            verify(ir, p.name)
        if on_after:
            on_after(p.name, ir)
        if stop_after == p.name:
            break
    return ir
