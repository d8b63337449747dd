"""Pictures of the IR: DOT text (:func:`to_dot`), rendered pictures (:func:`render`) and
the per-pass report that ``snndsl viz`` writes (:func:`snndsl.viz.report.write_report`)."""

from .dot import to_dot
from .render import render

__all__ = ["render", "to_dot"]

from ..ir.graph import DISPLAY  # noqa: E402

DISPLAY["svg"] = lambda ir: render(ir, fmt="svg")  # an IR in a notebook shows as its picture
