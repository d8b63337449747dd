"""Shared fixtures for the viz tests: traced examples and Graphviz's own reading of our DOT."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from snndsl.compiler import trace_passes
from snndsl.ir.graph import IR
from snndsl.viz.render import renderers

from ..conftest import EXAMPLES

HERE = Path(__file__).resolve().parent
EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.snn"))


@cache
def traced(path: str) -> tuple[tuple[str, IR], ...]:
    """``trace_passes`` of a file (cached: the IRs are never mutated by the viz code)."""
    p = Path(path)
    return tuple(trace_passes(p.read_text(), str(p)))


def example(name: str) -> dict[str, IR]:
    return dict(traced(str(EXAMPLES / name)))


def resnet18() -> dict[str, IR]:
    return dict(traced(str(HERE / "resnet18.snn")))


@dataclass
class Parsed:
    """The graph as Graphviz parsed it (``-Tjson0``): node attributes and cluster membership."""

    nodes: dict[str, dict]
    clusters: list[dict]  # each with "members": set of node names (nested ones included)
    edges: list[dict]  # each with "tail" and "head" names

    def clusters_with(self, cls: str) -> list[dict]:
        return [c for c in self.clusters if cls in c.get("class", "").split()]

    def classes(self, node: str) -> set[str]:
        return set(self.nodes[node].get("class", "").split())


@pytest.fixture(scope="session")
def gv_parse():
    programs = renderers()
    if not programs:
        pytest.skip("no Graphviz program (dot or graphviz-pure) to parse DOT with")

    def parse(dot_text: str) -> Parsed:
        done = subprocess.run([programs[-1], "-Tjson0"], input=dot_text.encode(), capture_output=True,
                              timeout=60, check=True)
        data = json.loads(done.stdout)
        n_sub = data.get("_subgraph_cnt", 0)
        objects = data.get("objects", [])
        names = {o["_gvid"]: o["name"] for o in objects[n_sub:]}
        clusters = [{**o, "members": {names[i] for i in o.get("nodes", [])}} for o in objects[:n_sub]]
        edges = [{**e, "tail": names[e["tail"]], "head": names[e["head"]]} for e in data.get("edges", [])]
        return Parsed({o["name"]: o for o in objects[n_sub:]}, clusters, edges)

    return parse
