"""The architecture's data flow is one-directional: no import cycle between snndsl's
packages (frontend, ir, passes, codegen, runtime, viz, interop, training), nor between
any two of its modules."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "snndsl"


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_pkg else parts), is_pkg


def import_graph() -> nx.DiGraph:
    """Module -> the snndsl modules it imports (anywhere in the file, local imports too)."""
    modules = {_module_name(p)[0] for p in ROOT.rglob("*.py")}
    g = nx.DiGraph()
    for path in sorted(ROOT.rglob("*.py")):
        name, is_pkg = _module_name(path)
        g.add_node(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and t != "snndsl":
                    g.add_edge(name, t)
    return g


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_no_cycle_between_packages():
    g = import_graph()
    packages = nx.DiGraph()
    for a, b in g.edges:
        if package_of(a) != package_of(b):
            packages.add_edge(package_of(a), package_of(b))
    assert nx.is_directed_acyclic_graph(packages), list(nx.simple_cycles(packages))
    # the stages in their order: nothing upstream imports what comes after it
    for upstream, downstream in [("ir", "frontend"), ("ir", "passes"), ("ir", "codegen"), ("ir", "viz"),
                                 ("passes", "codegen"), ("passes", "frontend"), ("frontend", "passes"),
                                 ("viz", "compiler"), ("runtime", "codegen")]:
        assert not packages.has_edge(upstream, downstream), f"{upstream} imports {downstream}"


def test_no_cycle_between_modules():
    g = import_graph()
    package_inits = {n for n in g if (ROOT.parent / n.replace(".", "/") / "__init__.py").exists()}
    # a package's __init__ re-exports its modules; that is not a dependency of theirs on it
    modules = g.subgraph(n for n in g if n not in package_inits)
    assert nx.is_directed_acyclic_graph(modules), list(nx.simple_cycles(modules))[:5]
