"""``snndsl viz`` and ``write_report``: a picture per pass, an index that links them,
what each pass changed, byte-identical reruns, and clear errors that leave old output alone."""

from __future__ import annotations

import importlib
import json
import os
import re
import stat
from pathlib import Path

import pytest

import snndsl
from snndsl.cli import main
from snndsl.compiler import trace_passes
from snndsl.diagnostics import UsageError
from snndsl.passes.manager import DEFAULT_PASS_NAMES, PASS_NAMES
from snndsl.viz import render, report
from snndsl.viz.report import build_report, diff_ir, write_report

from ..conftest import EXAMPLES, ROOT
from .conftest import EXAMPLE_FILES, example, traced

PNG = b"\x89PNG\r\n\x1a\n"
render_module = importlib.import_module("snndsl.viz.render")  # the package exports the function


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """``snndsl viz`` of every example, through the command line."""
    out = {}
    for name in EXAMPLE_FILES:
        d = tmp_path_factory.mktemp(name.removesuffix(".snn"))
        assert main(["viz", str(EXAMPLES / name), "-o", str(d)]) == 0
        out[name] = d
    return out


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_viz_writes_a_picture_and_dot_per_pass_and_an_index_linking_them(reports, name):
    d = reports[name]
    stems = [f"{i:02d}-{p}" for i, p in enumerate(DEFAULT_PASS_NAMES)]
    assert sorted(p.name for p in d.iterdir()) == sorted([*(s + ".svg" for s in stems),
                                                           *(s + ".dot" for s in stems), "index.html",
                                                           report.MANIFEST])
    assert len(stems) >= 5
    index = (d / "index.html").read_text()
    assert re.findall(r'<img src="([^"]+)"', index) == [s + ".svg" for s in stems]
    for s in stems:
        assert f'<a href="{s}.svg">' in index and f'<a href="{s}.dot">' in index
        svg = (d / f"{s}.svg").read_text()
        assert svg.startswith("<?xml") and "<svg" in svg and 'class="node' in svg
    # the story reads top to bottom, each pass with its doc line and its changes
    positions = [index.index(f'id="{s}"') for s in stems]
    assert positions == sorted(positions)
    assert index.count('<p class="changes">') == len(stems)
    assert "which nodes keep state across time steps" in index


def test_the_index_says_what_each_pass_changed(reports):
    index = (reports["sew_resnet.snn"] / "index.html").read_text()
    sections = dict(re.findall(r'<section id="\d\d-([a-z-]+)">(.*?)</section>', index, re.S))
    assert "the first IR: 39 nodes" in sections["build"]
    assert "0 added, 0 removed, 39 changed (op on 1, shape on 39)" in sections["infer-shapes"]
    assert "~ fc: op Linear(_, 10) \u2192 Linear(64, 10); shape - \u2192 [10]" in sections["infer-shapes"]
    assert "10 time-batched regions formed" in sections["fuse-stateless"]
    assert "no change" in sections["hoist-static"]
    static = (reports["static_image.snn"] / "index.html").read_text()
    assert "static (run once, broadcast over T): region0" in static
    hoisted = (reports["static_image.snn"] / "07-hoist-static.dot").read_text()
    assert re.search(r'label="region0: static, once on \[N, \.\.\.\]", class="region static changed"', hoisted)
    assert 'class="region container"' in hoisted  # region1 did not change in this pass


def test_the_pictures_carry_the_diff_overlay(reports):
    d = reports["csnn.snn"]
    infer = (d / "01-infer-shapes.dot").read_text()
    assert re.search(r'"fc1" \[[^\n]*class="linear changed"', infer)
    assert "changed: op, shape" in infer
    state = (d / "02-mark-state.dot").read_text()
    assert re.search(r'"sn1" \[[^\n]*class="stateful changed"', state)
    assert 'class="node stateful changed"' in (d / "02-mark-state.svg").read_text()
    assert "changed" not in (d / "07-hoist-static.dot").read_text().split("digraph", 1)[1]


def test_diff_of_a_removed_node_draws_a_ghost():
    ir = example("csnn.snn")["hoist-static"]
    after = ir.copy()
    after.remove("flat")
    after.connect("pool2", "fc1", 0)
    change = diff_ir(ir, after)
    assert [n.path for n in change.diff.removed] == ["flat"]
    assert change.diff.added_edges == frozenset({("pool2", "fc1")})
    assert set(change.diff.removed_edges) == {("pool2", "flat"), ("flat", "fc1")}
    assert change.summary.startswith("0 added, 1 removed, 1 changed (inputs on 1)")
    assert "- flat: Flatten()" in change.details


def test_same_input_gives_byte_identical_output(tmp_path, reports):
    d = tmp_path / "again"
    assert main(["viz", str(EXAMPLES / "sew_resnet.snn"), "-o", str(d)]) == 0
    assert _files(d) == _files(reports["sew_resnet.snn"])


def test_png_and_collapse(tmp_path):
    text = (EXAMPLES / "sew_resnet.snn").read_text()
    written = write_report(trace_passes(text, "examples/sew_resnet.snn"), tmp_path, source="examples/sew_resnet.snn", fmt="png", collapse=True)
    assert [Path(p).name for p in written][-1] == "index.html"
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == len(DEFAULT_PASS_NAMES) and all(p.read_bytes().startswith(PNG) for p in pngs)
    assert '<img src="05-fuse-stateless.png"' in (tmp_path / "index.html").read_text()
    assert "blocks collapsed" in (tmp_path / "05-fuse-stateless.dot").read_text()


def test_format_dot_needs_no_renderer(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module, "renderers", lambda: [])
    assert main(["viz", str(EXAMPLES / "csnn.snn"), "-o", str(tmp_path), "--format", "dot"]) == 0
    assert sorted(p.suffix for p in tmp_path.iterdir() if p.name != report.MANIFEST) == (
        [".dot"] * len(DEFAULT_PASS_NAMES) + [".html"])
    assert "<img" not in (tmp_path / "index.html").read_text()


def test_no_renderer_is_a_clear_error_that_leaves_old_output_alone(tmp_path, monkeypatch, capsys):
    (tmp_path / "index.html").write_text("old")
    monkeypatch.setattr(render_module, "renderers", lambda: [])
    assert main(["viz", str(EXAMPLES / "csnn.snn"), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "neither Graphviz `dot` nor `graphviz-pure` was found" in err and "--format dot" in err
    assert "Traceback" not in err
    assert _files(tmp_path) == {"index.html": b"old"}


def test_a_failing_or_hanging_renderer_is_reported(tmp_path, monkeypatch):
    bad = tmp_path / "bad-dot"
    bad.write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 3\n")
    slow = tmp_path / "slow-dot"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    for p in (bad, slow):
        p.chmod(p.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(render_module, "renderers", lambda: [str(bad), str(slow)])
    with pytest.raises(UsageError) as e:
        render_module.run_graphviz("digraph {}", "svg", timeout=0.5)
    msg = str(e.value)
    assert "bad-dot exited with status 3: Error: syntax error in line 1" in msg
    assert "slow-dot took longer than 0.5 s" in msg


def test_a_wrong_program_is_an_error_with_position_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "bad.snn"
    src.write_text("model M() {\n    input x: [4]\n    return x -> Conv2(1, 2, 3)\n}\n")
    out = tmp_path / "out"
    assert main(["viz", str(src), "-o", str(out)]) == 1
    assert f"{src}:3:17: error: unknown op 'Conv2'" in capsys.readouterr().err
    assert not out.exists()


def test_output_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["viz", str(EXAMPLES / "csnn.snn"), "-o", str(f)]) == 2
    assert "is not a directory" in capsys.readouterr().err
    with pytest.raises(UsageError, match="unknown format"):
        build_report(traced(str(EXAMPLES / "csnn.snn")), fmt="jpg")


def test_set_params_reach_the_pictures(tmp_path):
    assert main(["viz", str(EXAMPLES / "csnn.snn"), "-o", str(tmp_path), "--set", "channels=8",
                 "--format", "dot"]) == 0
    assert "Conv2d(1, 8, 3, padding=1, bias=false)" in (tmp_path / "01-infer-shapes.dot").read_text()
    assert "(channels=8, num_classes=10)" in (tmp_path / "index.html").read_text()


def test_render_api_and_jupyter(tmp_path):
    net = snndsl.compile_file(EXAMPLES / "static_image.snn")
    svg = render(net)  # a compiled model draws its IR
    assert isinstance(svg, str) and svg.startswith("<?xml") and "region0: static" in svg
    assert net.snn_ir._repr_svg_() == svg
    png = render(net.snn_ir, tmp_path / "m.png", fmt="png")
    assert png.startswith(PNG) and (tmp_path / "m.png").read_bytes() == png
    assert render(net.snn_ir, fmt="dot").startswith("// the IR of StaticCIFAR")
    with pytest.raises(UsageError, match="takes an IR"):
        render("not an IR")
    assert report.PASS_DOCS.keys() >= set(PASS_NAMES)


def test_the_docs_picture_is_what_the_tool_draws(tmp_path):
    programs = render_module.renderers()
    if not programs or not Path(programs[0]).name.startswith("graphviz-pure"):
        pytest.skip("docs/img/fusion.png was drawn by graphviz-pure; another Graphviz draws other bytes")
    write_report(trace_passes((EXAMPLES / "csnn.snn").read_text(), "examples/csnn.snn"), source="examples/csnn.snn", outdir=tmp_path, fmt="png")
    assert (tmp_path / "05-fuse-stateless.png").read_bytes() == (ROOT / "docs/img/fusion.png").read_bytes(), (
        "regenerate: snndsl viz examples/csnn.snn -o DIR --format png; cp DIR/05-fuse-stateless.png docs/img/fusion.png")


# -- reruns into the same folder: no stale files of earlier runs (issue #17) ----------------

def _ours(d: Path) -> set[str]:
    return set(json.loads((d / report.MANIFEST).read_text())["files"])


def test_a_rerun_removes_its_own_stale_files_and_keeps_the_users(tmp_path, capsys):
    d = tmp_path / "viz"
    src = str(EXAMPLES / "csnn.snn")
    assert main(["viz", src, "-o", str(d), "-O", "inference"]) == 0  # svg, 8 passes
    first = set(os.listdir(d))
    assert "09-fold-batchnorm.svg" in first and _ours(d) == first - {report.MANIFEST}
    (d / "notes.txt").write_text("mine")
    (d / "99-mine.svg").write_text("<svg/>")  # named like ours, but not in the manifest
    (d / "sub").mkdir()
    assert main(["viz", src, "-o", str(d), "--format", "png", "--collapse"]) == 0  # png, 7 passes
    stems = [f"{i:02d}-{p}" for i, p in enumerate(DEFAULT_PASS_NAMES)]
    want = {*(s + ".png" for s in stems), *(s + ".dot" for s in stems), "index.html"}
    assert set(os.listdir(d)) == want | {report.MANIFEST, "notes.txt", "99-mine.svg", "sub"}
    assert _ours(d) == want
    assert (d / "notes.txt").read_text() == "mine" and (d / "99-mine.svg").read_text() == "<svg/>"
    index = (d / "index.html").read_text()
    assert "Other files in this folder were not written by snndsl:" in index
    assert "<code>99-mine.svg</code>, <code>notes.txt</code>, <code>sub</code>" in index
    assert main(["viz", src, "-o", str(d), "--format", "dot"]) == 0
    assert not list(d.glob("*.png")) and _ours(d) == {*(s + ".dot" for s in stems), "index.html"}
    assert {"notes.txt", "99-mine.svg", "sub"} <= set(os.listdir(d))
    assert "Traceback" not in capsys.readouterr().err


def test_a_rerun_with_fewer_passes_leaves_no_pictures_of_the_missing_ones(tmp_path):
    traces = traced(str(EXAMPLES / "sew_resnet.snn"))
    write_report(traces, tmp_path, fmt="dot")
    assert len(list(tmp_path.glob("*.dot"))) == len(traces)
    write_report(traces[:3], tmp_path, fmt="dot")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(f"{i:02d}-{n}.dot" for i, (n, _) in enumerate(traces[:3])), "index.html", report.MANIFEST])
    assert "not written by snndsl" not in (tmp_path / "index.html").read_text()


def test_a_clean_rerun_gives_the_bytes_of_a_fresh_folder(tmp_path):
    traces = traced(str(EXAMPLES / "csnn.snn"))
    fresh, reused = tmp_path / "fresh", tmp_path / "reused"
    write_report(traces, fresh, fmt="dot")
    write_report(traces, reused, fmt="png", collapse=True)
    write_report(traces, reused, fmt="dot")
    assert _files(reused) == _files(fresh)


@pytest.mark.parametrize("manifest", [
    '{"written_by": "snndsl viz output", "version": 1, "files": ["../outside.txt", "notes.txt", '
    '"/tmp/x.svg", "00-build.dot/../../outside.txt", "70-link.svg", "07-gone.svg", 3, null]}',
    '{"written_by": "someone else", "files": ["07-gone.svg"]}',
    "not json at all", '["07-gone.svg"]', '{"written_by": "snndsl viz output", "files": "07-gone.svg"}',
    "[" * 100_000,
])
def test_a_manifest_never_removes_what_snndsl_did_not_write(tmp_path, manifest):
    d = tmp_path / "viz"
    d.mkdir()
    (tmp_path / "outside.txt").write_text("keep")
    (d / "notes.txt").write_text("keep")
    (d / "07-gone.svg").write_text("old")
    (d / "real.svg").write_text("keep")
    (d / "70-link.svg").symlink_to(d / "real.svg")
    (d / report.MANIFEST).write_text(manifest)
    write_report(traced(str(EXAMPLES / "csnn.snn")), d, fmt="dot")
    assert (tmp_path / "outside.txt").read_text() == "keep" and (d / "notes.txt").read_text() == "keep"
    assert (d / "real.svg").read_text() == "keep" and (d / "70-link.svg").is_symlink()
    gone = not (d / "07-gone.svg").exists()
    assert gone == manifest.startswith('{"written_by": "snndsl viz output", "version": 1')
    assert json.loads((d / report.MANIFEST).read_text())["written_by"] == "snndsl viz output"


def test_a_listed_file_replaced_by_a_link_or_folder_stays(tmp_path):
    traces = traced(str(EXAMPLES / "csnn.snn"))
    write_report(traces, tmp_path, fmt="svg")
    (tmp_path / "00-build.svg").unlink()
    (tmp_path / "00-build.svg").mkdir()
    (tmp_path / "01-infer-shapes.svg").unlink()
    (tmp_path / "01-infer-shapes.svg").symlink_to(tmp_path / "00-build.dot")
    write_report(traces, tmp_path, fmt="dot")
    assert (tmp_path / "00-build.svg").is_dir() and (tmp_path / "01-infer-shapes.svg").is_symlink()
    assert not (tmp_path / "02-mark-state.svg").exists()
    assert "<code>00-build.svg</code>, <code>01-infer-shapes.svg</code>" in (tmp_path / "index.html").read_text()


def test_a_run_that_fails_while_writing_keeps_every_file_of_ours_in_the_manifest(tmp_path, monkeypatch):
    traces = traced(str(EXAMPLES / "csnn.snn"))
    write_report(traces, tmp_path, fmt="svg")
    svgs = {p.name for p in tmp_path.glob("*.svg")}
    real = report.write_atomic

    def failing(path, data):
        if Path(path).name == "index.html":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(report, "write_atomic", failing)
    with pytest.raises(UsageError, match="No space left"):
        write_report(traces, tmp_path, fmt="dot")
    assert svgs <= _ours(tmp_path) and {p.name for p in tmp_path.glob("*.svg")} == svgs  # nothing lost track of
    monkeypatch.setattr(report, "write_atomic", real)
    write_report(traces, tmp_path, fmt="dot")
    assert not list(tmp_path.glob("*.svg"))
