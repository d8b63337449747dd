"""Loading weights safely: every ``torch.load`` of a user file uses ``weights_only=True``, a
pickle that would run code is refused without running it, and a state_dict that does not
fit reports the keys and shapes by module path."""

from __future__ import annotations

import ast
import os
import pathlib
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

import snndsl
from snndsl.diagnostics import UsageError

from .support import ROOT, assert_clean, run_cli

MODEL = """\
block Basic(c: int) {
    input x
    h = x -> conv1: Linear(c, c) -> sn1: LIF()
    return add(h, x)
}
model Net() {
    input x: [4]
    h = x -> layer1: Basic(4) * 2 -> fc: Linear(4, 2)
    return h
}
"""


def test_every_torch_load_uses_weights_only() -> None:
    offenders = []
    for path in sorted((ROOT / "snndsl").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name == "load" and isinstance(f, ast.Attribute) and ast.unparse(f.value) in ("torch", "th"):
                kw = {k.arg: k.value for k in node.keywords}
                value = kw.get("weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if name in ("loads", "load", "Unpickler") and isinstance(f, ast.Attribute) and \
                    ast.unparse(f.value) in ("pickle", "dill", "cloudpickle", "marshal"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} ({ast.unparse(f)})")
    assert offenders == [], "unsafe loads: " + ", ".join(offenders)


class _Payload:
    """Unpickling this creates the file at ``path``."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(str(self.path)),))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "net.snn"
    src.write_text(MODEL)
    net = snndsl.compile_source(MODEL, "net.snn")
    good = net.state_dict()
    canary = tmp_path / "CANARY"
    out = {"src": src, "canary": canary}

    def save(name: str, obj: object) -> None:
        out[name] = tmp_path / f"{name}.pt"
        torch.save(obj, out[name])

    save("good", good)
    save("evil", {**good, "fc.weight": _Payload(canary)})
    save("evil_top", _Payload(canary))
    out["evil_legacy"] = tmp_path / "evil_legacy.pt"
    out["evil_legacy"].write_bytes(pickle.dumps({"fc.weight": _Payload(canary)}))
    save("missing", {k: v for k, v in good.items() if k != "layer1.1.conv1.bias"})
    save("extra", {**good, "layer1.0.conv9.weight": torch.zeros(4, 4)})
    save("shape", {**good, "fc.weight": torch.zeros(3, 4)})
    save("tensor", torch.zeros(3))
    save("nontensor", {**good, "fc.weight": 3})
    save("meta", {**good, "fc.weight": torch.empty(2, 4, device="meta")})
    save("sparse", {**good, "fc.weight": torch.zeros(2, 4).to_sparse()})
    save("intkey", {0: good["fc.weight"], **{k: v for k, v in good.items() if k != "fc.weight"}})
    save("complex", {**good, "fc.weight": torch.zeros(2, 4, dtype=torch.complex64)})
    save("integer", {**good, "fc.weight": torch.zeros(2, 4, dtype=torch.int64)})
    save("nan", {**good, "fc.weight": torch.full((2, 4), float("nan"))})
    out["bomb"] = tmp_path / "bomb.pt"
    with zipfile.ZipFile(out["bomb"], "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("archive/data/0", "w", force_zip64=True) as fh:
            block = bytes(2**20)
            for _ in range(200):  # 200 MiB of zeros, about 200 KiB on disk
                fh.write(block)
    out["fifo"] = tmp_path / "fifo.pt"
    os.mkfifo(out["fifo"])
    out["garbage"] = tmp_path / "garbage.pt"
    out["garbage"].write_bytes(b"PK\x03\x04 not really a zip file")
    return out


def test_the_payload_works_when_loaded_unsafely(files: dict[str, Path]) -> None:
    """Positive control: without weights_only, loading the file creates the canary."""
    torch.load(files["evil_top"], weights_only=False)
    assert files["canary"].exists()


def _weight_cases():
    for command in ("run", "export"):
        for name in ("evil", "evil_top", "evil_legacy", "tensor", "garbage", "nontensor", "meta", "sparse",
                     "intkey", "complex", "integer", "bomb", "fifo"):
            yield pytest.param(name, command, id=f"{command}-{name}")


@pytest.mark.parametrize("name,command", list(_weight_cases()))
def test_unsafe_or_invalid_weights_are_refused(name: str, command: str, files: dict[str, Path], tmp_path: Path) -> None:
    if command == "export":
        pytest.importorskip("nir")
        argv = ["export", str(files["src"]), "--nir", str(tmp_path / "o.nir"), "--weights", str(files[name])]
    else:
        argv = ["run", str(files["src"]), "-T", "2", "-N", "1", "--weights", str(files[name])]
    status, out, err = run_cli(argv)
    assert_clean(status, out, err, allowed=(1, 2))
    assert status != 0
    assert str(files[name]) in err
    assert not files["canary"].exists(), "loading weights ran code from the file"


@pytest.mark.parametrize("name,expected", [
    ("missing", ["missing", "layer1.1.conv1.bias"]),
    ("extra", ["unexpected", "layer1.0.conv9.weight"]),
    ("shape", ["fc.weight", "[3, 4]", "[2, 4]"]),
    ("nontensor", ["'fc.weight' is not a tensor", "int"]),
    ("meta", ["'fc.weight' is a meta tensor"]),
    ("sparse", ["'fc.weight'", "sparse", "to_dense"]),
    ("intkey", ["the key 0", "not a string"]),
    ("complex", ["dtype mismatches", "fc.weight", "complex64", "float32"]),
    ("integer", ["dtype mismatches", "fc.weight", "int64"]),
    ("bomb", ["200.0 MiB", "not a state_dict of this model"]),
    ("fifo", ["not a regular file"]),
])
def test_mismatched_weights_name_keys_and_shapes(name: str, expected: list[str], files: dict[str, Path]) -> None:
    status, out, err = run_cli(["run", str(files["src"]), "-T", "2", "-N", "1", "--weights", str(files[name])])
    assert_clean(status, out, err, allowed=(1, 2))
    assert status != 0
    for text in expected:
        assert text in err, err


def test_matching_weights_load(files: dict[str, Path]) -> None:
    status, out, err = run_cli(["run", str(files["src"]), "-T", "2", "-N", "1", "--weights", str(files["good"])])
    assert status == 0, err
    assert "output 0: [2, 1, 2]" in out


def test_non_finite_weights_load_with_a_note(files: dict[str, Path]) -> None:
    status, out, err = run_cli(["run", str(files["src"]), "-T", "2", "-N", "1", "--weights", str(files["nan"])])
    assert status == 0, err
    assert "note: " in err and "non-finite" in err and "fc.weight" in err


def test_api_refuses_what_the_cli_refuses(files: dict[str, Path]) -> None:
    """``export_source``/``to_nir`` with a mapping go through the same checks."""
    pytest.importorskip("nir")
    from snndsl.interop.nir import export_source, to_nir

    with pytest.raises(UsageError, match="not a tensor"):
        export_source(MODEL, "net.snn", weights={"fc.weight": 3})
    net = snndsl.compile_source(MODEL, "net.snn")
    with pytest.raises(UsageError, match="not a string"):
        to_nir(net, {0: torch.zeros(2)})
    _, report = to_nir(net, {k: v.fill_(float("inf")) for k, v in net.state_dict().items()})
    assert any("non-finite" in line for line in report)


def test_no_weights_file(files: dict[str, Path]) -> None:
    status, out, err = run_cli(["run", str(files["src"]), "--weights", str(files["src"].parent / "nope.pt")])
    assert_clean(status, out, err, allowed=(2,))
    assert "nope.pt" in err
