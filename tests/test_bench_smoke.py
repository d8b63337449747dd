"""Smoke test of the benchmarks in bench/: each runs with --quick and prints its ratio lines.

The scripts are loaded from their files and their ``main(["--quick"])`` (or the arguments
of ``ARGS``) is called in this process (one import of torch and SpikingJelly for all of
them). Figures are not checked, only that every comparison printed its line.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("spikingjelly.activation_based")

BENCH = Path(__file__).resolve().parent.parent / "bench"
RATIO = r"[\d.]+ ms, .+ [\d.]+ ms, speedup [\d.]+x"

EXPECTED = {
    "csnn": [
        rf"^csnn train: snndsl {RATIO}$",
        rf"^csnn inference: snndsl {RATIO}$",
        r"^csnn train: .*naive per-step loop",
    ],
    "resnet": [
        rf"^resnet train: snndsl {RATIO}$",
        rf"^resnet inference: snndsl {RATIO}$",
        r"^resnet inference: .*naive per-step loop",
    ],
    "static": [
        r"^static encoder rows: with hoist-static 2, without 4 ",
        rf"^static train: snndsl {RATIO}$",
        r"^static inference: .*without hoist-static .*speedup",
    ],
    "memory": [
        r"^memory csnn train .*snndsl [\d.]+ MiB, spikingjelly [\d.]+ MiB, ratio [\d.]+x",
        r"^memory resnet train ",
        r"^memory static train ",
    ],
    "transformer": [
        rf"^spikformer train: snndsl {RATIO}$",
        rf"^spikformer inference: snndsl {RATIO}$",
        r"^spikformer inference -O inference: ",
        rf"^spikformer train \(channels-last\): snndsl {RATIO}$",
    ],
    "neuron": [
        r"^lif medians: spikingjelly / generated-c [\d.]+x \(speedup\), generated-torch / generated-c [\d.]+x, "
        r"generated-c / floor [\d.]+x$",
        r"^izhikevich medians: spikingjelly / generated-c [\d.]+x \(speedup\)",
        r"^izhikevich generated-c split medians: forward kernel [\d.]+ ms, backward kernel [\d.]+ ms, the rest ",
    ],
    "compile": [
        r"^compile 10 layers: to source [\d.]+ ms",
        r"^compile growth 20->40 layers to source: ",
        r"^compile check 20 layers: parse and check [\d.]+ ms",
    ],
}

#: the arguments of each script's quick run, where more than ``--quick``
ARGS = {"neuron": ["--quick", "--split", "--only", "lif", "izhikevich"]}


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_quick_run_prints_ratio_lines(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if name == "memory" and not Path("/proc/self/clear_refs").exists():
        pytest.skip("memory.py reads /proc (Linux)")
    if name == "neuron":
        from snndsl.runtime import neuron
        from snndsl.runtime.kernels import program_native

        program = neuron.LIFNode(step_mode="m").generated().PROGRAM
        if program_native.kernel(program) is None:
            pytest.skip(f"the generated kernel cannot be built here: {program_native.error(program)}")
    _load(name).main(ARGS.get(name, ["--quick"]))
    out = capsys.readouterr().out
    for pattern in EXPECTED[name]:
        assert re.search(pattern, out, re.MULTILINE), (
            f"{name}: no line matching {pattern!r} in\n{out}"
        )


def test_gpu_script_is_valid_bash() -> None:
    import shutil
    import subprocess

    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    text = (BENCH / "gpu.sh").read_text()
    assert "set -euo pipefail" in text and "--device cuda" in text
    subprocess.run([bash, "-n", str(BENCH / "gpu.sh")], check=True)
