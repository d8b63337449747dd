"""IR → DOT: clusters for regions and blocks, stateful style, diff marks, skip edges,
escaping of user strings, collapse, determinism. Structure is read back by Graphviz."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from snndsl.diagnostics import SourceSpan
from snndsl.ir import ops
from snndsl.ir.graph import IR, Node
from snndsl.viz import render, to_dot
from snndsl.viz.dot import Diff, dot_quote, dot_tooltip, html_text

from .conftest import example, resnet18

SPAN = SourceSpan("m.snn", 3, 7, 3, 20)


def test_every_region_is_one_cluster_holding_exactly_its_members(gv_parse):
    ir = example("sew_resnet.snn")["fuse-stateless"]
    g = gv_parse(to_dot(ir))
    regions = g.clusters_with("region")
    assert len(regions) == len(ir.regions) > 0
    for name in ir.regions:
        (cluster,) = [c for c in regions if c["label"].startswith(name + ":")]
        assert cluster["members"] == {n.path for n in ir.region_members(name)}
    # a region that spans blocks (add of layer1.0, conv1 of layer1.1) is drawn whole
    (cross,) = [c for c in regions if "layer1.0.add_0" in c["members"]]
    assert "layer1.1.conv1" in cross["members"]


def test_block_instances_are_clusters_labelled_with_their_call(gv_parse):
    ir = example("sew_resnet.snn")["build"]
    g = gv_parse(to_dot(ir))
    blocks = g.clusters_with("block")
    labels = sorted(c["label"] for c in blocks)
    assert labels == ["layer1.0: Basic(c=32)", "layer1.1: Basic(c=32)", "layer2.0: Down(cin=32, cout=64)",
                      "layer2.1: Basic(c=64)"]
    assert not g.clusters_with("region")  # no regions before fuse-stateless


def test_cluster_labels_follow_the_passes():
    sew = example("sew_resnet.snn")
    assert "stateless, on [T*N, ...]" in to_dot(sew["fuse-stateless"])
    assert "SeqToANN on [T*N, ...]" in to_dot(sew["insert-containers"])
    static = example("static_image.snn")["hoist-static"]
    assert re.search(r'label="region0: static, once on \[N, \.\.\.\]", class="region static"', to_dot(static))


def test_stateful_nodes_look_different(gv_parse):
    before, after = example("csnn.snn")["infer-shapes"], example("csnn.snn")["mark-state"]
    g0, g1 = gv_parse(to_dot(before)), gv_parse(to_dot(after))
    stateful = [n.path for n in after.nodes() if n.stateful]
    stateless = [n.path for n in after.nodes() if not n.stateful]
    assert stateful == ["sn1", "sn2", "sn3", "sn4"]
    fills = set()
    for p in stateful:
        assert "stateful" in g1.classes(p)
        assert g1.nodes[p]["peripheries"] == "2"  # double border
        fills.add(g1.nodes[p]["fillcolor"])
        assert "stateful" not in g0.classes(p)  # unknown before mark-state
    assert fills == {"#ffc078"}  # one warm colour
    for p in stateless:
        assert "stateful" not in g1.classes(p) and g1.nodes[p].get("peripheries") is None
        assert g1.nodes[p]["fillcolor"] not in fills


def test_labels_show_path_op_arguments_shape_and_tooltips_the_source():
    ir = example("csnn.snn")["infer-shapes"]
    line = next(x for x in to_dot(ir).splitlines() if x.strip().startswith('"conv1" ['))
    assert "<b>conv1</b>" in line and "Conv2d(1, 64, 3, padding=1, bias=false)" in line
    assert "[64, 28, 28]" in line
    assert re.search(r'tooltip="[^"]*examples/csnn.snn:7:16\\n', line)
    fc = next(x for x in to_dot(example("csnn.snn")["build"]).splitlines() if x.strip().startswith('"fc1" ['))
    assert "Linear(_, 1024, bias=false)" in fc  # `_` until infer-shapes fills it in


def test_skip_edges_are_marked_and_do_not_pull_the_layout(gv_parse):
    ir = example("sew_resnet.snn")["build"]
    g = gv_parse(to_dot(ir))
    skips = sorted((e["tail"], e["head"]) for e in g.edges if "skip" in e.get("class", ""))
    # identity shortcuts; Down's projection shortcut goes through layer2.0.downsample
    assert skips == [("layer1.0.add_0", "layer1.1.add_0"), ("layer2.0.add_0", "layer2.1.add_0"),
                     ("sn1", "layer1.0.add_0")]
    assert all(e["weight"] == "0" and e["color"] == "#1c7ed6" for e in g.edges if "skip" in e.get("class", ""))
    assert sum(1 for e in g.edges if "skip" not in e.get("class", "")) == len(list(ir.edges())) - 3


def test_argument_order_is_labelled_where_it_matters():
    text = to_dot(example("sew_resnet.snn")["build"])
    assert not re.search(r'-> "layer1.0.add_0" \[[^]]*label=', text)  # add is symmetric
    ir = IR("M", "m.snn")
    ir.add(Node("input.x", ops.Input("x", (4,)), SPAN))
    ir.add(Node("a", ops.StatelessLayer("ReLU"), SPAN))
    ir.add(Node("d", ops.Merge("sub"), SPAN))
    ir.connect("input.x", "a", 0)
    ir.connect("a", "d", 0)
    ir.connect("input.x", "d", 1)
    text = to_dot(ir)
    assert '"a" -> "d" [label="0"];' in text
    assert re.search(r'"input.x" -> "d" \[[^]]*label="1", class="skip"\];', text)


def test_diff_marks_added_changed_removed(gv_parse):
    ir = example("csnn.snn")["mark-state"]
    ghost = ir.node("pool2")
    diff = Diff(added=frozenset({"flat"}), changed={"sn1": ("stateful",), "fc1": ("op", "shape")},
                removed=(ghost,), added_edges=frozenset({("pool2", "flat")}), removed_edges=(("sn2", "pool2"),))
    g = gv_parse(to_dot(ir, diff=diff))
    assert "added" in g.classes("flat") and g.nodes["flat"]["color"] == "#2b8a3e"
    assert "changed" in g.classes("sn1") and "changed" in g.classes("fc1")
    assert "stateful" in g.classes("sn1")  # the mark overlays, the style stays
    assert g.nodes["sn1"]["color"] == g.nodes["fc1"]["color"] == "#d6336c"
    assert "changed: op, shape" in g.nodes["fc1"]["tooltip"]
    assert not {"added", "changed", "removed"} & g.classes("conv1")
    (new_edge,) = [e for e in g.edges if "added" in e.get("class", "")]
    assert (new_edge["tail"], new_edge["head"], new_edge["color"]) == ("pool2", "flat", "#2b8a3e")
    # pool2 is still in this IR, so its ghost is not drawn twice; remove it to see a ghost
    gone = ir.copy()
    gone.remove("pool2")
    g2 = gv_parse(to_dot(gone, diff=diff))
    assert "removed" in g2.classes("pool2") and "dashed" in g2.nodes["pool2"]["style"]
    removed_edges = [e for e in g2.edges if "removed" in e.get("class", "")]
    assert [(e["tail"], e["head"]) for e in removed_edges] == [("sn2", "pool2")]


def test_collapse_draws_one_node_per_block_instance(gv_parse):
    ir = resnet18()["insert-containers"]
    g = gv_parse(to_dot(ir, collapse=True))
    blocks = [s.path for s in ir.scopes.values() if s.kind == "block"]
    assert len(blocks) == 8
    assert sorted(n for n in g.nodes if "block" in g.classes(n)) == sorted(blocks)
    assert all(g.nodes[b]["shape"] == "box3d" and "stateful" in g.classes(b) for b in blocks)
    assert not any(n.startswith("layer1.0.") for n in g.nodes)
    assert len(g.nodes) < len(ir) / 3  # legible: 73 nodes become 17
    assert ("layer1.0", "layer1.1") in {(e["tail"], e["head"]) for e in g.edges}
    assert "[64, 56, 56]" in g.nodes["layer1.0"]["label"]  # the block's output shape
    g_full = gv_parse(to_dot(ir))
    assert len(g_full.nodes) == len(ir)


def test_dot_quote_neutralises_escapes_and_entities():
    assert dot_quote('a"b') == '"a\\"b"'
    assert dot_quote("x\\N") == '"x\\\\N"'  # not Graphviz's \N (node name)
    assert dot_quote("&lt;") == '"&amp;lt;"'
    assert dot_quote("l1\nl2") == '"l1\\nl2"'
    assert dot_quote("bell\x07") == '"bell\\\\x07"'
    assert dot_quote("end\\") == '"end\\\\"'  # a trailing backslash cannot eat the quote
    assert html_text('<b>&"') == "&lt;b&gt;&amp;&quot;"
    assert dot_tooltip("a\\b\nc") == '"a\\\\\\\\b\\nc"'  # Graphviz unescapes tooltips twice
    assert html_text("\\N") == "\\\\N"  # Graphviz reads \N even in HTML-like labels


WEIRD = 'q"\\N &lt; <b>x</b>\nz'


def _weird_ir() -> IR:
    ir = IR('M"x', 'dir/we"ird&<name>.snn')
    ir.add(Node("input.x", ops.Input("x", (4,)), SPAN))
    ir.add(Node("m", ops.TorchModule("Identity", (WEIRD,), (("note", "é & <i>"),)), SPAN, shape=(4,)))
    ir.connect("input.x", "m", 0)
    return ir


def test_user_strings_are_shown_literally_in_the_picture():
    ir = _weird_ir()
    svg = render(ir, fmt="svg")
    root = ET.fromstring(svg)  # well-formed XML
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    shown = ops.format_value(WEIRD)  # the op line shows the value as written in a .snn file
    assert 'nn.Identity("q\\"\\\\N &lt; <b>x</b>\\nz", note...' in texts
    tips = [a.get("{http://www.w3.org/1999/xlink}title") for a in root.iter("{http://www.w3.org/2000/svg}a")]
    assert any(shown in (t or "") and "é & <i>" in (t or "") and (t or "").startswith("m.snn:3:7") for t in tips)
    assert any(t == 'M"x (dir/we"ird&<name>.snn)' for t in tips)


def test_output_is_deterministic():
    sew = example("sew_resnet.snn")
    for ir in sew.values():
        assert to_dot(ir) == to_dot(ir.copy())
    assert to_dot(sew["hoist-static"], collapse=True) == to_dot(sew["hoist-static"].copy(), collapse=True)


RECURRENT = """
block RecurrentLIF(n_in: int, n: int) {
    input x
    s = add(x -> fc: Linear(n_in, n), prev(s) -> rec: Linear(n, n, bias=false)) -> sn: LIF()
    return s
}
model Net() {
    input x: [40]
    return x -> r: RecurrentLIF(40, 32) -> out: Linear(32, 5)
}
"""


def test_recurrent_regions_are_their_own_cluster_kind_with_feedback_edges():
    import snndsl

    _, ir = snndsl.trace_passes(RECURRENT, "r.snn", disable=["fuse-recurrent"])[-1]
    dot = to_dot(ir)
    assert 'label="recurrent0: recurrent, one step at a time"' in dot
    assert 'class="region recurrent"' in dot
    feedback = [ln for ln in dot.splitlines() if 'class="feedback"' in ln]
    assert feedback == [ln for ln in feedback if ln.strip().startswith('"r.sn" -> "r.prev_s_0"')] and len(feedback) == 1
    assert "constraint=false" in feedback[0] and "style=dashed" in feedback[0]
    assert "feedback edge" in dot and "recurrent region" in dot  # in the legend
    svg = render(ir, fmt="svg")
    assert 'class="edge feedback"' in svg
