"""The pass pipeline: order, verification after every pass, observation hooks.

Each pass is a plain function ``IR -> IR`` (``build`` takes the AST). The manager
runs them in order, verifies the IR after each (``verify_each``, on by default) and
names the pass that broke an invariant, and calls ``on_after(name, ir)`` so that
``trace_passes`` and ``snndsl viz`` can show the IR after every pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..frontend import ast
from ..ir.graph import IR
from ..ir.verify import verify
from .build import build
from .channels_last import channels_last
from .fold_batchnorm import fold_batchnorm
from .fuse_stateless import fuse_stateless
from .hoist_static import hoist_static
from .infer_shapes import infer_shapes
from .insert_containers import insert_containers
from .mark_state import mark_state


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[IR], IR]
    optional: bool = False
    doc: str = ""
    #: runs unless disabled (``False``: opt-in, runs only when enabled, e.g. by ``-O``)
    default: bool = True


PIPELINE: tuple[Pass, ...] = (
    Pass("infer-shapes", infer_shapes, doc="per-sample shape of every node; `_` filled in"),
    Pass("mark-state", mark_state, doc="which nodes keep state across time steps"),
    Pass("fuse-stateless", fuse_stateless, doc="stateless runs and branches become regions batched over T*N"),
    Pass("insert-containers", insert_containers, doc="how each node runs in multi-step mode"),
    Pass("hoist-static", hoist_static, optional=True, doc="regions fed only by static inputs run once"),
    Pass("channels-last", channels_last, optional=True, doc="regions of 2-d convolutions and pools run in NHWC memory"),
    Pass("fold-batchnorm", fold_batchnorm, optional=True, default=False,
         doc="BatchNorm after Conv/Linear folded into it for eval-mode inference (-O inference)"),
)
BUILD_DOC = "AST to IR: blocks inlined, repeats and groups expanded, constants evaluated"
PASS_NAMES = ("build", *(p.name for p in PIPELINE))
#: the passes a default compilation runs, in order
DEFAULT_PASS_NAMES = ("build", *(p.name for p in PIPELINE if p.default))
OPTIONAL = tuple(p.name for p in PIPELINE if p.optional)
OPT_IN = tuple(p.name for p in PIPELINE if not p.default)
#: ``-O`` levels: the opt-in passes each enables
OPTIMIZE = {"inference": ("fold-batchnorm",)}


def run_pipeline(
    tree: ast.File,
    model: str | None = None,
    params: Mapping[str, object] | None = None,
    allow_imports: Sequence[str] = (),
    disable: Sequence[str] = (),
    enable: Sequence[str] = (),
    stop_after: str | None = None,
    verify_each: bool = True,
    on_after: Callable[[str, IR], None] | None = None,
) -> IR:
    unknown = [d for d in disable if d not in OPTIONAL]
    if unknown:
        raise ValueError(f"cannot disable {unknown}: optional passes are {list(OPTIONAL)}")
    unknown = [e for e in enable if e not in OPT_IN]
    if unknown:
        raise ValueError(f"cannot enable {unknown}: opt-in passes are {list(OPT_IN)}")
    ir = build(tree, model, params, allow_imports)
    if verify_each:
        verify(ir, "build")
    if on_after:
        on_after("build", ir)
    if stop_after == "build":
        return ir
    for p in PIPELINE:
        if p.name in disable or not (p.default or p.name in enable):
            continue
        ir = p.run(ir)
        if verify_each:
            verify(ir, p.name)
        if on_after:
            on_after(p.name, ir)
        if stop_after == p.name:
            break
    return ir
