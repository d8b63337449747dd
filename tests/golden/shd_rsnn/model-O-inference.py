# Compiled by snndsl 0.1.0 from 'examples/shd_rsnn.snn', model SHDRSNN.
# Generated code: edit the .snn file and recompile rather than editing this file.
from torch import nn

from snndsl.runtime import neuron, recurrent, surrogate
from snndsl.runtime.model import Block, CompiledModule


# parameters: n_in=700, hidden=256, classes=20
class SHDRSNN(CompiledModule):
    """The spiking network `SHDRSNN`: call it on [T, N, ...] (multi-step) or [N, ...] (single-step)."""

    def __init__(self, step_mode: str = "m", carry_state: bool = False):
        super().__init__(step_mode, carry_state)
        # rsnn: block RecurrentLIF(n_in=700, n=256)
        self.rsnn = Block('RecurrentLIF')
        self.rsnn.fc = nn.Linear(700, 256)
        self.rsnn.rec = nn.Linear(256, 256, bias=False)
        self.rsnn.sn = neuron.LIFNode(tau=20.0, decay_input=False, surrogate_function=surrogate.SuperSpike())
        self.readout = nn.Linear(256, 20, bias=False)
        self.li = neuron.NonSpikingLIFNode(tau=20.0)

    def multi_step_forward(self, spikes, T: int | None = None):
        """Inputs spikes: [T, N, 700]."""
        self.check_input('spikes', spikes, (700,), static=False)
        T, N = spikes.shape[:2]
        # region0 (batched over T*N): rsnn.fc
        spikes_flat = spikes.flatten(0, 1)
        rsnn_fc = self.rsnn.fc(spikes_flat)
        # rsnn.sn: recurrent layer (rsnn.rec reads its spikes one step later), one fused operation over T
        rsnn_sn = recurrent.recurrent_neuron(
            rsnn_fc.unflatten(0, (T, N)), self.rsnn.rec.weight, self.rsnn.rec.bias, self.rsnn.sn,
            self.last_feedback('rsnn.prev_s_0', (N, 256)))
        self.store_feedback('rsnn.prev_s_0', rsnn_sn[-1])
        # region1 (batched over T*N): readout
        rsnn_sn_flat = rsnn_sn.flatten(0, 1)
        readout = self.readout(rsnn_sn_flat)
        li = self.li(readout.unflatten(0, (T, N)))
        return li

    def single_step_forward(self, spikes):
        """One time step: inputs spikes: [N, 700]."""
        self.check_input('spikes', spikes, (700,), static=False)
        # region0: rsnn.fc
        rsnn_fc = self.rsnn.fc(spikes)
        rsnn_sn = self.rsnn.sn(rsnn_fc + self.rsnn.rec(self.feedback('rsnn.prev_s_0', spikes, (spikes.shape[0], 256))))
        # region1: readout
        readout = self.readout(rsnn_sn)
        li = self.li(readout)
        self.store_feedback('rsnn.prev_s_0', rsnn_sn)
        return li
