"""fold-batchnorm (opt-in, ``-O inference``): what it folds, and that the folded model
computes what the unfolded one does (the equivalence test of this optimisation)."""

from __future__ import annotations

import types

import pytest
import torch

from snndsl.codegen.emit import emit_module
from snndsl.frontend.elaborate import elaborate
from snndsl.frontend.parse import parse
from snndsl.passes.manager import run_pipeline

from ..conftest import EXAMPLES

EXAMPLE_FILES = sorted(p.name for p in EXAMPLES.glob("*.snn"))
FOLD = ("fold-batchnorm",)


def _load(text: str, enable=(), name="x.snn"):
    ir = run_pipeline(elaborate(parse(text, name)), enable=enable)
    gen = emit_module(ir)
    mod = types.ModuleType("folded_test_module")
    exec(compile(gen.source, "<generated>", "exec"), mod.__dict__)  # noqa: S102 - our own output
    return ir, gen.source, getattr(mod, gen.class_name)()


def _pair(name: str):
    text = (EXAMPLES / name).read_text()
    torch.manual_seed(0)
    _, _, plain = _load(text)
    ir, src, folded = _load(text, FOLD)
    with torch.no_grad():
        for m in plain.modules():  # BatchNorm statistics that are not the identity
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for p in plain.parameters():
            if p.dim() > 1:
                p.mul_(3.0)
    folded.load_state_dict(plain.state_dict(), strict=True)
    return ir, src, plain, folded


def _xs(ir, T=3, N=4):
    gen = torch.Generator().manual_seed(2)
    return [
        torch.rand((N, *n.op.shape) if n.op.static else (T, N, *n.op.shape), generator=gen) * 2
        for n in ir.input_nodes()
    ]


def test_conv_bn_pairs_are_folded():
    ir, src, _, _ = _pair("sew_resnet.snn")
    # every BatchNorm2d of the unfolded model is now a folded node at the same path (compared
    # with the folded IR itself, both lists were empty once folding replaced the BatchNorm ops)
    plain_ir, _, _ = _load((EXAMPLES / "sew_resnet.snn").read_text())
    norms = sorted(n.path for n in plain_ir.nodes() if getattr(n.op, "kind", None) == "BatchNorm2d")
    assert len(norms) == 10
    assert sorted(n.path for n in ir.nodes() if type(n.op).__name__ == "FoldedNorm") == norms
    assert not any(getattr(n.op, "kind", None) == "BatchNorm2d" for n in ir.nodes())
    assert "bn1 = fused.conv_bn(self.conv1, self.bn1, img_nhwc)" in src
    assert "from snndsl.runtime import fused" in src


def test_off_by_default_and_keys_unchanged():
    text = (EXAMPLES / "csnn.snn").read_text()
    ir, src, plain = _load(text)
    assert "fold-batchnorm" not in ir.passes and "fused." not in src
    _, _, folded = _load(text, FOLD)
    assert list(plain.state_dict()) == list(folded.state_dict())


def test_a_producer_with_two_users_is_not_folded():
    text = """
model M() {
    input x: [3, 8, 8]
    h = x -> conv: Conv2d(3, 4, 3, padding=1)
    a = h -> bn: BatchNorm2d(4)
    b = h -> relu: ReLU()
    s = add(a, b) -> sn: LIF()
    return s
}
"""
    ir, src, _ = _load(text, FOLD)
    assert not any(n.container == "folded" for n in ir.nodes())
    assert "fused." not in src


def test_linear_then_batchnorm1d_is_folded():
    text = """
model M() {
    input x: [12]
    h = x -> fc: Linear(12, 6) -> bn: BatchNorm1d(6) -> sn: IF()
    return h
}
"""
    _, src, folded = _load(text, FOLD)
    assert "bn = fused.linear_bn(self.fc, self.bn, x_flat)" in src
    _, _, plain = _load(text)
    with torch.no_grad():
        plain.bn.running_mean.uniform_(-1, 1)
        plain.bn.running_var.uniform_(0.5, 2)
    folded.load_state_dict(plain.state_dict())
    x = torch.randn(4, 3, 12) * 2
    plain.eval(), folded.eval()
    with torch.no_grad():
        assert torch.equal(plain(x), folded(x))


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_eval_outputs_equal_the_unfolded_model(name):
    ir, _, plain, folded = _pair(name)
    xs = _xs(ir)
    plain.eval(), folded.eval()
    with torch.no_grad():
        a, b = plain(*xs, T=3), folded(*xs, T=3)
    # folding rounds differently: a spike may flip where H is within rounding of v_th
    assert (a != b).float().mean().item() <= 1e-3
    with torch.no_grad():  # cached folds: the same again
        assert torch.equal(folded(*xs, T=3), b)


@pytest.mark.parametrize("name", ["csnn.snn", "sew_resnet.snn"])
def test_training_mode_is_the_unfolded_computation(name):
    ir, _, plain, folded = _pair(name)
    xs = _xs(ir)
    outs = []
    for net in (plain, folded):
        net.train()
        y = net(*xs, T=3)
        (y * torch.linspace(-1, 1, y.numel()).view(y.shape)).sum().backward()
        outs.append((y.detach(), [p.grad for p in net.parameters()],
                     [b.clone() for b in net.buffers()]))  # fmt: skip
    (y1, g1, b1), (y2, g2, b2) = outs
    assert torch.equal(y1, y2)
    for a, b in zip(g1 + b1, g2 + b2, strict=True):
        assert torch.equal(a, b)


def test_eval_gradients_reach_every_parameter():
    """Eval mode with autograd on (e.g. fine-tuning with frozen statistics)."""
    ir, _, plain, folded = _pair("csnn.snn")
    xs = _xs(ir)
    grads = []
    for net in (plain, folded):
        net.eval()
        y = net(*xs, T=3)
        (y * torch.linspace(-1, 1, y.numel()).view(y.shape)).sum().backward()
        grads.append({k: p.grad for k, p in net.named_parameters()})
    assert grads[1]["bn1.weight"] is not None and grads[1]["conv1.weight"] is not None
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], atol=1e-4, rtol=1e-3, msg=k)


def test_the_cached_fold_follows_every_change():
    ir, _, plain, folded = _pair("csnn.snn")
    xs = _xs(ir)
    plain.eval(), folded.eval()

    def agree() -> None:
        with torch.no_grad():
            a, b = plain(*xs, T=3), folded(*xs, T=3)
        assert (a != b).float().mean().item() <= 1e-3

    agree()
    with torch.no_grad():  # in-place updates (an optimiser step, new statistics)
        for net in (plain, folded):
            net.bn2.running_var.mul_(3.0)
            net.conv2.weight.mul_(-1.0)
    agree()
    state = {k: v * 0.5 if v.is_floating_point() else v for k, v in plain.state_dict().items()}
    plain.load_state_dict(state), folded.load_state_dict(state)
    agree()
    plain.double(), folded.double()
    xs = [x.double() for x in xs]
    agree()


def test_api_and_cli_switch_it_on(capsys):
    import snndsl
    from snndsl.cli import main
    from snndsl.diagnostics import UsageError

    path = EXAMPLES / "csnn.snn"
    names = [p for p, _ in snndsl.trace_passes(path.read_text(), "csnn.snn", optimize="inference")]
    assert names[-1] == "fold-batchnorm"
    net = snndsl.compile_file(path, params={"channels": 4}, optimize="inference")
    assert "fused.conv_bn(self.conv1, self.bn1" in net.snn_source
    with pytest.raises(UsageError, match="inference"):
        snndsl.compile_file(path, optimize="fast")
    assert main(["compile", str(path), "-O", "inference"]) == 0
    assert "fused.conv_bn" in capsys.readouterr().out
    assert main(["compile", str(path)]) == 0
    assert "fused." not in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["compile", str(path), "-O", "fast"])
    assert info.value.code == 2


def test_viz_draws_the_opt_in_pass(tmp_path, capsys):
    from snndsl.cli import main

    out = tmp_path / "viz"
    assert main(["viz", str(EXAMPLES / "csnn.snn"), "-o", str(out), "--format", "dot", "-O", "inference"]) == 0
    dot = (out / "09-fold-batchnorm.dot").read_text()
    assert "bn1" in dot and "changed" in dot
    assert "fold-batchnorm" in (out / "index.html").read_text()
