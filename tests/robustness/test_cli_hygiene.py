"""CLI hygiene: exit codes 0/1/2 as specified, ``--help`` on every command, errors on
stderr and results on stdout, ``NO_COLOR`` respected, and no Python traceback ever
reaches stderr (checked in-process and, for a few cases, as a real subprocess)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snndsl import cli
from snndsl.diagnostics import SnnError, SourceSpan, print_error

from .support import EXAMPLES, LOCATED, ROOT, assert_clean, run_cli

GOOD = "model M() { input x: [4]; return x -> fc: Linear(4, 2) -> sn: LIF() }\n"
BAD = "model M() {\n    input x: [4]\n    return x -> fc: Linear(5, 2)\n}\n"
COMMANDS = sorted(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.snn"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.snn"
    path.write_text(BAD)
    return path


def test_every_command_is_covered() -> None:
    assert {"check", "compile", "run", "viz", "export", "import", "train"} <= set(COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], *[[c, "--help"] for c in COMMANDS]],
                         ids=lambda a: " ".join(a))
def test_help(argv: list[str]) -> None:
    status, out, err = run_cli(argv)
    assert status == 0 and err == ""
    assert out.startswith("usage: snndsl")
    if len(argv) == 2:
        assert f"snndsl {argv[0]}" in out.splitlines()[0]


def test_version() -> None:
    status, out, err = run_cli(["--version"])
    assert status == 0 and out.startswith("snndsl ") and err == ""


@pytest.mark.parametrize("argv", [
    [], ["frobnicate"], ["check"], ["check", "--bogus", "x.snn"], ["run", "{good}", "-T", "zero"],
    ["run", "{good}", "-T", "0"], ["run", "{good}", "--step-mode", "x"], ["compile", "{good}", "--set", "nokey"],
    ["check", "{good}", "--set", "c=1"], ["check", "{good}", "--model", "Other"], ["check", "{missing}"],
    ["check", "{dir}"], ["check", "{good}", "--print-ir-after", "nope"], ["viz", "{good}"],
    ["export", "{good}"], ["import", "{missing}", "-o", "{dir}/o.snn"], ["run", "{good}", "--device", "cuda:7"],
    ["run", "{good}", "--device", "toaster"],
], ids=lambda a: " ".join(a) or "nothing")
def test_usage_errors_exit_2(argv: list[str], good: Path, tmp_path: Path) -> None:
    if argv[-2:] == ["--device", "cuda:7"]:
        import torch

        if torch.cuda.device_count() > 7:
            pytest.skip("a machine with 8 GPUs")
    argv = [a.format(good=good, missing=tmp_path / "missing.snn", dir=tmp_path) for a in argv]
    status, out, err = run_cli(argv)
    assert status == 2, (status, err)
    assert out == "" and err.strip(), "usage errors go to stderr only"
    assert "Traceback" not in err


@pytest.mark.parametrize("device", ["meta", "xla", "mps"])
def test_run_on_an_unusable_device(device: str, good: Path) -> None:
    if device == "mps":
        import torch

        if torch.backends.mps.is_available():
            pytest.skip("a machine with MPS")
    status, out, err = run_cli(["run", str(good), "--device", device])
    assert_clean(status, out, err, allowed=(2,))
    assert f"--device {device}" in err


@pytest.mark.parametrize("command", ["check", "compile", "run", "viz", "export"])
def test_input_errors_exit_1_with_a_located_diagnostic(command: str, bad: Path, tmp_path: Path) -> None:
    extra = {"viz": ["-o", str(tmp_path / "viz")], "export": ["--nir", str(tmp_path / "o.nir")]}.get(command, [])
    status, out, err = run_cli([command, str(bad), *extra])
    assert_clean(status, out, err, str(bad), allowed=(1,))
    assert out == "", "nothing on stdout when the input is wrong"
    lines = err.splitlines()
    assert LOCATED.match(lines[0]) and lines[0].startswith(f"{bad}:3:17: error: ")
    assert lines[1].strip() == "return x -> fc: Linear(5, 2)" and lines[2].strip().startswith("^")
    assert any(line.startswith("hint: ") for line in lines)


@pytest.mark.parametrize("command", ["check", "compile", "run"])
def test_results_go_to_stdout(command: str, good: Path) -> None:
    status, out, err = run_cli([command, str(good), *(["-T", "2"] if command == "run" else [])])
    assert status == 0 and out.strip() and err == "", err


def test_compile_to_a_file_reports_on_stdout(good: Path, tmp_path: Path) -> None:
    status, out, err = run_cli(["compile", str(good), "-o", str(tmp_path / "m.py")])
    assert status == 0 and out.startswith("wrote ") and err == "", err


def test_compile_without_output_writes_only_the_module(good: Path) -> None:
    status, out, err = run_cli(["compile", str(good)])
    assert status == 0 and err == ""
    compile(out, "generated", "exec")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _rendered(monkeypatch: pytest.MonkeyPatch, no_color: str | None) -> str:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    stream = _Tty()
    err = SnnError("boom", SourceSpan("f.snn", 1, 5, 1, 8), "fix it").with_source("abc defgh\n")
    print_error(err, stream)
    return stream.getvalue()


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" in _rendered(monkeypatch, None), "a terminal gets colour"
    plain = _rendered(monkeypatch, "1")
    assert "\x1b[" not in plain and plain.startswith("f.snn:1:5: error: boom")
    stream = io.StringIO()  # not a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    print_error(SnnError("boom", SourceSpan("f.snn", 1, 1, 1, 2)), stream)
    assert "\x1b[" not in stream.getvalue()


def test_cli_errors_have_no_colour_under_no_color(bad: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    status, out, err = run_cli(["check", str(bad)])
    assert_clean(status, out, err, str(bad), allowed=(1,))
    assert "\x1b[" not in err and "\x1b[" not in out


def _subprocess(argv: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "snndsl", *argv], capture_output=True, text=True,
                          timeout=180, env=env, cwd=cwd, **kw)


def test_subprocess_input_error(bad: Path, tmp_path: Path) -> None:
    done = _subprocess(["check", str(bad)], tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{bad}:3:17: error: ")


def test_subprocess_usage_error_and_broken_pipe(tmp_path: Path) -> None:
    done = _subprocess(["frobnicate"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
    # a reader that stops early (`snndsl compile x | head -1`) is not an error
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "snndsl", "check", str(EXAMPLES[0]), "--print-ir-after", "all"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=180) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("char", ["\u2028", "\x0c", "\x1c", "\x85"], ids=["U+2028", "FF", "FS", "NEL"])
def test_diagnostic_shows_the_right_line_after_unicode_line_breaks(char: str, tmp_path: Path) -> None:
    src = tmp_path / "ls.snn"
    src.write_text(f"# a comment {char} with an odd character\nmodel M() {{\n    input x: [4]\n"
                   "    return x -> fc: Linear(5, 2)\n}\n", encoding="utf-8")
    status, out, err = run_cli(["check", str(src)])
    assert_clean(status, out, err, str(src), allowed=(1,))
    assert err.split("\n")[1].strip() == "return x -> fc: Linear(5, 2)", err
