"""Command-line values and labels that used to end in a traceback (issue #17)."""

from __future__ import annotations

import pytest

from snndsl.cli import main

LABELS = "model M() {\n    input x: [4]\n    return x -> training: Linear(4, 4) -> forward: LIF()\n}\n"


def test_run_with_labels_that_nn_module_attributes_share(tmp_path, capsys):
    path = tmp_path / "m.snn"
    path.write_text(LABELS)
    assert main(["run", str(path)]) == 0
    assert "forward" in capsys.readouterr().out  # its spike rate is reported


@pytest.mark.parametrize("seed", ["12345678901234567890123", "-1", "1.5", "x"])
def test_out_of_range_seeds_are_usage_errors(tmp_path, capsys, seed):
    path = tmp_path / "m.snn"
    path.write_text(LABELS)
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--seed", seed])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--seed" in err and "Traceback" not in err


@pytest.mark.parametrize("target, match", [
    ("/dev/null", "is not a regular file"),
    ("/dev/stdout", "is a symbolic link"),
    ("{tmp}/missing/m.py", "does not exist"),
    ("{src}", "is the input file"),
    ("{tmp}", "is not a regular file"),
])
def test_compile_refuses_outputs_it_would_mishandle(tmp_path, capsys, target, match):
    import os

    src = tmp_path / "m.snn"
    src.write_text(LABELS)
    before = os.stat("/dev/null")
    out = target.format(tmp=tmp_path, src=src)
    assert main(["compile", str(src), "-o", out]) == 2
    assert match in capsys.readouterr().err
    assert src.read_text() == LABELS and not (tmp_path / "missing").exists()
    assert os.stat("/dev/null").st_rdev == before.st_rdev  # still the device


def test_compile_writes_a_regular_file(tmp_path):
    src = tmp_path / "m.snn"
    src.write_text(LABELS)
    assert main(["compile", str(src), "-o", str(tmp_path / "m.py")]) == 0
    assert "class M(CompiledModule)" in (tmp_path / "m.py").read_text()


def test_train_checks_its_run_folder_before_training(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from ..conftest import EXAMPLES

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "sub"):
        assert main(["train", str(EXAMPLES / "digits.snn"), "--data", "digits", "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert "not a folder" in captured.err or "cannot write into" in captured.err
        assert "epoch" not in captured.out + captured.err  # refused before the first epoch


def test_check_separates_parameters_from_buffers(tmp_path, capsys):
    path = tmp_path / "m.snn"
    path.write_text("model M() {\n    input x: [4]\n    return x -> fc: Linear(4, 3) -> bn: BatchNorm1d(3) -> LIF()\n}\n")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[1].split()
    assert header[5:7] == ["params", "buffers"]
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line.strip()}
    fc = rows["fc"][rows["fc"].index("[3]") + 1:]
    bn = rows["bn"][rows["bn"].index("[3]") + 1:]
    assert fc[:2] == ["15", "-"]
    assert bn[:2] == ["6", "7"]  # weight + bias; running mean, var and num_batches_tracked
    assert "21 parameters and 7 buffer values" in out


NAMES = ["a\x1b[31mred.snn", "new\nline.snn", "bell\x07.snn"]


@pytest.mark.parametrize("name", NAMES)
def test_file_names_are_printed_escaped(tmp_path, capsys, name):
    """A file name cannot drive the terminal or break a line of the results."""
    path = tmp_path / name
    path.write_text(LABELS)
    out_py = tmp_path / ("out" + name + ".py")
    viz = tmp_path / ("viz" + name)
    for argv in (["check", str(path)], ["compile", str(path), "-o", str(out_py)], ["viz", str(path), "-o", str(viz)]):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        for bad in ("\x1b", "\x07"):
            assert bad not in out and bad not in err
        first = out.splitlines()[0]
        assert name.encode("unicode_escape").decode() in (first if argv[0] != "compile" else out)


def test_an_endless_input_file_is_refused_not_read_whole(capsys):
    """`check /dev/zero` reads 4 * MAX_SOURCE + 1 bytes at most, then stops (exit 2)."""
    assert main(["check", "/dev/zero"]) == 2
    assert "/dev/zero is larger than" in capsys.readouterr().err


def test_errors_do_not_reread_large_files_for_display(tmp_path, capsys, monkeypatch):
    import snndsl.cli as cli

    path = tmp_path / "m.snn"
    path.write_text("model M() {\n    input x: [4]\n    return x -> Linear(5, 2)\n}\n")
    assert cli._source_for_display(str(path)) == path.read_text()
    monkeypatch.setattr(cli, "DISPLAY_LIMIT", 10)
    assert cli._source_for_display(str(path)) is None
    assert cli._source_for_display("/dev/zero") is None
    binary = tmp_path / "b.snn"
    binary.write_bytes(b"\xff\xfe\x00")
    assert cli._source_for_display(str(binary)) is None
