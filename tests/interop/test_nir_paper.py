"""The NIR paper's reference graphs (neuromorphs/NIR, ``paper/``) import, compile and run.

The Braille SRNNs (CubaLIF with a recurrent Affine: a NIR cycle) agree with Norse 1.1.0's
own NIR import on the same spike trains; the stored reference (``data/nir_paper/
reference.npz``, made by ``make_reference.py`` there) needs no Norse at test time, and
when Norse is importable the tests also check it live. Nothing is fetched at run time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nir
import numpy as np
import pytest
import torch

import snndsl
from snndsl.interop.nir import read_nir, to_nir
from snndsl.interop.nir_import import import_graph
from snndsl.runtime import functional

DATA = Path(__file__).parent / "data" / "nir_paper"
#: graph -> reset by subtraction? (the paper: "_zero" graphs reset to zero, "_subtract" by subtraction)
BRAILLE = {"braille_noDelay_bias_zero": False, "braille_noDelay_noBias_subtract": True}
#: the share of inputs whose class must agree with Norse's ("nearly every input")
AGREEMENT = 0.96


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(DATA / "reference.npz") as f:
        return {k: f[k] for k in f.files}


def _net(name: str, soft_reset: bool = False, dt: float | None = 1e-4, step_mode: str = "m"):
    result = import_graph(read_nir(DATA / f"{name}.nir"), dt=dt, soft_reset=soft_reset)
    net = snndsl.compile_source(result.source, step_mode=step_mode)
    net.load_state_dict(result.state_dict, strict=True)
    return net.eval(), result


def _run(net, x: np.ndarray) -> np.ndarray:
    """Output spikes ``[N, T, out]`` for input ``[N, T, ...]``."""
    with torch.no_grad():
        return net(torch.from_numpy(x).float().transpose(0, 1)).transpose(0, 1).numpy()


@pytest.mark.parametrize("name", list(BRAILLE))
def test_braille_imports_as_a_recurrent_cubalif_network(name):
    _, result = _net(name, BRAILLE[name])
    src = result.source
    assert "add(fc1, prev(lif1_w_rec))" in src  # the cycle lif1.lif -> lif1.w_rec -> lif1.lif
    assert "lif1_w_rec = lif1_lif -> lif1_w_rec: Linear" in src
    assert "lif1_lif: CubaLIF(" in src and "lif2: CubaLIF(" in src
    assert "Scale(" not in src  # w_in = tau_syn/dt and r = tau_mem/dt: the Euler gain is 1
    if BRAILLE[name]:
        assert src.count("v_reset=none") == 2
        assert "c_decay=0.75, v_decay=0.85" in src  # parameters_noDelay_noBias_ref_subtract.json
    else:
        assert "c_decay=0.55, v_decay=0.9" in src  # alpha_r, beta_r of ..._bias_ref_zero.json
    assert any("forward-Euler" in line for line in result.report)
    assert any("one step of delay" in line for line in result.report)


@pytest.mark.parametrize("name", list(BRAILLE))
def test_braille_agrees_with_norse(name, ref):
    net, _ = _net(name, BRAILLE[name])
    z = _run(net, ref["braille_input"])
    want = ref[f"{name}_norse_spikes"]
    assert z.shape == want.shape == (50, 256, 7)
    classes = z.sum(1).argmax(1)
    agree = float(np.mean(classes == ref[f"{name}_norse_class"]))
    same = float(np.mean([(z[i] == want[i]).all() for i in range(len(z))]))
    print(f"{name}: class agrees with Norse 1.1.0 on {agree:.0%} of {len(z)} inputs, "
          f"identical output spike trains on {same:.0%}")
    assert agree >= AGREEMENT
    assert len(set(classes.tolist())) >= 4  # the inputs exercise the network
    assert abs(z.sum() - want.sum()) <= 0.01 * want.sum()


def test_braille_single_step_mode_equals_multi_step(ref):
    name = "braille_noDelay_bias_zero"
    x = torch.from_numpy(ref["braille_input"][:4, :64]).float().transpose(0, 1)
    multi, _ = _net(name)
    single, _ = _net(name, step_mode="s")
    with torch.no_grad():
        want = multi(x)
        functional.reset_net(single)
        got = torch.stack([single(x[t]) for t in range(len(x))])
    assert torch.equal(got, want)


@pytest.mark.parametrize("name", list(BRAILLE))
def test_braille_round_trip_through_export(name, ref, tmp_path):
    net, _ = _net(name, BRAILLE[name])
    graph, report = to_nir(net, dt=1e-4)
    assert ("lif1_w_rec", "lif1_lif") in graph.edges and ("lif1_lif", "lif1_w_rec") in graph.edges
    assert isinstance(graph.nodes["lif1_lif"], nir.CubaLIF)
    assert not any("delay" in line and "readers" in line for line in report)
    nir.write(tmp_path / "rt.nir", graph)
    again = import_graph(read_nir(tmp_path / "rt.nir"), dt=1e-4)  # soft reset from the metadata
    net2 = snndsl.compile_source(again.source)
    net2.load_state_dict(again.state_dict, strict=True)
    x = ref["braille_input"][:8]
    assert np.array_equal(_run(net2.eval(), x), _run(net, x))


def test_norse_reference_is_live_norse(ref):
    """With Norse installed: the stored reference is what Norse 1.1.0 computes, and snndsl
    agrees with it live (the paper's call: from_nir(graph, dt=1e-4, reset_method=...))."""
    pytest.importorskip("norse")
    import norse.torch
    from norse.torch.functional import reset

    x = torch.from_numpy(ref["braille_input"][:6]).float().transpose(0, 1)
    for name, soft in BRAILLE.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            norse_net = norse.torch.from_nir(nir.read(DATA / f"{name}.nir"), dt=1e-4,
                                             reset_method=reset.reset_subtract if soft else reset.reset_value)
        state, out = None, []
        with torch.no_grad():
            for t in range(len(x)):
                z, state = norse_net(x[t], state)
                out.append(z)
        live = torch.stack(out).transpose(0, 1).numpy()
        assert np.array_equal(live, ref[f"{name}_norse_spikes"][:6])
        net, _ = _net(name, soft)
        ours = _run(net, ref["braille_input"][:6])
        assert np.array_equal(ours.sum(1).argmax(1), live.sum(1).argmax(1))


def test_cnn_sinabs_imports_runs_and_spikes(ref):
    """Sinabs writes IF with r = 1 for one input per step: without a dt the import reads it
    so (dt = 1/r) and the network spikes as Norse's import of it does."""
    net, result = _net("cnn_sinabs", dt=None)
    assert "dt = 1 s" in result.source
    assert any("dt not given: 1 s" in line for line in result.report)
    assert "n1: IF()" in result.source  # threshold 1, not 1 / (r dt)
    z = _run(net, ref["cnn_input"])
    assert z.shape == (8, 40, 10)
    assert z.sum() > 0 and (z.sum((1, 2)) > 0).all()
    want = ref["cnn_sinabs_norse_spikes"]
    print(f"cnn_sinabs: {int(z.sum())} output spikes, Norse 1.1.0 {int(want.sum())}; "
          f"identical trains on {np.mean([(z[i] == want[i]).all() for i in range(len(z))]):.0%} of inputs")
    assert abs(z.sum() - want.sum()) <= 0.02 * want.sum()


def test_cnn_sinabs_at_a_small_dt_says_how_to_get_spikes():
    """At dt = 1e-4 s an r = 1 IF integrates 1e-4 of its input per step (thresholds 1e4):
    the import says so and names the dt that gives Sinabs' and Norse's spikes."""
    _, result = _net("cnn_sinabs", dt=1e-4)
    assert "IF(v_threshold=10000.0)" in result.source
    note = [line for line in result.report if "hardly" in line]
    assert len(note) == 1 and "--dt 1" in note[0]
    assert "# note: " + note[0] in result.source
