"""Crafted NIR files: every one ends in a located error (exit 1) or a usage error (exit 2),
never a traceback, a hang or a memory blow-up, and nothing is written (issue #17)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")

from snndsl.cli import main  # noqa: E402
from snndsl.interop.nir import NirError, import_file, import_nir, read_nir  # noqa: E402


def _graph() -> object:
    """Input [3] -> Affine(3 -> 2) -> LIF -> Output."""
    return nir.NIRGraph.from_list(
        nir.Affine(weight=np.ones((2, 3), dtype=np.float32), bias=np.zeros(2, dtype=np.float32)),
        nir.LIF(tau=np.full(2, 2e-4), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)))


def _conv_graph() -> object:
    return nir.NIRGraph.from_list(
        nir.Conv2d(input_shape=np.array([4, 4]), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0,
                   dilation=1, groups=1, bias=np.zeros(2)),
        nir.IF(r=np.full((2, 2, 2), 1e4), v_threshold=np.ones((2, 2, 2))))


def _replace(f: h5py.File, path: str, data: object, **kw: object) -> None:
    if path in f:
        del f[path]
    f.create_dataset(path, data=data, **kw)


def _write(tmp_path: Path, edit: Callable[[h5py.File], None], graph: object = None) -> Path:
    path = tmp_path / "hostile.nir"
    nir.write(path, graph if graph is not None else _graph())
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _nested(depth: int) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        g = f["node/nodes"].create_group("deep")
        for _ in range(depth):
            g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
            g.create_dataset("edges", data=np.array([[b"a", b"a"]], dtype=h5py.string_dtype()))
            g = g.create_group("nodes").create_group("a")
        g.create_dataset("type", data="Input", dtype=h5py.string_dtype())
        g.create_dataset("shape", data=np.array([3]))
    return edit


def _nested_metadata(f: h5py.File) -> None:
    g = f["node/nodes/affine"].create_group("metadata")
    for _ in range(300):
        g = g.create_group("m")
    g.create_dataset("snndsl", data="Linear(3, 2)", dtype=h5py.string_dtype())


def _sparse(f: h5py.File) -> None:  # 149 GiB declared, a few KiB on disk
    del f["node/nodes/affine/weight"]
    f["node/nodes/affine"].create_dataset("weight", shape=(2, 20_000_000_000), dtype="float32",
                                          chunks=(1, 1 << 20), compression="gzip")


def _huge_edges(f: h5py.File) -> None:
    del f["node/edges"]
    f["node"].create_dataset("edges", shape=(10**12, 2), dtype=h5py.string_dtype(), chunks=(1024, 2))


def _external_link(f: h5py.File) -> None:
    del f["node/nodes/affine/weight"]
    f["node/nodes/affine/weight"] = h5py.ExternalLink("/etc/passwd", "/x")


def _node_not_group(f: h5py.File) -> None:
    del f["node/nodes/affine"]
    f["node/nodes"].create_dataset("affine", data=np.ones(3))


def _type(value: object) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        _replace(f, "node/nodes/affine/type", value)
    return edit


def _field(path: str, data: object, **kw: object) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        _replace(f, path, data, **kw)
    return edit


def _complex_compound(f: h5py.File) -> None:
    _replace(f, "node/nodes/affine/weight", np.ones((2, 3), dtype=np.complex64))


CASES = [
    # (id, edit, graph or None, expected message fragment)
    ("object-weights", _field("node/nodes/affine/weight", np.array([["a", "b", "c"]] * 2, dtype=object),
                              dtype=h5py.string_dtype()), None, "strings, not numbers"),
    ("string-weights", _field("node/nodes/affine/weight", np.array([[b"1", b"2", b"3"]] * 2)), None,
     "not numbers"),
    ("nan-weights", _field("node/nodes/affine/weight", np.full((2, 3), np.nan)), None, "NaN or infinite"),
    ("inf-bias", _field("node/nodes/affine/bias", np.array([np.inf, 0.0])), None, "NaN or infinite"),
    ("complex-weights", _complex_compound, None, "complex"),
    ("float64-overflow", _field("node/nodes/affine/weight", np.full((2, 3), 1e300)), None, "float32"),
    ("nan-shape", _field("node/nodes/input/shape", np.array([np.nan])), None, "NaN or infinite"),
    ("inf-shape", _field("node/nodes/input/shape", np.array([np.inf])), None, "NaN or infinite"),
    ("zero-shape", _field("node/nodes/input/shape", np.array([0])), None, "at least 1"),
    ("huge-shape", _field("node/nodes/input/shape", np.array([2**31, 2**31, 2**31])), None, "at most"),
    ("fraction-shape", _field("node/nodes/input/shape", np.array([2.5])), None, "integers"),
    ("zero-stride", _field("node/nodes/conv2d/stride", np.array([0, 0])), "conv", "at least 1"),
    ("array-groups", _field("node/nodes/conv2d/groups", np.array([1, 2])), "conv", "groups"),
    ("zero-groups", _field("node/nodes/conv2d/groups", 0), "conv", "groups"),
    ("bad-padding", _field("node/nodes/conv2d/padding", "sideways", dtype=h5py.string_dtype()), "conv",
     "padding"),
    ("three-strides", _field("node/nodes/conv2d/stride", np.array([1, 1, 1])), "conv", "stride"),
    ("string-tau", _field("node/nodes/lif/tau", "fast", dtype=h5py.string_dtype()), None, "strings"),
    ("complex-tau", _field("node/nodes/lif/tau", np.array([1j, 1j])), None, "complex"),
    ("huge-hint", _field("node/nodes/affine/metadata/snndsl", "Linear(" + "9" * 5_000_000 + ")",
                         dtype=h5py.string_dtype()), None, None),
    ("nested-metadata", _nested_metadata, None, None),
    ("nested-600", _nested(600), None, "nested more than"),
    ("node-not-group", _node_not_group, None, "a dataset"),
    ("type-not-string", _type(np.arange(3)), None, "not a string"),
    ("unknown-type", _type(np.bytes_(b"Bogus\x1b[31m")), None, "not a name"),
    ("sparse-149GiB", _sparse, None, "149.0 GiB"),
    ("huge-edges", _huge_edges, None, "edges"),
    ("external-link", _external_link, None, "ExternalLink"),
    ("missing-field", lambda f: f.__delitem__("node/nodes/lif/v_threshold"), None, "v_threshold"),
    ("null-dataspace", _field("node/nodes/affine/bias", h5py.Empty("f4")), None, "empty"),
    ("wrong-bias", _field("node/nodes/affine/bias", np.zeros(5)), None, "bias"),
    ("bad-edge", _field("node/edges", np.array([[b"input", b"nowhere"]], dtype=h5py.string_dtype())),
     None, "nowhere"),
    ("edges-not-pairs", _field("node/edges", np.array([b"input", b"affine", b"lif"],
                                                      dtype=h5py.string_dtype())), None, "shape"),
    ("no-node", lambda f: f.__delitem__("node"), None, "no '/node' group"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_crafted_nir_files_are_refused_cleanly(case, tmp_path, capsys):
    _, edit, graph, fragment = case
    path = _write(tmp_path, edit, _conv_graph() if graph == "conv" else None)
    out = tmp_path / "out" / "net.snn"
    status = main(["import", str(path), "-o", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if fragment is None:  # ignored metadata: the graph itself is fine
        assert status == 0, err
        assert out.exists() and out.with_suffix(".pt").exists()
        return
    assert status == 1, err
    assert err.startswith(f"{path}:1:1: error: "), err  # located at the file ...
    assert "/node" in err.splitlines()[1] or fragment == "no '/node' group", err  # ... and the object
    assert fragment in err, err
    assert not (tmp_path / "out").exists()  # nothing written
    with pytest.raises(NirError):
        import_nir(path)


@pytest.mark.parametrize("data", [b"", b"not hdf5 at all\n" * 10, b"\x89HDF\r\n\x1a\n" + b"\0" * 100])
def test_files_that_are_not_hdf5(data, tmp_path, capsys):
    path = tmp_path / "x.nir"
    path.write_bytes(data)
    assert main(["import", str(path), "-o", str(tmp_path / "x.snn")]) == 1
    err = capsys.readouterr().err
    assert "not a readable NIR" in err and "Traceback" not in err
    assert not (tmp_path / "x.snn").exists()


def test_a_directory_or_fifo_is_a_usage_error(tmp_path, capsys):
    assert main(["import", str(tmp_path), "-o", str(tmp_path / "x.snn")]) == 2
    fifo = tmp_path / "fifo.nir"
    import os

    os.mkfifo(fifo)
    assert main(["import", str(fifo), "-o", str(tmp_path / "x.snn")]) == 2  # and no hang
    assert "Traceback" not in capsys.readouterr().err


def test_in_memory_graphs_are_checked_too():
    g = _graph()
    g.nodes["affine"].weight = np.array([["a", "b", "c"]] * 2, dtype=object)
    with pytest.raises(NirError, match="not numbers"):
        import_nir(g)
    g = _graph()
    g.nodes["lif"].tau = "fast"
    with pytest.raises(NirError, match="tau"):
        import_nir(g)
    inner = _graph()
    for _ in range(600):
        inner = nir.NIRGraph(nodes={"g": inner}, edges=[], type_check=False)
    with pytest.raises(NirError, match="nested more than"):
        import_nir(inner)


# -- outputs -------------------------------------------------------------------------------

def _good(tmp_path: Path) -> Path:
    path = tmp_path / "a.nir"
    nir.write(path, _graph())
    return path


@pytest.mark.parametrize("output", ["a.nir", "a.pt", "link.snn"])
def test_outputs_that_would_overwrite_the_input_are_refused(output, tmp_path, capsys):
    src = _good(tmp_path)
    (tmp_path / "link.snn").symlink_to(src)
    before = src.read_bytes()
    if output == "a.pt":  # -o a.pt: the output would be its own weights file
        args = ["import", str(src), "-o", str(tmp_path / "a.pt")]
    else:
        args = ["import", str(src), "-o", str(tmp_path / output)]
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert src.read_bytes() == before
    assert not (tmp_path / "a.pt").exists()


def test_weights_named_like_the_input_are_refused(tmp_path):
    src = tmp_path / "net.pt"
    nir.write(src, _graph())
    before = src.read_bytes()
    assert main(["import", str(src), "-o", str(tmp_path / "net.snn")]) == 2
    assert src.read_bytes() == before and not (tmp_path / "net.snn").exists()


def test_nothing_is_written_when_one_output_cannot_be(tmp_path):
    src = _good(tmp_path)
    (tmp_path / "out.snn").mkdir()  # the .snn cannot be written: the .pt must not be either
    assert main(["import", str(src), "-o", str(tmp_path / "out.snn")]) == 2
    assert not (tmp_path / "out.pt").exists()
    (tmp_path / "b.pt").mkdir()
    assert main(["import", str(src), "-o", str(tmp_path / "b.snn")]) == 2
    assert not (tmp_path / "b.snn").exists()


def test_weights_that_do_not_fit_the_source_are_never_written(tmp_path, monkeypatch):
    import snndsl.interop.nir_import as imp

    real = imp._Importer.run

    def run(self, model):
        result = real(self, model)
        result.state_dict["affine.weight"] = result.state_dict["affine.weight"][:1]
        return result

    monkeypatch.setattr(imp._Importer, "run", run)
    with pytest.raises(NirError, match="do not fit"):
        import_file(_good(tmp_path), tmp_path / "o.snn")
    assert not (tmp_path / "o.snn").exists() and not (tmp_path / "o.pt").exists()


def test_read_nir_still_returns_a_nir_graph(tmp_path):
    g = read_nir(_good(tmp_path))
    assert isinstance(g, nir.NIRGraph) and set(g.nodes) == {"input", "affine", "lif", "output"}
    assert isinstance(g.nodes["affine"], nir.Affine)


# -- export: AdaptiveAvgPool2d with a `none` output size -----------------------------------

def test_adaptive_avg_pool_with_a_none_output_size_exports(tmp_path):
    src = tmp_path / "ap.snn"
    src.write_text("model M() {\n    input x: [2, 8, 8]\n    return x -> c: Conv2d(2, 4, 3, padding=1)\n"
                   "        -> p: AdaptiveAvgPool2d((none, 4)) -> f: Flatten() -> fc: Linear(128, 3)\n"
                   "        -> sn: LIF()\n}\n")
    out = tmp_path / "ap.nir"
    assert main(["export", str(src), "--nir", str(out)]) == 0
    pool = read_nir(out).nodes["p"]
    assert list(pool.kernel_size) == [1, 2] and list(pool.stride) == [1, 2]
    assert main(["import", str(out), "-o", str(tmp_path / "back.snn")]) == 0
    assert "AdaptiveAvgPool2d((none, 4))" in (tmp_path / "back.snn").read_text()


def test_adaptive_avg_pool_that_does_not_divide_is_a_located_error(tmp_path, capsys):
    src = tmp_path / "ap.snn"
    src.write_text("model M() {\n    input x: [2, 7, 8]\n    return x -> p: AdaptiveAvgPool2d((none, 3))\n"
                   "        -> f: Flatten() -> fc: Linear(42, 3) -> sn: LIF()\n}\n")
    assert main(["export", str(src), "--nir", str(tmp_path / "ap.nir"), "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"{src}:3:" in err and "multiple" in err and "Traceback" not in err
    assert not (tmp_path / "ap.nir").exists()


def test_export_onto_its_own_source_is_refused(tmp_path):
    src = tmp_path / "m.snn"
    src.write_text("model M() { input x: [4]; return x -> fc: Linear(4, 2) -> sn: LIF() }\n")
    before = src.read_bytes()
    assert main(["export", str(src), "--nir", str(src)]) == 2
    assert src.read_bytes() == before
