"""``snndsl run``: the peak memory of a call, failures inside layers, the random input
(issue #17)."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest
import torch

import snndsl
from snndsl.cli import main
from snndsl.limits import available_memory, run_bytes

from .support import ROOT, assert_clean

TWO_LAYERS = """\
model M() {
    input x: [4]
    return x -> fc: Linear(4, 4) -> sn: LIF() -> fc2: Linear(4, 4) -> sn2: LIF()
}
"""

WEAK = "model M() {\n    input x: [4]\n    return x -> fc: Linear(4, 2) -> sn: LIF()\n}\n"


def test_run_bytes_counts_every_value_alive_at_once():
    """Input, fc, sn, fc2, sn2 (the time flatten/unflatten are views): 5 values."""
    ir = snndsl.compile_source(TWO_LAYERS, "m.snn").snn_ir
    peak, worst, size = run_bytes(ir, 10, 3, "m")
    one = 10 * 3 * 4 * 4
    assert (peak, size) == (5 * one, one)
    assert run_bytes(ir, 10, 3, "s")[0] == 5 * 3 * 4 * 4


def test_the_peak_not_the_largest_value_is_checked(tmp_path):
    """Each value alone fits under the address-space limit, all five together do not:
    refused before allocating (it used to die in the allocator)."""
    path = tmp_path / "m.snn"
    path.write_text(TWO_LAYERS)
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3_500_000_000, 3_500_000_000))\n"
            "from snndsl.cli import main\n"
            f"sys.exit(main(['run', {str(path)!r}, '-T', '60000000']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert_clean(proc.returncode, proc.stdout, proc.stderr, str(path), allowed=(1,))
    assert "one forward call needs 8.9 GiB" in proc.stderr and "1.8 GiB" in proc.stderr


def test_available_memory_follows_an_address_space_limit():
    code = ("import resource\n"
            "resource.setrlimit(resource.RLIMIT_AS, (6_000_000_000, 6_000_000_000))\n"
            "from snndsl.limits import available_memory\n"
            "print(available_memory())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 0 < int(out.stdout) < 6_000_000_000
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY or available_memory() > 0


def test_a_layer_that_fails_at_run_time_is_located(tmp_path, capsys):
    """A layer too large for the compile-time probe (so only meta-checked) fails on real
    data: the error points at its line, inside the block, not a traceback."""
    path = tmp_path / "m.snn"
    path.write_text("block B() {\n    input x\n    return x -> act: nn.CELU(alpha=0)\n}\n"
                    "model M() {\n    input x: [100000]\n    return x -> b: B() -> sn: LIF()\n}\n")
    assert main(["run", str(path), "-T", "2", "-N", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:3:17: error: 'b.act' failed at run time")
    assert "alpha cannot be 0" in err and "in block B, used as `b`" in err and "Traceback" not in err


def test_the_located_forward_leaves_outputs_and_hooks_alone():
    from snndsl.failures import located_failures

    net = snndsl.compile_source(TWO_LAYERS, "m.snn")
    x = torch.rand(3, 2, 4) * 4
    want = net(x)
    with located_failures(net, net.snn_ir):
        got = net(x)
    assert torch.equal(got, want)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


@pytest.mark.parametrize("argv, rate, note", [
    ([], "0.0000", "try --input-scale 4"),
    (["--input-scale", "8"], "0.2500", None),
    (["--input-scale", "0.5"], "0.0000", "try --input-scale 2"),
    (["--input-code", "poisson"], "0.0000", "try --input-code uniform --input-scale 4"),
])
def test_random_input_scale_and_the_silent_network_note(tmp_path, capsys, argv, rate, note):
    path = tmp_path / "m.snn"
    path.write_text(WEAK)
    assert main(["run", str(path), "-T", "4", "-N", "2", *argv]) == 0
    out, err = capsys.readouterr()
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("sn "))
    if rate == "0.0000":
        assert line.split()[-1] == rate
    else:
        assert float(line.split()[-1]) > 0
    assert err == ""
    if note:
        assert "note: no layer spiked" in out and note in out
    else:
        assert "no layer spiked" not in out


def test_poisson_input_is_spikes():
    from snndsl.commands import _random_input

    torch.manual_seed(0)
    x = _random_input((1000, 4), 1.0, "poisson", "cpu")
    assert set(x.unique().tolist()) <= {0.0, 1.0} and 0.3 < float(x.mean()) < 0.7


@pytest.mark.parametrize("scale", ["0", "-1", "inf", "nan", "x"])
def test_bad_input_scales_are_usage_errors(tmp_path, capsys, scale):
    path = tmp_path / "m.snn"
    path.write_text(WEAK)
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--input-scale", scale])
    assert info.value.code == 2
    assert "--input-scale" in capsys.readouterr().err
