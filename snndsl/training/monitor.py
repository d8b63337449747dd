"""Watch the spikes of a compiled model with forward hooks on its stateful modules.

The IR of a compiled model (``net.snn_ir``) says which nodes are stateful; each is the
submodule ``net.module_at(node.path)``. Spiking neurons (IF, LIF, PLIF, ...) and
stateful ``use`` modules are watched; Dropout and the leaky-integrator readout ``LI``
are stateful too but their outputs are not spike trains (a mask, a membrane
potential), so they are left out.

A module runs either once per sequence (multi-step: output ``[T, N, *]``) or once per
time step (a step-loop container: output ``[N, *]`` per call); both are handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..ir import ops
from ..ir.graph import IR

if TYPE_CHECKING:
    from ..runtime.model import CompiledModule


@dataclass(frozen=True)
class Watched:
    path: str
    shape: tuple[int, ...]  # per-sample shape


def spiking_layers(net: CompiledModule) -> list[Watched]:
    """The stateful layers whose output is a spike train, in source order."""
    ir: IR = net.snn_ir
    out = []
    for n in ir.nodes():
        if not n.stateful:
            continue
        if _spiking(n.op):
            out.append(Watched(n.path, tuple(n.shape or ())))
    return out


def _spiking(op: ops.Op) -> bool:
    """Whether a stateful node's output is a spike train: a neuron other than the ``LI``
    readout (also as the neuron of a fused recurrent region, whose module is at the
    node's path), or a stateful ``use`` module."""
    if isinstance(op, ops.RecurrentNeuron):
        op = op.neuron
    return (isinstance(op, ops.Neuron) and op.spiking) or isinstance(op, ops.UserModule)


class SpikeMonitor:
    """Count spikes per layer (always) and keep the spike trains (``record=True``).

    Use as a context manager around forward calls::

        with SpikeMonitor(net, T) as mon:
            net(x, T=T)
        mon.rates()            # {path: mean firing rate}
    """

    def __init__(self, net: CompiledModule, T: int, record: bool = False):
        self.net = net
        self.T = T
        self.record = record
        self.layers = spiking_layers(net)
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []
        self.reset()

    def reset(self) -> None:
        self.spikes = {w.path: 0.0 for w in self.layers}
        self.count = {w.path: 0 for w in self.layers}
        # per time step: spikes and element counts (for rate-per-step pictures)
        self.step_spikes = {w.path: torch.zeros(self.T, dtype=torch.float64) for w in self.layers}
        self.step_count = {w.path: torch.zeros(self.T, dtype=torch.float64) for w in self.layers}
        self._calls: dict[str, int] = {w.path: 0 for w in self.layers}
        self.trains: dict[str, list[torch.Tensor]] = {w.path: [] for w in self.layers}

    def _hook(self, path: str, ndim: int):
        def hook(module, args, output):
            if isinstance(output, tuple):
                output = output[0]
            if not isinstance(output, torch.Tensor):
                return
            with torch.no_grad():
                o = output.detach()
                self.spikes[path] += float(o.sum())
                self.count[path] += o.numel()
                if o.dim() == ndim + 2 and o.shape[0] == self.T:  # [T, N, *]: a whole sequence
                    per_step = o.reshape(self.T, -1).double()
                    self.step_spikes[path] += per_step.sum(1).cpu()
                    self.step_count[path] += per_step.shape[1]
                    if self.record:
                        self.trains[path].append(o.reshape(self.T, o.shape[1], -1).float().cpu())
                elif o.dim() == ndim + 1:  # [N, *]: one step of a step loop
                    t = self._calls[path] % self.T
                    self._calls[path] += 1
                    self.step_spikes[path][t] += float(o.sum())
                    self.step_count[path][t] += o.numel()
                    if self.record:
                        self.trains[path].append(o.reshape(1, o.shape[0], -1).float().cpu())
        return hook

    def __enter__(self) -> SpikeMonitor:
        for w in self.layers:
            mod = self.net.module_at(w.path)
            self._hooks.append(mod.register_forward_hook(self._hook(w.path, len(w.shape))))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def rates(self) -> dict[str, float]:
        """Mean firing rate per layer: spikes per neuron per time step."""
        return {p: (self.spikes[p] / self.count[p] if self.count[p] else 0.0) for p in self.spikes}

    def rates_per_step(self) -> dict[str, list[float]]:
        return {p: (self.step_spikes[p] / self.step_count[p].clamp(min=1)).tolist() for p in self.spikes}

    def overall_rate(self) -> float:
        """Spikes per neuron per step over all watched layers together."""
        n = sum(self.count.values())
        return sum(self.spikes.values()) / n if n else 0.0

    def train_of(self, path: str) -> torch.Tensor:
        """The recorded spike train of a layer as ``[T, N, neurons]``."""
        parts = self.trains[path]
        if not parts:
            return torch.zeros(self.T, 0, 0)
        if parts[0].shape[0] == self.T:
            return torch.cat(parts, dim=1)
        return torch.cat(parts, dim=0)  # step loop: one [1, N, F] per step
