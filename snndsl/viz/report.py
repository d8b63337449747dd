"""``snndsl viz``: the IR after every pass as DOT and pictures, and an ``index.html``.

The index reads top to bottom as the compiler works: build → shapes → state →
fusion → containers. Each pass gets its name, one line on what it does, what it
changed (computed from the IRs before and after it, drawn as an overlay on its
picture) and a link to its DOT file. Everything is computed and drawn before the
first file is written, so an error leaves an existing output directory untouched;
every file is written atomically, and the same input gives the same bytes.

A rerun into the same folder leaves none of its own earlier files behind: the folder
keeps a manifest, ``.snndsl-viz.json``, of the files ``snndsl viz`` wrote there, and a
rerun removes those the previous run wrote and this one does not (an ``.svg`` after a
switch to ``--format png``, ``09-fold-batchnorm`` after ``-O inference`` is dropped).
Files that are not in the manifest are never removed; the index names them as not
written by snndsl.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import re
import stat
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

from .._version import __version__
from ..diagnostics import UsageError
from ..fileio import write_atomic
from ..ir import ops
from ..ir.graph import IR, Node
from ..passes.manager import BUILD_DOC, PIPELINE
from .dot import LEGEND, Diff, program_neuron, to_dot
from .equations import program_lines
from .render import run_graphviz

FORMATS = ("svg", "png", "dot")
PASS_DOCS = {"build": BUILD_DOC, **{p.name: p.doc for p in PIPELINE}}
_FIELDS = ("op", "shape", "stateful", "region", "container", "generated", "span")


@dataclasses.dataclass(frozen=True)
class PassChange:
    """What one pass did: the overlay, a one-line summary and a line per touched node."""

    diff: Diff
    summary: str
    details: tuple[str, ...]


def _show(field: str, v: object) -> str:
    if v is None:
        return "-"
    if field == "op" and isinstance(v, ops.Op):
        return v.describe()
    if field == "shape" and isinstance(v, tuple):
        return "[" + ", ".join(str(d) for d in v) + "]"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(str(x) for x in v) + ")"
    return str(v)


def _record(ir: IR, node: Node) -> dict[str, object]:
    return {**{f: getattr(node, f) for f in _FIELDS}, "inputs": tuple(ir.inputs_of(node.path))}


def diff_ir(before: IR | None, after: IR) -> PassChange:
    """Nodes, edges and regions that differ between consecutive IRs (``before`` None: the first)."""
    if before is None:
        n_blocks = sum(1 for s in after.scopes.values() if s.kind is ops.ScopeKind.BLOCK)
        summary = (f"the first IR: {len(after)} nodes, {sum(1 for _ in after.edges())} edges, "
                   f"{n_blocks} block instances")
        return PassChange(Diff(), summary, ())
    added = [p for p in after.graph.nodes if p not in before]
    removed = tuple(n for n in before.nodes() if n.path not in after)
    changed: dict[str, tuple[str, ...]] = {}
    details = [f"+ {p}: {after.node(p).op.describe()}" for p in added]
    details += [f"- {n.path}: {n.op.describe()}" for n in removed]
    for node in after.nodes():
        if node.path not in before:
            continue
        old, new = _record(before, before.node(node.path)), _record(after, node)
        fields = tuple(f for f in new if old[f] != new[f])
        if fields:
            changed[node.path] = fields
            details.append(f"~ {node.path}: " + "; ".join(f"{f} {_show(f, old[f])} \u2192 {_show(f, new[f])}"
                                                         for f in fields))
    old_edges = [(a, b) for a, b, _ in before.edges()]
    new_edges = [(a, b) for a, b, _ in after.edges()]
    old_set, new_set = set(old_edges), set(new_edges)
    diff = Diff(frozenset(added), changed, removed,
                frozenset(e for e in new_edges if e not in old_set and e[0] in before and e[1] in before),
                tuple(e for e in old_edges if e not in new_set),
                frozenset(r for r in after.regions if r in before.regions and before.regions[r] != after.regions[r]))
    parts = [f"{len(added)} added", f"{len(removed)} removed", f"{len(changed)} changed"]
    counts = {f: n for f in (*_FIELDS, "inputs") if (n := sum(f in fs for fs in changed.values()))}
    summary = ", ".join(parts) + (" (" + ", ".join(f"{f} on {n}" for f, n in counts.items()) + ")" if counts else "")
    regions = _region_changes(before, after)
    if regions:
        summary += "; " + regions
    if not (added or removed or changed or regions):
        summary = "no change: the IR is the same as after the previous pass"
    return PassChange(diff, summary, tuple(details))


def _region_changes(before: IR, after: IR) -> str:
    new = [r for r in after.regions if r not in before.regions]
    gone = [r for r in before.regions if r not in after.regions]
    static = [r for r, reg in after.regions.items() if reg.static and not (r in before.regions
                                                                          and before.regions[r].static)]
    out = [f"{len(new)} time-batched regions formed"] if new else []
    out += [f"{len(gone)} regions dissolved"] if gone else []
    out += [f"static (run once, broadcast over T): {', '.join(static)}"] if static else []
    nhwc = [r for r, reg in after.regions.items() if reg.layout is ops.Layout.CHANNELS_LAST
            and not (r in before.regions and before.regions[r].layout is ops.Layout.CHANNELS_LAST)]
    out += [f"channels-last memory: {', '.join(nhwc)}"] if nhwc else []
    return "; ".join(out)


def _name(i: int, pass_name: str) -> str:
    return f"{i:02d}-{pass_name}"


def build_report(traces: Sequence[tuple[str, IR]], fmt: str = "svg", collapse: bool = False,
                 source: str = "", others: Sequence[str] = ()) -> dict[str, str | bytes]:
    """File name → contents for a report over ``traces``; nothing is written. ``others``:
    names of files in the output folder that snndsl did not write (the index lists them)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    files: dict[str, str | bytes] = {}
    changes: list[PassChange] = []
    before: IR | None = None
    for i, (name, ir) in enumerate(traces):
        change = diff_ir(before, ir)
        changes.append(change)
        files[_name(i, name) + ".dot"] = to_dot(ir, title=f"{name} ({i + 1}/{len(traces)})", diff=change.diff,
                                                collapse=collapse)
        before = ir
    if fmt != "dot":
        dots = [(n, text) for n, text in files.items() if isinstance(text, str)]
        workers = max(1, min(len(dots), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pictures = list(pool.map(lambda item: run_graphviz(item[1], fmt), dots))
        for (n, _), pic in zip(dots, pictures, strict=True):
            files[n[: -len(".dot")] + "." + fmt] = pic
    files["index.html"] = index_html(traces, changes, fmt, source, collapse, others)
    return files


#: the list of files ``snndsl viz`` wrote into a folder, beside them
MANIFEST = ".snndsl-viz.json"
_MANIFEST_KIND = "snndsl viz output"
#: the only names a manifest may make a rerun remove: what build_report names files
_OWN_NAME = re.compile(r"(?:\d{2,}-[a-z0-9-]+\.(?:dot|svg|png)|index\.html)")
_MANIFEST_MAX_BYTES = 1 << 20


def _manifest(files: Sequence[str]) -> str:
    return json.dumps({"written_by": _MANIFEST_KIND, "version": 1, "files": sorted(files)}, indent=1) + "\n"


def previous_files(outdir: str | os.PathLike) -> set[str]:
    """The files an earlier ``snndsl viz`` run wrote into ``outdir``, from its manifest.

    A missing, unreadable or foreign manifest gives none (nothing will be removed); so do
    names in it that ``snndsl viz`` would never write (``../x``, ``notes.txt``)."""
    path = Path(outdir) / MANIFEST
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MANIFEST_MAX_BYTES:
            return set()
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return set()
    if not isinstance(data, dict) or data.get("written_by") != _MANIFEST_KIND:
        return set()
    names = data.get("files")
    if not isinstance(names, list):
        return set()
    return {n for n in names if isinstance(n, str) and _OWN_NAME.fullmatch(n)}


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _listing(out: Path) -> list[str]:
    try:
        return sorted(os.listdir(out))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UsageError(f"cannot read the folder {os.fspath(out)}: {e.strerror or e}") from None


def write_report(traces: Sequence[tuple[str, IR]], outdir: str | os.PathLike, fmt: str = "svg",
                 collapse: bool = False, source: str = "") -> list[str]:
    """Draw the IR after every pass (``traces``: ``snndsl.trace_passes``) into ``outdir``;
    returns the paths written (the manifest :data:`MANIFEST` beside them is not listed).

    Files that the previous run wrote there (its manifest says which) and this run does
    not write are removed; every other file in ``outdir`` stays and is named in the index."""
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{os.fspath(outdir)} exists and is not a directory")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    names = set(report_names(traces, fmt))
    stale = sorted(n for n in previous_files(out) - names if _is_file(out / n))
    others = [n for n in _listing(out) if n not in names and n not in stale and n != MANIFEST]
    files = build_report(traces, fmt, collapse, source, others)
    # the manifest lists every file of ours that may be in the folder at any moment: the
    # old and new ones while writing, the new ones once the stale ones are gone
    _write(out / MANIFEST, _manifest([*names, *stale]))
    written = []
    for name, data in files.items():  # index.html last: it is complete only when all it shows is
        path = out / name
        _write(path, data)
        written.append(os.fspath(path))
    for name in stale:
        try:
            os.unlink(out / name)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise UsageError(f"cannot remove {os.fspath(out / name)} (written by an earlier snndsl viz run): "
                             f"{e.strerror or e}") from None
    if stale:
        _write(out / MANIFEST, _manifest(list(names)))
    return written


def _write(path: Path, data: str | bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as e:
        raise UsageError(f"cannot write {os.fspath(path)}: {e.strerror or e}") from None


def report_names(traces: Sequence[tuple[str, IR]], fmt: str) -> list[str]:
    """The names of the files :func:`build_report` makes, in its order."""
    stems = [_name(i, name) for i, (name, _) in enumerate(traces)]
    pictures = [s + "." + fmt for s in stems] if fmt != "dot" else []
    return [*(s + ".dot" for s in stems), *pictures, "index.html"]


_CSS = """body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,sans-serif;margin:0 auto;
max-width:1100px;padding:0 24px 48px;color:#212529}h1{font-size:1.5em;margin-bottom:.2em}
.sub{color:#495057;margin-top:0}nav ol{padding-left:1.4em}section{border-top:1px solid #dee2e6;
padding-top:8px;margin-top:28px}h2{font-size:1.2em;margin:.4em 0}h2 .n{color:#868e96}
.doc{margin:.2em 0}.changes{margin:.2em 0;color:#495057}details{margin:.3em 0 .6em}
details li{font:12px/1.4 ui-monospace,monospace}figure{margin:8px 0}figure img{max-width:100%;height:auto;
border:1px solid #e9ecef}.legend{display:flex;flex-wrap:wrap;gap:6px;padding:0;list-style:none}
.legend li{font-size:12px;padding:3px 8px;border:1px solid;border-radius:6px}
.legend li span{color:#495057}#neurons pre{font:12px/1.4 ui-monospace,monospace;background:#f8f9fa;
padding:6px 10px;border:1px solid #e9ecef;border-radius:6px;overflow-x:auto}"""


def index_html(traces: Sequence[tuple[str, IR]], changes: Sequence[PassChange], fmt: str, source: str,
               collapse: bool, others: Sequence[str] = ()) -> str:
    """The page that shows the passes in order, each with its picture, doc and changes."""
    e = html.escape
    last = traces[-1][1]
    params = ", ".join(f"{k}={ops.format_value(v)}" for k, v in last.params.items())
    story = " \u2192 ".join(n for n, _ in traces)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(last.model)}: the IR after every pass</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>{e(last.model)}: the IR after every pass</h1>",
           f'<p class="sub">{e(source or last.filename)}' + (f" ({e(params)})" if params else "")
           + f" &middot; snndsl {e(__version__)}" + (" &middot; blocks collapsed" if collapse else "") + "</p>",
           f"<p>Read top to bottom: {e(story)}. Hover a node in a picture (open it by clicking) to see "
           "where it comes from (<code>file:line:col</code>).</p>", '<ul class="legend">']
    for sw in LEGEND:
        style = f"background:{sw.fill};border-color:{sw.border}" + (";border-style:dashed" if sw.dashed else "")
        out.append(f'<li style="{style}"><b>{e(sw.title)}</b> <span>{e(sw.meaning)}</span></li>')
    out.append("</ul><nav><ol>")
    for i, (name, _) in enumerate(traces):
        out.append(f'<li><a href="#{e(_name(i, name))}">{e(name)}</a></li>')
    out.append("</ol></nav>")
    out += _neurons_panel(last)
    for i, ((name, _), change) in enumerate(zip(traces, changes, strict=True)):
        stem = _name(i, name)
        out += [f'<section id="{e(stem)}">', f'<h2><span class="n">{i:02d}</span> {e(name)}</h2>',
                f'<p class="doc">{e(PASS_DOCS.get(name, ""))}</p>',
                f'<p class="changes"><b>Changed:</b> {e(change.summary)}</p>']
        if change.details:
            out.append(f"<details><summary>{len(change.details)} nodes touched</summary><ul>"
                       + "".join(f"<li>{e(d)}</li>" for d in change.details) + "</ul></details>")
        if fmt != "dot":
            href = quote(f"{stem}.{fmt}")
            out.append(f'<figure><a href="{href}"><img src="{href}" alt="{e(last.model)} after {e(name)}">'
                       f"</a></figure>")
        out.append(f'<p>DOT: <a href="{quote(stem)}.dot">{e(stem)}.dot</a></p></section>')
    if others:
        out.append(_others_note(others))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _neurons_panel(ir: IR) -> list[str]:
    """The neurons defined in the language (the file's and the prelude's) that the model
    uses: each distinct call, where it is used, and its step as equations, in source order."""
    used: dict[object, tuple[ops.ProgramNeuron, list[str]]] = {}
    for node in ir.nodes():
        neuron = program_neuron(node.op)
        if neuron is not None:
            used.setdefault(neuron.program, (neuron, []))[1].append(node.path)
    if not used:
        return []
    e = html.escape
    out = ['<section id="neurons"><h2>Neurons defined in the language</h2>',
           '<p class="doc">One time step of each, with the call\'s arguments bound: a state on the right is '
           "its value before the step, primed (<code>v'</code>) its next value; <code>spike(e)</code> is "
           "heaviside forward and the surrogate's gradient backward.</p>"]
    for neuron, paths in used.values():
        out += [f"<h3>{e(neuron.call_text())}</h3>",
                f'<p class="uses">used as {e(", ".join(paths))}</p>',
                "<pre>" + e("\n".join(program_lines(neuron.program))) + "</pre>"]
    out.append("</section>")
    return out


_OTHERS_SHOWN = 20


def _others_note(others: Sequence[str]) -> str:
    """A note on the files in the folder that snndsl viz did not write (and leaves alone)."""
    shown = [os.fsencode(n).decode("utf-8", "replace") for n in others[:_OTHERS_SHOWN]]
    more = f" and {len(others) - _OTHERS_SHOWN} more" if len(others) > _OTHERS_SHOWN else ""
    listed = ", ".join(f"<code>{html.escape(n)}</code>" for n in shown) + more
    what = "this file" if len(others) == 1 else f"these {len(others)} files"
    return (f'<section id="other-files"><p class="changes"><b>Other files in this folder were not written by '
            f"snndsl:</b> {listed}. snndsl viz leaves {what} alone; the pictures above are the ones listed in "
            f"<code>{MANIFEST}</code>.</p></section>")
