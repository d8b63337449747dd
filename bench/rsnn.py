"""Recurrent SNN training step (SHD-sized): snndsl's fused recurrent region against
SpikingJelly's ``LinearRecurrentContainer``, a plain per-step loop, snnTorch and Norse.

140 inputs -> Linear -> 256 LIF with a recurrent Linear (no bias) -> Linear readout (20
classes, non-spiking: the logits are the readout averaged over T), T=100, N=32. A step is
``zero_grad``, the neurons' reset, forward, cross-entropy of the T-averaged logits,
backward and an Adam step. Inputs are Bernoulli(0.05) spikes, as SHD's are sparse.

==================  ======================================================================
case                network
==================  ======================================================================
snndsl              the network compiled from ``SOURCE`` (``prev`` feedback): ``fc``
                    batched over T, fuse-recurrent's ``recurrent.recurrent_neuron`` (one
                    autograd Function for the whole loop), ``readout`` batched over T;
                    weights loaded from ``RSNN``'s state_dict
snndsl step loop    the same ``.snn`` compiled without fuse-recurrent: the generic
                    recurrent-region loop (``for t in range(T)`` over the step modules)
hand-written fused  ``RSNN``: the same calls written by hand (the compiled model's floor)
per-step loop       the same ``RSNN`` with :func:`~snndsl.runtime.recurrent.step_loop`:
                    ``x[t] + F.linear(s, W)`` into the single-step LIF, autograd throughout
spikingjelly        ``layer.Linear`` -> ``layer.LinearRecurrentContainer(LIFNode(), 256,
                    256, bias=False, step_mode='m')`` -> ``layer.Linear``; the container's
                    ``rc`` is ``Linear(512, 256)`` on ``cat(x[t], s[t-1])``, loaded with
                    ``[I, W]`` so that it computes the same network (in twice the FLOPs)
snntorch            ``snntorch.RLeaky(beta=0.5, linear_features=256, reset 'zero')`` stepped
                    in Python (a reference: its own LIF equations)
norse               ``norse.torch.LIFRecurrent(140, 256)`` (a reference: its own
                    current-based LIF, input weights inside)
==================  ======================================================================

Before timing, ``RSNN`` with the fused region and with the per-step loop must give
identical spikes (``torch.equal``) and equal gradients (1e-5); SpikingJelly's spikes are
compared and the fraction that differ printed (its ``rc`` rounds ``x + sW^T`` in another
order, so a few neurons near threshold can flip). ::

    python bench/rsnn.py [--quick] [--threads 1] [--repeats 7] [--no-naive]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import common  # noqa: F401 - puts the repository on sys.path
import torch
from common import header, parser, ratio_line, setup, time_interleaved
from torch import nn
from torch.nn import functional as F

from snndsl.runtime import functional, neuron
from snndsl.runtime.recurrent import recurrent_neuron, step_loop

#: the benchmarked network in the language, with ``RSNN``'s names (``examples/shd_rsnn.snn``
#: is the same layer with the SHD paper's time constants and an ``LI`` readout)
SOURCE = """
model RSNN(n_in: int, n: int, n_out: int) {
    input x: [n_in]
    s = add(x -> fc: Linear(n_in, n), prev(s) -> rec: Linear(n, n, bias=false)) -> sn: LIF()
    return s -> readout: Linear(n, n_out)
}
"""


class RSNN(nn.Module):
    """``s = add(x -> fc, prev(s) -> rec) -> sn: LIF()``, then ``readout``, written by hand."""

    def __init__(self, n_in: int, n: int, n_out: int, fused: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n)
        self.rec = nn.Linear(n, n, bias=False)
        self.sn = neuron.LIFNode(step_mode="m")
        self.readout = nn.Linear(n, n_out)
        self.region = recurrent_neuron if fused else step_loop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        s = self.region(self.fc(x), self.rec.weight, None, self.sn, None)
        return self.readout(s)


def spikingjelly_net(ours: RSNN) -> nn.Module:
    from spikingjelly.activation_based import layer
    from spikingjelly.activation_based import neuron as sj_neuron

    n_in, n = ours.fc.in_features, ours.fc.out_features
    net = nn.Sequential(
        layer.Linear(n_in, n, step_mode="m"),
        layer.LinearRecurrentContainer(sj_neuron.LIFNode(), n, n, bias=False, step_mode="m"),
        layer.Linear(n, ours.readout.out_features, step_mode="m"),
    )
    with torch.no_grad():
        net[0].load_state_dict(ours.fc.state_dict())
        net[1].rc.weight.copy_(torch.cat((torch.eye(n), ours.rec.weight), dim=1))
        net[2].load_state_dict(ours.readout.state_dict())
    return net


def compiled(ours: RSNN, fuse: bool = True) -> tuple[nn.Module | None, str]:
    """The compiled ``.snn`` version of the network (weights from ``ours``), or ``None``
    and why not; ``fuse=False`` compiles it without fuse-recurrent (the generic step loop)."""
    try:
        import snndsl

        net = snndsl.compile_source(SOURCE, "rsnn.snn", params={"n_in": ours.fc.in_features,
                                                                "n": ours.fc.out_features,
                                                                "n_out": ours.readout.out_features},
                                    disable=() if fuse else ("fuse-recurrent",))  # fmt: skip
        net.load_state_dict(ours.state_dict(), strict=True)
    except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return net, ""


def snntorch_net(n_in: int, n: int, n_out: int) -> tuple[nn.Module | None, str]:
    try:
        import snntorch
    except Exception as exc:  # noqa: BLE001
        return None, f"import snntorch failed: {type(exc).__name__}: {exc}"

    class SnnTorchRSNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(n_in, n)
            self.lif = snntorch.RLeaky(beta=0.5, linear_features=n, reset_mechanism="zero")
            self.readout = nn.Linear(n, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            cur = self.fc(x)
            spk, mem = self.lif.init_rleaky()
            out = []
            for t in range(x.shape[0]):
                spk, mem = self.lif(cur[t], spk, mem)
                out.append(spk)
            return self.readout(torch.stack(out))

    return SnnTorchRSNN(), f"snntorch {snntorch.__version__}"


def norse_net(n_in: int, n: int, n_out: int) -> tuple[nn.Module | None, str]:
    try:
        import norse
        import norse.torch as nt
    except Exception as exc:  # noqa: BLE001
        return None, f"import norse failed: {type(exc).__name__}: {exc}"

    class NorseRSNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lif = nt.LIFRecurrent(n_in, n)
            self.readout = nn.Linear(n, n_out)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s, _ = self.lif(x)
            return self.readout(s)

    return NorseRSNN(), f"norse {getattr(norse, '__version__', '1.1')}"


def training_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  reset: Callable[[], None] | None = None) -> Callable[[], None]:  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        if reset is not None:
            reset()
        loss = F.cross_entropy(net(x).mean(0), y)
        loss.backward()
        opt.step()

    return run


def graph_nodes(net: nn.Module, x: torch.Tensor, reset: Callable[[], None] | None = None) -> int:
    """Autograd nodes in the graph of one forward pass (the loss's backward walks them)."""
    if reset is not None:
        reset()
    root = net(x).sum().grad_fn
    seen, stack = set(), [root]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return len(seen)


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()
    except OSError:
        return "n/a" if not hasattr(os, "getloadavg") else str(os.getloadavg())


def check(ours: RSNN, naive: RSNN, sj: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Fused == per-step loop (spikes bit for bit, gradients 1e-5); SpikingJelly close."""
    spikes = {}
    for name, net in (("fused", ours), ("loop", naive)):
        net.zero_grad(set_to_none=True)
        functional.reset_net(net)
        s = net.region(net.fc(x), net.rec.weight, None, net.sn, None)
        F.cross_entropy(net.readout(s).mean(0), y).backward()
        spikes[name] = s.detach()
    assert torch.equal(spikes["fused"], spikes["loop"]), "fused spikes differ from the step loop"
    for (name, a), b in zip(ours.named_parameters(), naive.parameters(), strict=True):
        assert a.grad is not None and b.grad is not None, name
        err = (a.grad - b.grad).abs().max().item()
        assert err <= 1e-5 * b.grad.abs().max().item() + 1e-7, f"{name}: gradients differ by {err}"
    from spikingjelly.activation_based import functional as sj_functional

    sj_functional.reset_net(sj)
    with torch.no_grad():
        s_sj = sj[1](sj[0](x))
    differ = (s_sj != spikes["fused"]).float().mean().item()
    print(f"# check: fused == per-step loop (spikes bit for bit, gradients 1e-5); firing rate "
          f"{spikes['fused'].mean().item():.3f}; spikingjelly's spikes differ in {differ:.2%}",
          flush=True)  # fmt: skip
    assert differ < 0.05, "spikingjelly's network does not compute the same thing"


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--no-naive", action="store_true", help="skip the per-step loop")
    p.add_argument("--no-others", action="store_true", help="skip snnTorch and Norse")
    args = p.parse_args(argv)
    device = setup(args)
    if device.type != "cpu":
        raise SystemExit("bench/rsnn.py: CPU only for now")
    T, N, n_in, n, n_out = (8, 4, 14, 32, 5) if args.quick else (100, 32, 140, 256, 20)
    header(f"rsnn: {n_in}-{n}r-{n_out}, T={T}, N={N}, train step (Adam)", args, device)
    print(f"# /proc/loadavg at start: {loadavg()}", flush=True)
    torch.manual_seed(0)
    ours = RSNN(n_in, n, n_out)
    with torch.no_grad():  # about 10 % firing at the SHD input density
        ours.fc.weight.mul_(12.0)
        ours.rec.weight.mul_(2.0)
    x = (torch.rand(T, N, n_in) < 0.05).float()
    y = torch.randint(0, n_out, (N,))
    naive = RSNN(n_in, n, n_out, fused=False)
    naive.load_state_dict(ours.state_dict())
    sj = spikingjelly_net(ours)
    check(ours, naive, sj, x, y)

    from spikingjelly.activation_based import functional as sj_functional

    snn_net, why = compiled(ours)
    if snn_net is None:
        raise SystemExit(f"rsnn: the .snn network does not compile: {why}")
    loop_net, why = compiled(ours, fuse=False)
    assert loop_net is not None, why
    with torch.no_grad():
        want = ours(x)
        assert torch.equal(snn_net(x), want) and torch.equal(loop_net(x), want), "the .snn network differs"
    print("# check: the compiled .snn network (fused and step loop) == the hand-written one, bit for bit",
          flush=True)
    nets: dict[str, tuple[nn.Module, Callable[[], None] | None]] = {
        "snndsl": (snn_net, None),
        "spikingjelly": (sj, lambda: sj_functional.reset_net(sj)),
        "hand-written fused": (ours, None),
        "snndsl step loop": (loop_net, None),
    }
    if not args.no_naive:
        nets["per-step loop"] = (naive, None)
    if not args.no_others:
        for make in (snntorch_net, norse_net):
            net, what = make(n_in, n, n_out)
            if net is None:
                print(f"# skipped: {what}", flush=True)
                continue
            nets[what.split()[0]] = (net, None)
            print(f"# {what}", flush=True)
    print("# autograd nodes per forward: " + ", ".join(
        f"{name} {graph_nodes(net, x, reset)}" for name, (net, reset) in nets.items()), flush=True)  # fmt: skip
    cases = {name: training_step(net, x, y, reset) for name, (net, reset) in nets.items()}
    med = time_interleaved(cases, args.repeats, args.warmup, device)
    for name in nets:
        if name != "snndsl":
            ratio_line("rsnn train", med["snndsl"], med[name], theirs_name=name)
    print(f"# /proc/loadavg at end: {loadavg()}", flush=True)


if __name__ == "__main__":
    main()
