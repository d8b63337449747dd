"""Nothing lost: outputs are written atomically, a failed run leaves them untouched, and
the same input gives byte-identical outputs across runs and ``PYTHONHASHSEED`` values."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import snndsl
from snndsl import fileio

from .support import EXAMPLES, ROOT, assert_clean, run_cli

GOOD = "model M() { input x: [4]; return x -> fc: Linear(4, 2) -> sn: LIF() }\n"
BAD = "model M() { input x: [4]; return x -> fc: Linear(5, 2) -> sn: LIF() }\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def no_temp_files(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if p.name.endswith((".tmp", ".old"))]
    assert not left, f"temporary files left behind: {left}"


@pytest.fixture
def good_and_bad(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    good.write_text(GOOD)
    bad.write_text(BAD)
    return good, bad


# ---------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------

def test_compile_output_survives_a_failed_run(good_and_bad: tuple[Path, Path], tmp_path: Path) -> None:
    good, bad = good_and_bad
    out = tmp_path / "out" / "model.py"
    out.parent.mkdir()  # compile -o does not create folders (issue #17)
    status, _, err = run_cli(["compile", str(good), "-o", str(out)])
    assert status == 0, err
    before = out.read_bytes()
    status, stdout, err = run_cli(["compile", str(bad), "-o", str(out)])
    assert_clean(status, stdout, err, str(bad), allowed=(1,))
    assert out.read_bytes() == before
    no_temp_files(tmp_path)


def test_compile_output_survives_a_failed_write(good_and_bad: tuple[Path, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up (or the rename fails) half-way: the old file stays whole, no temp file stays."""
    good, _ = good_and_bad
    out = tmp_path / "model.py"
    out.write_text("# the previous output\n")

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    for target in ("fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(fileio.os, target, full)
            with pytest.raises(OSError):
                fileio.write_atomic(out, "x" * 100_000)
        assert out.read_text() == "# the previous output\n"
        no_temp_files(tmp_path)


def test_a_group_of_files_is_written_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`import` writes OUT.snn and OUT.pt together: a failure while writing the second
    leaves both old files as they were."""
    snn, pt = tmp_path / "net.snn", tmp_path / "net.pt"
    snn.write_text("old snn\n")
    pt.write_bytes(b"old pt")
    real = fileio.os.fsync
    calls: list[int] = []

    def fails_second(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(fileio.os, "fsync", fails_second)
    with pytest.raises(OSError):
        fileio.write_atomic_group({pt: b"new pt", snn: "new snn\n"})
    assert snn.read_text() == "old snn\n" and pt.read_bytes() == b"old pt"
    no_temp_files(tmp_path)
    monkeypatch.setattr(fileio.os, "fsync", real)
    fileio.write_atomic_group({pt: b"new pt", snn: "new snn\n"})
    assert snn.read_text() == "new snn\n" and pt.read_bytes() == b"new pt"


@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "new-files"])
def test_group_write_is_undone_when_a_later_rename_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         existing: bool) -> None:
    """The first file is renamed into place, the second rename fails: the first gets its
    old contents back (or goes away if it is new), and no temporary file is left."""
    snn, pt = tmp_path / "net.snn", tmp_path / "net.pt"
    if existing:
        snn.write_text("old snn\n")
        pt.write_bytes(b"old pt")
    real = fileio.os.replace
    calls: list[object] = []

    def fails_second(src, dst) -> None:
        if str(src).endswith(".tmp"):
            calls.append(dst)
            if len(calls) == 2:
                raise OSError(18, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(fileio.os, "replace", fails_second)
    with pytest.raises(OSError):
        fileio.write_atomic_group({pt: b"new pt", snn: "new snn\n"})
    if existing:
        assert snn.read_text() == "old snn\n" and pt.read_bytes() == b"old pt"
    else:
        assert not snn.exists() and not pt.exists()
    no_temp_files(tmp_path)


def test_compile_output_write_error_is_reported(good_and_bad: tuple[Path, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good, _ = good_and_bad
    out = tmp_path / "model.py"
    out.write_text("# previous\n")

    def denied(*args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fileio.os, "replace", denied)
    status, stdout, err = run_cli(["compile", str(good), "-o", str(out)])
    assert_clean(status, stdout, err, allowed=(1, 2))
    assert out.read_text() == "# previous\n"


def test_compile_output_to_a_directory(good_and_bad: tuple[Path, Path], tmp_path: Path) -> None:
    good, _ = good_and_bad
    status, stdout, err = run_cli(["compile", str(good), "-o", str(tmp_path)])
    assert_clean(status, stdout, err, allowed=(1, 2))


def test_viz_output_survives_a_failed_run(good_and_bad: tuple[Path, Path], tmp_path: Path) -> None:
    import snndsl.viz.report  # noqa: F401 - part of the package: a broken import must fail, not skip

    good, bad = good_and_bad
    out = tmp_path / "viz"
    status, _, err = run_cli(["viz", str(good), "-o", str(out), "--format", "dot"])
    assert status == 0, err
    before = snapshot(out)
    assert "index.html" in before
    status, stdout, err = run_cli(["viz", str(bad), "-o", str(out), "--format", "dot"])
    assert_clean(status, stdout, err, str(bad), allowed=(1,))
    assert snapshot(out) == before
    no_temp_files(tmp_path)
    status, stdout, err = run_cli(["viz", str(good), "-o", str(good), "--format", "dot"])
    assert_clean(status, stdout, err, allowed=(1, 2))
    assert good.read_text() == GOOD


def test_export_and_import_outputs_survive_a_failed_run(good_and_bad: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("nir")  # optional dependency
    import snndsl.interop.nir  # noqa: F401 - ours: a broken import must fail, not skip
    good, bad = good_and_bad
    graph = tmp_path / "net.nir"
    status, _, err = run_cli(["export", str(good), "--nir", str(graph)])
    assert status == 0, err
    nir_before = graph.read_bytes()
    status, stdout, err = run_cli(["export", str(bad), "--nir", str(graph)])
    assert_clean(status, stdout, err, str(bad), allowed=(1,))
    assert graph.read_bytes() == nir_before

    out = tmp_path / "back" / "net.snn"
    status, _, err = run_cli(["import", str(graph), "-o", str(out)])
    assert status == 0, err
    before = snapshot(out.parent)
    assert set(before) == {"net.snn", "net.pt"}
    broken = tmp_path / "broken.nir"
    broken.write_bytes(nir_before[: len(nir_before) // 2])
    status, stdout, err = run_cli(["import", str(broken), "-o", str(out)])
    assert "Traceback" not in err and status in (1, 2), err
    assert snapshot(out.parent) == before
    no_temp_files(tmp_path)
    # the imported model compiles and takes the weights it was written with
    net = snndsl.compile_file(out)
    import torch

    net.load_state_dict(torch.load(out.with_suffix(".pt"), weights_only=True), strict=True)


# ---------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------

_DIGEST = textwrap.dedent("""
    import hashlib, sys
    from pathlib import Path
    import snndsl
    h = hashlib.sha256()
    for path in sys.argv[1:]:
        text = Path(path).read_text(encoding="utf-8")
        h.update(snndsl.emit_python(text, path).encode())
        for name, ir in snndsl.trace_passes(text, path):
            h.update(name.encode())
            h.update(snndsl.dump_yaml(ir).encode())
    print(h.hexdigest())
""")


def digest_here(paths: list[str]) -> str:
    h = hashlib.sha256()
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        h.update(snndsl.emit_python(text, path).encode())
        for name, ir in snndsl.trace_passes(text, path):
            h.update(name.encode())
            h.update(snndsl.dump_yaml(ir).encode())
    return h.hexdigest()


def test_outputs_are_identical_across_runs_and_hash_seeds(tmp_path: Path) -> None:
    hostile = tmp_path / "names.snn"
    hostile.write_text(
        "block class(c: int) { input x; return x -> forward: Linear(c, c) -> training: LIF() }\n"
        'model M(s: str = "a\'\\"b") {\n    input x: [4]; input y: [4]\n'
        "    a = x -> z: class(4) -> __init__: nn.Identity(s); b = y -> self: (ReLU() -> LIF()) * 2\n"
        "    return cat(a, b), add(a, b), mul(a, b) -> Flatten()\n}\n")
    paths = [*map(str, EXAMPLES), str(hostile)]
    here = digest_here(paths)
    assert digest_here(paths) == here
    seen = {}
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _DIGEST, *paths], capture_output=True, text=True,
                              env=env, timeout=180, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        seen[seed] = done.stdout.strip()
    assert set(seen.values()) == {here}, seen


def test_cli_outputs_are_identical_across_runs(tmp_path: Path) -> None:
    example = str(EXAMPLES[0])
    first = run_cli(["compile", example])
    assert first[0] == 0 and run_cli(["compile", example]) == first
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    for out in (a, b):
        assert run_cli(["compile", example, "-o", str(out)])[0] == 0
    assert a.read_bytes() == b.read_bytes() == first[1].encode()
    check = run_cli(["check", example, "--print-ir-after", "all"])
    assert check[0] == 0 and run_cli(["check", example, "--print-ir-after", "all"]) == check
