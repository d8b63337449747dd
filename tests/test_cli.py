"""The command line: results on stdout, located errors on stderr, exit codes 0/1/2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snndsl.cli import main

from .conftest import EXAMPLES, ROOT

CSNN = str(EXAMPLES / "csnn.snn")


def test_check_prints_table_and_totals(capsys):
    assert main(["check", CSNN, "--set", "channels=8"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "[8, 28, 28]" in out and "parameters" in out and "yes" in out


def test_check_print_ir_after(capsys):
    assert main(["check", CSNN, "--print-ir-after", "fuse-stateless"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# IR after fuse-stateless") and "region: region0" in out


def test_compile_to_stdout_and_file(tmp_path, capsys):
    assert main(["compile", CSNN]) == 0
    src = capsys.readouterr().out
    assert "class CSNN(CompiledModule):" in src
    out = tmp_path / "m.py"
    assert main(["compile", CSNN, "-o", str(out)]) == 0
    assert out.read_text() == src
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left


def test_compile_error_leaves_output_untouched(tmp_path, capsys):
    bad = tmp_path / "bad.snn"
    bad.write_text("model M() {\n    input x: [4]\n    return x -> Linear(5, 2)\n}\n")
    out = tmp_path / "m.py"
    out.write_text("previous")
    assert main(["compile", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3:17: error:" in err and "^" in err and "hint:" in err
    assert out.read_text() == "previous"


@pytest.mark.parametrize("mode", ["m", "s"])
def test_run_prints_shapes_rates_and_time(mode, capsys):
    assert main(["run", CSNN, "-T", "2", "-N", "2", "--set", "channels=4", "--step-mode", mode]) == 0
    out = capsys.readouterr().out
    assert "output 0: [2, 2, 10]" in out if mode == "m" else "output 0: [2, 10]" in out
    assert "spike rate per stateful layer" in out and "sn4" in out and "ms per step" in out


@pytest.mark.parametrize(
    "argv, code, fragment",
    [
        (["check"], 2, "the following arguments are required"),
        (["frobnicate"], 2, "invalid choice"),
        (["check", "no/such/file.snn"], 2, "cannot read"),
        (["check", CSNN, "--set", "nope"], 2, "--set expects K=V"),
        (["check", CSNN, "--set", "chanels=3"], 2, "did you mean 'channels'"),
        (["check", CSNN, "--model", "Other"], 2, "no model named 'Other'"),
        (["run", CSNN, "--device", "cuda:0"], 2, "CUDA"),
    ],
)
def test_usage_errors_exit_2(argv, code, fragment, capsys):
    with pytest.raises(SystemExit) if argv in (["check"], ["frobnicate"]) else _nullcontext() as info:
        rc = main(argv)
    if info is not None and hasattr(info, "value"):
        rc = info.value.code
    assert rc == code
    assert fragment in capsys.readouterr().err


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def test_help_on_every_command():
    for cmd in ["check", "compile", "run", "viz", "export", "import", "train"]:
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0


def test_python_dash_m_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.snn"
    bad.write_text("model M() {\n    input x: [4]\n    return x -> Conv2(1, 2, 3)\n}\n")
    proc = subprocess.run([sys.executable, "-m", "snndsl", "check", str(bad)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 1
    assert "did you mean 'Conv2d'" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_a_missing_or_mistyped_model_parameter_is_located(tmp_path, capsys):
    """Found by the long fuzz run (it was a UsageError without a location)."""
    src = tmp_path / "p.snn"
    src.write_text("model R(c: int) {\n    input x: [4]\n    return x -> Linear(4, c)\n}\n")
    assert main(["check", str(src)]) == 1
    err = capsys.readouterr().err
    assert f"{src}:1:9: error: model R needs a value for parameter 'c'" in err and "--set c=" in err
    assert main(["check", str(src), "--set", "c=abc"]) == 1
    err = capsys.readouterr().err
    assert f"{src}:1:9: error: parameter 'c' of R must be int, got 'abc'" in err
    assert main(["check", str(src), "--set", "c=3"]) == 0


def test_import_of_the_nir_papers_graphs_spikes_and_says_how(tmp_path, capsys):
    data = ROOT / "tests/interop/data/nir_paper"
    out = tmp_path / "cnn.snn"
    assert main(["import", str(data / "cnn_sinabs.nir"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: dt not given: 1 s (= 1/r)" in err  # the notes reach the terminal, not only the file
    assert main(["run", str(out), "--weights", str(tmp_path / "cnn.pt"), "-T", "8", "--input-code", "poisson",
                 "--input-scale", "0.5"]) == 0
    assert "no layer spiked" not in capsys.readouterr().out
    out = tmp_path / "braille.snn"
    assert main(["import", str(data / "braille_noDelay_noBias_subtract.nir"), "-o", str(out),
                 "--reset", "subtract"]) == 0
    text = out.read_text()
    assert "prev(" in text and "v_reset=none" in text
    assert main(["check", str(out)]) == 0
    assert "1 recurrent region" in capsys.readouterr().out
